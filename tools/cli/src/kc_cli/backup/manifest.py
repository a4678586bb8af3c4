"""A backup written and checked: its parts copied, the stream exported, the manifest of every part signed,
the tarball; and on restore, every part against the signed manifest and the stream bundle verified.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import tarfile
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kc_contracts.integrity import IntegrityError, TrustStore, canonical
from kc_runtime.bus.streamaudit import Audit

from kc_cli.audit.bundle import EVENTS, INDEX, verify_bundle
from kc_cli.audit.commands import write_bundle
from kc_cli.audit.local import checked_instance, load_trust
from kc_cli.backup.database import copy_sqlite, pg_describe, pg_tool, run_tool, safe_dsn
from kc_cli.backup.parts import (
    CREDENTIALS,
    FORMAT,
    MANIFEST,
    PG_DUMP,
    SIGNATURE,
    STREAM,
    TRUST,
    BackupError,
    TamperedError,
    files_under,
    is_sqlite,
    is_sqlite_side,
    sha256_file,
)


def is_tarball(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz", ".tar"))


def make_backup(
    out: Path,
    instance: str,
    database_url: str | None,
    var_dir: Path,
    keys_dir: Path,
    nats_url: str,
    trust_path: Path,
    batch: int,
    credentials: Path | None = None,
) -> tuple[dict[str, Any], Audit]:
    """Write the backup's parts and manifest into ``out`` (an empty folder): the manifest and the audit of
    the stream as it was read."""
    key = keys_dir / f"{instance}.key"
    if not key.is_file():
        raise BackupError(f"không có khóa ký của {instance} / no signing key: {key} (--keys-dir)")
    started = datetime.now(UTC)
    database: dict[str, Any] = {"sqlite": []}
    # 1. the database first: the stream read after it holds every event its relays had published
    if database_url:
        described = pg_describe(database_url)
        (out / "database").mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        run_tool(
            [pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-acl", f"--file={out / PG_DUMP}", database_url],
            "pg_dump",
        )
        version = run_tool([pg_tool("pg_dump"), "--version"], "pg_dump").strip()
        database |= {
            "postgresql": {
                "url": safe_dsn(database_url),
                "dump": PG_DUMP,
                "pg_dump": version,
                "seconds": round(time.perf_counter() - began, 3),
                **described,
            }
        }
    data = var_dir / instance
    if data.is_dir():
        for path in files_under(data):
            rel = path.relative_to(data)
            if is_sqlite(path):
                copy_sqlite(path, out / "database" / rel)
                database["sqlite"].append(str(rel))
            elif not is_sqlite_side(path) and not path.is_symlink():
                target = out / "files" / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    if not database_url and not database["sqlite"]:
        raise BackupError(
            f"không có cơ sở dữ liệu: không --database-url và không có tệp SQLite trong {data} / "
            "no database: no --database-url and no SQLite file"
        )
    # 2. the keys (private: 0600)
    (out / "keys").mkdir(mode=0o700)
    shutil.copyfile(key, out / "keys" / key.name)
    (out / "keys" / key.name).chmod(0o600)
    if not trust_path.is_file():
        raise BackupError(f"không có tệp tin cậy / no trust file: {trust_path} (--trust)")
    shutil.copyfile(trust_path, out / "keys" / TRUST)
    if credentials is not None and credentials.is_file():  # the bus's password the ministry handed over
        shutil.copyfile(credentials, out / "keys" / CREDENTIALS)
        (out / "keys" / CREDENTIALS).chmod(0o600)
    # 3. the stream, verified as it is read, then from the files written
    audit, state, bundle_manifest, signature, rewritten = write_bundle(
        out / STREAM, instance, nats_url, trust_path, keys_dir, batch
    )
    if signature is None:
        raise BackupError(f"không ký được manifest của luồng / cannot sign the stream's manifest with {key}")
    written = lines_written(out / STREAM)
    if written != audit.messages:
        raise BackupError(
            f"gói luồng đã ghi không khớp luồng đã đọc ({written} ≠ {audit.messages} dòng) / "
            "the written stream differs from what was read"
        )
    # 4. the manifest of every part, signed
    parts: dict[str, dict[str, Any]] = {}
    for path in files_under(out):
        name = path.relative_to(out).as_posix()
        part: dict[str, Any] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        if name.startswith("keys/") and name != f"keys/{TRUST}":
            part["mode"] = "0600"
        parts[name] = part
    manifest = {
        "format": FORMAT,
        "instance": instance,
        "created_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "created_by": "kc backup",
        "host": socket.gethostname(),
        "database": database,
        "keys": {
            "signing_key": f"keys/{key.name}",
            "key_id": signature["key_id"],
            "trust": f"keys/{TRUST}",
            **({"nats_credentials": f"keys/{CREDENTIALS}"} if (out / "keys" / CREDENTIALS).exists() else {}),
        },
        "stream": {
            "name": state.name,
            "folder": STREAM,
            "messages": audit.messages,
            "first_seq": audit.first_seq,
            "last_seq": audit.last_seq,
            "missing_seqs": audit.missing_seqs,
            "rewritten_lines": rewritten,
            "failures": len(audit.failures),
            "events_sha256": parts[f"{STREAM}/{EVENTS}"]["sha256"],
            "publishers": bundle_manifest["publishers"],
        },
        "parts": parts,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    signed = sign(manifest, keys_dir, instance)
    (out / SIGNATURE).write_text(json.dumps(signed, indent=2) + "\n", encoding="utf-8")
    return manifest, audit


def lines_written(bundle: Path) -> int:
    """The lines of ``events.jsonl`` whose bytes hash as the index recorded when they were read (and
    verified): what is on disk is what was verified, without checking every signature a second time."""
    good = 0
    with (bundle / EVENTS).open("rb") as events, (bundle / INDEX).open("rb") as index:
        for raw, entry in zip(events, index, strict=False):
            if "sha256:" + hashlib.sha256(raw.rstrip(b"\n")).hexdigest() == json.loads(entry).get("sha256"):
                good += 1
    return good


def sign(manifest: dict[str, Any], keys_dir: Path, instance: str) -> dict[str, str]:
    from kc_runtime.keys import MissingKeyError, key_file, load_signer

    try:
        signer = load_signer(key_file(keys_dir, instance), instance)
    except (MissingKeyError, OSError, ValueError, KeyError) as exc:
        raise BackupError(f"không đọc được khóa ký / cannot read the signing key: {exc}") from exc
    return {"instance": instance, "key_id": signer.key_id, "signature": signer.sign_bytes(canonical(manifest))}


def write_tarball(folder: Path, target: Path) -> None:
    mode = "w:gz" if target.name.endswith((".gz", ".tgz")) else "w"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds the private key
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode=mode) as tar:  # type: ignore[call-overload]
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)


# -- restore -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def opened(backup: Path) -> Iterator[Path]:
    """The backup's folder: itself, or a tarball unpacked into a private temporary folder."""
    if backup.is_dir():
        yield backup
        return
    if not backup.is_file():
        raise BackupError(f"không có bản sao lưu / no backup at {backup}")
    with tempfile.TemporaryDirectory(prefix="kc-restore-") as tmp:
        try:
            with tarfile.open(backup) as tar:
                tar.extractall(tmp, filter="data")  # no absolute paths, no '..', no devices, no links out
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise TamperedError(f"{backup}: tệp nén hỏng / unreadable archive: {exc}") from exc
        yield Path(tmp)


