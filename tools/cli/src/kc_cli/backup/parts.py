"""A backup's names and parts: the format, the file names, the errors (and their exit codes), hashing
and the files a folder holds.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NoReturn

import typer
from kc_runtime.bus.streamaudit import AuditError

FORMAT = "khuyencong-backup/1"
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
PG_DUMP = "database/postgresql.dump"
STREAM = "stream"
TRUST = "trust.json"
CREDENTIALS = "nats-credentials.json"
SQLITE_SIDE = ("-wal", "-shm", "-journal")
WINDOW = 1000  # messages published ahead of their acks
PUBLISH_TIMEOUT_S = 30.0


class BackupError(Exception):
    """Could not run (exit 2)."""

    code = 2


class TamperedError(BackupError):
    """The backup does not verify (exit 1)."""

    code = 1


def fail(exc: BackupError | AuditError) -> NoReturn:
    typer.echo(f"lỗi / error: {exc}", err=True)
    raise typer.Exit(getattr(exc, "code", 2))


# -- parts -------------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())


def is_sqlite(path: Path) -> bool:
    return path.suffix == ".sqlite"


def is_sqlite_side(path: Path) -> bool:
    return any(path.name.endswith(".sqlite" + side) for side in SQLITE_SIDE)
