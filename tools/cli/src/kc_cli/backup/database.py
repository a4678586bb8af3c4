"""The database's side of a backup: SQLite's online copy, ``pg_dump``/``pg_restore`` found and run, what
a PostgreSQL database holds (and that a restore's target holds nothing).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from kc_cli.backup.parts import BackupError


def copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy while services write (WAL or not)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


def pg_tool(name: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if found is None:
        raise BackupError(
            f"không tìm thấy {name} (gói postgresql-client) / {name} not found (install postgresql-client)"
        )
    return found


def run_tool(argv: list[str], what: str) -> str:
    result = subprocess.run(
        argv, capture_output=True, text=True, check=False, env=os.environ | {"PGCONNECT_TIMEOUT": "10"}
    )
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise BackupError(f"{what}: {lines[-1] if lines else f'exit {result.returncode}'}")
    return result.stdout


def pg_describe(dsn: str) -> dict[str, Any]:
    """The server's version and, per schema, the number of tables (what a restore must find again)."""
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            rows = conn.execute(
                "SELECT table_schema, count(*) FROM information_schema.tables"
                " WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'"
                " GROUP BY table_schema ORDER BY table_schema"
            ).fetchall()
    except psycopg.Error as exc:
        raise BackupError(f"PostgreSQL không trả lời / does not answer: {str(exc).strip().splitlines()[0]}") from exc
    return {"server_version": version[0] if version else "?", "tables": {str(s): int(n) for s, n in rows}}


def safe_dsn(dsn: str) -> str:
    """The DSN without its password (for the manifest and the screen)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


def pg_empty(dsn: str) -> None:
    tables = pg_describe(dsn)["tables"]
    if tables:
        raise BackupError(
            f"cơ sở dữ liệu đích không trống ({', '.join(sorted(tables))}) / the target database is not empty: "
            "khôi phục vào một cơ sở dữ liệu mới / restore into a new database"
        )