def check_backup(root: Path, trust_path: Path | None) -> tuple[dict[str, Any], TrustStore]:
    """Everything in ``root`` is what the signed manifest lists, byte for byte; the stream verifies."""
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TamperedError(f"{root} không phải bản sao lưu (thiếu {MANIFEST}) / not a backup") from exc
    except (OSError, ValueError) as exc:
        raise TamperedError(f"{MANIFEST} hỏng / unreadable: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise TamperedError(f"{MANIFEST}: định dạng không biết / unknown format (expected {FORMAT})")
    parts: dict[str, Any] = manifest.get("parts") or {}
    present = {p.relative_to(root).as_posix() for p in files_under(root)} - {MANIFEST, SIGNATURE}
    if extra := sorted(present - set(parts)):
        raise TamperedError(
            f"bản sao lưu bị sửa: tệp lạ {extra[0]} / tampered backup: {extra[0]} is not in the manifest"
        )
    if missing := sorted(set(parts) - present):
        raise TamperedError(f"bản sao lưu thiếu {missing[0]} / incomplete backup: {missing[0]} is missing")
    for rel, part in sorted(parts.items()):
        if sha256_file(root / rel) != part.get("sha256"):
            raise TamperedError(f"bản sao lưu bị sửa: {rel} khác manifest / tampered backup: {rel} differs (sha256)")
    trust = load_trust(trust_path or root / "keys" / TRUST)
    instance = checked_instance(str(manifest.get("instance")))
    try:
        signed = json.loads((root / SIGNATURE).read_text(encoding="utf-8"))
        trust.verify_bytes(instance, canonical(manifest), str(signed["signature"]), str(signed["key_id"]))
    except FileNotFoundError as exc:
        raise TamperedError(f"bản sao lưu không ký (thiếu {SIGNATURE}) / unsigned backup") from exc
    except IntegrityError as exc:
        raise TamperedError(f"chữ ký manifest sai / bad manifest signature: {exc.message}") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TamperedError(f"{SIGNATURE} hỏng / unreadable: {exc}") from exc
    # the backup's trust file, not the bundle's: that holds only the keys that signed events (none, on an
    # empty stream), and the bundle's manifest is signed with the instance key all the same
    audit, _, _ = verify_bundle(root / STREAM, trust_path or root / "keys" / TRUST)
    stream = manifest.get("stream") or {}
    if len(audit.failures) != int(stream.get("failures") or 0) or audit.messages != stream.get("messages"):
        first = audit.failures[0].line() if audit.failures else f"{audit.messages} thông điệp / messages"
        raise TamperedError(f"luồng trong bản sao lưu không xác minh được / the stream does not verify: {first}")
    return manifest, trust
