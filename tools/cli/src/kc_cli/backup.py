"""``kc backup`` / ``kc restore``: an instance's database, keys, files and a verified export of its stream
in one folder (or tarball) with a signed manifest, and back onto a fresh database or machine.

A backup holds:

- ``database/postgresql.dump``: the instance's PostgreSQL database (``KC_DATABASE_URL``), by
  ``pg_dump --format=custom`` (every service's schema: events, tracking, views, outbox chain);
- ``database/<name>.sqlite``: each SQLite file under ``<var>/<instance>/`` (the services' stores when
  there is no PostgreSQL, the console's accounts always), copied with SQLite's online backup API;
- ``files/…``: the other files under ``<var>/<instance>/`` (a đề án's documents, the registry's
  documents, the mail sink), byte for byte;
- ``keys/<instance>.key`` (mode 0600) and ``keys/trust.json``;
- ``stream/``: an audit bundle of the instance's stream (:mod:`kc_cli.audit.bundle`), read by the one
  JetStream reader and verified as it is read, then verified again from the files written;
- ``manifest.json``: the SHA-256 and size of every part, the stream's counts and chain heads, the
  database's versions; ``manifest.sig``: the manifest signed with the instance's key.

The stream is exported after the database is dumped, so it holds at least every event the dumped
outbox relays had published (an event saved but not yet published is in the dump; the relay publishes
it after the restore, under the same message id).

``kc restore`` checks everything before it writes anything: every part against the manifest (a file
changed, missing or added is refused in one line, exit 1), the manifest's signature against the trust
file (the backup's own, or ``--trust``), the stream bundle event by event; then that the target database
is empty, no file would be overwritten and the bus holds nothing else under the instance's stream. It
then writes the keys, the SQLite files and files, restores the dump with ``pg_restore`` in one
transaction and, given a bus, republishes the stream's exact bytes in order (the same sequence numbers,
the same message ids) — on a bus that still holds them, nothing is published.

Exit codes: 0 done, 1 the backup does not verify (tampered, incomplete) or the stream failed
verification at backup time, 2 could not run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from kc_contracts.integrity import IntegrityError, TrustStore, canonical, message_id
from kc_contracts.subjects import stream_name
from kc_runtime.bus.streamaudit import Audit, AuditError
from rich.table import Table

from kc_cli.audit.bundle import EVENTS, INDEX, verify_bundle
from kc_cli.audit.bus import nats_url_of
from kc_cli.audit.commands import write_bundle
from kc_cli.audit.local import checked_instance, load_trust
from kc_cli.audit.render import console

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


# -- where an instance is ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    """An instance's database, data folder, keys, trust file, bus and NATS credentials file: from the
    options, else from its instance file (``kc instance``'s ``deploy/instance/<id>.toml``), else defaults."""

    instance: str | None
    database_url: str | None
    var_dir: Path
    keys_dir: Path
    trust: Path
    nats_url: str | None
    credentials: Path | None = None


def where(
    config: Path | None,
    instance: str | None,
    database_url: str | None,
    var_dir: Path | None,
    keys_dir: Path | None,
    trust: Path | None,
    nats_url: str | None,
) -> Where:
    if config is None:
        var = var_dir or Path("var")
        keys = keys_dir or var / "keys"
        return Where(instance, database_url, var, keys, trust or keys / TRUST, nats_url)
    from kc_ops import instance as inst
    from kc_ops.natsconfig import Credentials

    try:
        cfg = inst.load(config)
    except inst.InstanceConfigError as exc:
        raise BackupError(str(exc)) from None
    if instance and instance != cfg.id:
        raise BackupError(f"--instance {instance} khác tệp cấu hình ({cfg.id}) / differs from {config}")
    url = nats_url
    if url is None:
        url = f"nats://127.0.0.1:{cfg.nats_port}"
        if cfg.credentials.exists():
            try:
                url = Credentials(cfg.credentials).url(url, cfg.id)
            except (KeyError, ValueError) as exc:
                raise BackupError(f"mật khẩu NATS / NATS credentials: {exc}") from None
    return Where(
        cfg.id,
        database_url or cfg.database_url,
        var_dir or cfg.data_dir,
        keys_dir or cfg.keys_dir,
        trust or cfg.trust_file,
        url,
        cfg.credentials,
    )


# -- backup ------------------------------------------------------------------------------------------


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


def pg_empty(dsn: str) -> None:
    tables = pg_describe(dsn)["tables"]
    if tables:
        raise BackupError(
            f"cơ sở dữ liệu đích không trống ({', '.join(sorted(tables))}) / the target database is not empty: "
            "khôi phục vào một cơ sở dữ liệu mới / restore into a new database"
        )


async def stream_plan(url: str, instance: str, root: Path) -> tuple[int, int]:
    """(messages already on the bus as backed up, messages to publish); refuses a bus whose stream holds
    anything else."""
    from kc_runtime.bus.reader import read_stream
    from kc_runtime.bus.streamaudit import connect
    from nats.js.errors import NotFoundError

    index = [json.loads(line) for line in (root / STREAM / INDEX).read_text(encoding="utf-8").splitlines()]
    nc = await connect(url)
    try:
        js = nc.jetstream()
        name = stream_name(instance)
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            return 0, len(index)
        last = int(info.state.last_seq)
        if last == 0:
            return 0, len(index)
        expected = {int(e["seq"]): e["sha256"] for e in index}
        same = 0
        async for chunk in read_stream(nc, js, name, until_seq=last, batch=5000, purpose="restore"):
            for msg in chunk:
                if expected.get(msg.seq) != "sha256:" + hashlib.sha256(msg.data).hexdigest():
                    raise BackupError(
                        f"luồng {name} trên bus đã có thông điệp #{msg.seq} khác bản sao lưu / the bus's stream "
                        f"holds #{msg.seq}, not in the backup: khôi phục vào một bus mới / restore onto a new bus"
                    )
                same += 1
        return same, len(index) - same
    finally:
        with contextlib.suppress(Exception):
            await nc.close()


async def republish(url: str, instance: str, root: Path, skip: int) -> tuple[int, int]:
    """The stream's exact bytes, in order, each under its message id, ``skip`` lines already on the bus:
    (messages published, of which stored under another sequence number than they had). Each expects the
    stream's last sequence (``Nats-Expected-Last-Sequence``): nobody else writes in between, and on a
    stream that had no gap every message keeps its number, so the consumers' tracking still holds.
    Published ``WINDOW`` at a time ahead of their acks; a restore stopped half-way resumes (the messages
    already on the bus are skipped)."""
    from kc_runtime.bus.streamaudit import connect
    from kc_runtime.bus.streams import StreamPlan, ensure_streams

    nc = await connect(url)
    published = renumbered = 0
    pending: deque[tuple[int, int, asyncio.Future[Any]]] = deque()
    seen: set[str] = set()

    async def settle(original: int, expected: int, future: asyncio.Future[Any]) -> None:
        nonlocal published, renumbered
        ack = await asyncio.wait_for(future, PUBLISH_TIMEOUT_S)
        if int(ack.seq) != expected:
            raise BackupError(f"#{original} được lưu thành #{ack.seq} / stored as #{ack.seq}, not #{expected}")
        published += 1
        renumbered += int(ack.seq) != original

    try:
        js = nc.jetstream()
        await ensure_streams(js, StreamPlan((instance,)))
        last = int((await js.stream_info(stream_name(instance))).state.last_seq)
        with (root / STREAM / EVENTS).open("rb") as events, (root / STREAM / INDEX).open("rb") as index:
            for n, (raw, entry_line) in enumerate(zip(events, index, strict=True)):
                if n < skip:
                    continue
                entry = json.loads(entry_line)
                data = raw.rstrip(b"\n")
                headers = {"Content-Type": "application/cloudevents+json", "Nats-Expected-Last-Sequence": str(last)}
                msg_id = message_id(data)
                if msg_id not in seen:  # a byte-identical copy the stream kept (past its duplicate window)
                    headers["Nats-Msg-Id"] = msg_id  # is stored again, not dropped as a duplicate
                    seen.add(msg_id)
                future = await js.publish_async(str(entry["subject"]), data, headers=headers, wait_stall=30)
                last += 1
                pending.append((int(entry["seq"]), last, future))
                while len(pending) > WINDOW:
                    await settle(*pending.popleft())
            while pending:
                await settle(*pending.popleft())
    except BackupError:
        raise
    except Exception as exc:
        raise BackupError(
            f"không phát lại được luồng (chạy lại để tiếp tục) / cannot republish the stream (run again to "
            f"resume): {exc or type(exc).__name__}"
        ) from exc
    finally:
        for _, _, future in pending:
            future.cancel()
        with contextlib.suppress(Exception):
            await nc.close()
    return published, renumbered


def restore_files(
    root: Path, manifest: dict[str, Any], var_dir: Path, keys_dir: Path, credentials: Path | None = None
) -> list[tuple[Path, Path]]:
    """What will be written where (source in the backup, target), refusing any target that exists and
    differs (a private key) or exists at all (data)."""
    instance = manifest["instance"]
    plan: list[tuple[Path, Path]] = []
    for rel in sorted(manifest["parts"]):
        source = root / rel
        if rel.startswith("database/") and rel.endswith(".sqlite"):
            target = var_dir / instance / rel.removeprefix("database/")
        elif rel.startswith("files/"):
            target = var_dir / instance / rel.removeprefix("files/")
        elif (rel.startswith("keys/") and rel.endswith(".key")) or (rel == f"keys/{CREDENTIALS}" and credentials):
            target = credentials if rel == f"keys/{CREDENTIALS}" and credentials else keys_dir / Path(rel).name
            if target.exists() and target.read_bytes() != source.read_bytes():
                raise BackupError(f"{target} đã có, khác bản sao lưu / already holds another key or password")
        else:
            continue
        if target.exists() and not rel.startswith("keys/"):
            raise BackupError(f"{target} đã có, không ghi đè / exists, not overwritten: khôi phục vào thư mục mới")
        plan.append((source, target))
    return plan


def merge_trust(source: Path, target: Path) -> int:
    """The backup's trusted keys added to the target's trust file (created if absent): how many were new."""
    mine = TrustStore.load(target)
    added = 0
    for keys in TrustStore.load(source).keys.values():
        for key in keys:
            if mine.find(key.instance, key.key_id) is None:
                mine.add(key)
                added += 1
    if added or not target.exists():
        mine.save(target)
    return added


# -- the commands ------------------------------------------------------------------------------------

InstanceOpt = Annotated[
    str | None, typer.Option("--instance", "-i", envvar="KC_INSTANCE", help="bo | tinh-<mã tỉnh> (KC_INSTANCE)")
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="tệp cấu hình instance (deploy/instance/tinh-40.toml): cơ sở dữ liệu, thư mục dữ liệu, khóa, NATS / "
        "the instance file (kc instance); options given override it",
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="KC_DATABASE_URL",
        help="PostgreSQL của instance (KC_DATABASE_URL); bỏ trống: SQLite trong <var> / the instance's database",
    ),
]
VarDir = Annotated[
    Path | None,
    typer.Option("--var-dir", envvar="KC_VAR_DIR", help="thư mục dữ liệu (KC_VAR_DIR; mặc định var) / data folder"),
]
KeysDirOpt = Annotated[
    Path | None,
    typer.Option("--keys-dir", envvar="KC_KEYS_DIR", help="thư mục khóa (mặc định <var>/keys) / keys folder"),
]
NatsUrlOpt = Annotated[
    str | None,
    typer.Option("--nats-url", help="máy chủ NATS (mặc định: trong --run-file) / NATS server"),
]
RunFileOpt = Annotated[Path, typer.Option("--run-file", help="tệp do make run ghi / written by make run")]
TrustOpt = Annotated[
    Path | None,
    typer.Option("--trust", help="tệp khóa công khai tin cậy / trust file (mặc định <keys>/trust.json)"),
]


def size(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e6 else f"{n:,} B"


def backup(
    out: Annotated[Path, typer.Option("--out", "-o", help="thư mục mới, hoặc tệp .tar.gz / new folder or .tar.gz")],
    config: ConfigOpt = None,
    instance: InstanceOpt = None,
    database_url: DatabaseUrl = None,
    var_dir: VarDir = None,
    keys_dir: KeysDirOpt = None,
    nats_url: NatsUrlOpt = None,
    run_file: RunFileOpt = Path("var/run.json"),
    trust: TrustOpt = None,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="số thông điệp mỗi lần kéo / per pull")] = 5000,
) -> None:
    """Sao lưu một instance: cơ sở dữ liệu, khóa ký, tệp, và luồng sự kiện đã xác minh, kèm manifest có ký.

    Back up an instance: its database (pg_dump, or SQLite's backup), its signing key (kept 0600), its
    files and a verified export of its stream, with a manifest of every part's SHA-256 signed with the
    instance's key. Check and restore it with `kc restore`. Exit 1 if the stream failed verification
    (the backup is still written, as evidence).
    """
    began = time.perf_counter()
    try:
        at = where(config, instance, database_url, var_dir, keys_dir, trust, nats_url)
        if not at.instance:
            raise BackupError("cần --instance hoặc --config / give --instance or --config")
        name = checked_instance(at.instance)
        url = at.nats_url or nats_url_of(None, run_file)
        if out.exists():
            raise BackupError(f"{out} đã có / exists: chọn tên mới / choose a new name")
        tarball = is_tarball(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent)) if tarball else out
        if not tarball:
            out.mkdir(mode=0o700)
        try:
            folder.chmod(0o700)  # it holds the private key
            manifest, audit = make_backup(
                folder, name, at.database_url, at.var_dir, at.keys_dir, url, at.trust, batch, at.credentials
            )
            if tarball:
                write_tarball(folder, out)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            if tarball:
                out.unlink(missing_ok=True)
            raise
        if tarball:
            shutil.rmtree(folder, ignore_errors=True)
    except (BackupError, AuditError) as exc:
        fail(exc)
    except OSError as exc:
        fail(BackupError(f"không ghi được bản sao lưu / cannot write the backup: {exc}"))
    total = out.stat().st_size if tarball else sum(p["bytes"] for p in manifest["parts"].values())
    table = Table(show_header=False, title=f"Sao lưu / backup — {name}", title_justify="left")
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("bản sao lưu / backup", f"{out} ({size(total)})")
    db = manifest["database"]
    if "postgresql" in db:
        pg = db["postgresql"]
        tables = sum(pg["tables"].values())
        table.add_row(
            "PostgreSQL", f"{pg['url']}: {len(pg['tables'])} schema, {tables} bảng / tables ({pg['seconds']:.1f} s)"
        )
    if db["sqlite"]:
        table.add_row("SQLite", ", ".join(db["sqlite"]))
    files = [r for r in manifest["parts"] if r.startswith("files/")]
    table.add_row("tệp / files", str(len(files)))
    table.add_row("khóa / key", f"{manifest['keys']['signing_key']} (0600) {manifest['keys']['key_id']}")
    stream = manifest["stream"]
    table.add_row("luồng / stream", f"{stream['name']}: {stream['messages']:,} thông điệp / messages")
    table.add_row("events.jsonl", stream["events_sha256"])
    table.add_row("thời gian / took", f"{time.perf_counter() - began:.1f} s")
    console.print(table)
    if audit.failures:
        console.print(
            f"[bold red]✘ luồng có {len(audit.failures)} lỗi xác minh, giữ nguyên làm bằng chứng / the stream has "
            f"{len(audit.failures)} verification failures, kept as evidence:[/] "
            f"kc audit verify --bundle {out}/{STREAM}",
            soft_wrap=True,
        )
        raise typer.Exit(1)
    console.print(f"✔ Đã sao lưu và xác minh / backed up and verified. Khôi phục / restore: kc restore {out} …")


def restore(
    source: Annotated[Path, typer.Argument(help="thư mục hoặc tệp .tar.gz do kc backup ghi / a kc backup")],
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="KC_DATABASE_URL",
            help="cơ sở dữ liệu PostgreSQL mới, trống (KC_DATABASE_URL) / a new, empty database",
        ),
    ] = None,
    config: ConfigOpt = None,
    var_dir: VarDir = None,
    keys_dir: KeysDirOpt = None,
    nats_url: Annotated[
        str | None,
        typer.Option(
            "--nats-url",
            help="bus để phát lại luồng; bỏ trống: không phát lại / the bus to republish the stream to",
        ),
    ] = None,
    trust: TrustOpt = None,
    check_only: Annotated[
        bool, typer.Option("--check", help="chỉ kiểm tra bản sao lưu, không ghi gì / only check, write nothing")
    ] = False,
) -> None:
    """Khôi phục một instance từ bản sao lưu vào cơ sở dữ liệu mới (trống), thư mục mới và bus.

    Restore an instance from a backup onto a new (empty) database, data folder and bus. Everything is
    checked first: a part changed, missing or added, or a bad signature, is refused in one line (exit 1)
    and nothing is written. With --config the database, folders and bus are the instance file's;
    without a bus (--nats-url) the stream is not republished (the bus still holds it).
    Then: start the services, rebuild the views (POST /views/rebuild on planning, or
    `python -m kc_planning.rebuild`) and run `kc audit verify`.
    """
    began = time.perf_counter()
    try:
        with opened(source) as root:
            manifest, _ = check_backup(root, trust)
            checked_s = time.perf_counter() - began
            name = manifest["instance"]
            at = where(config, name, database_url, var_dir, keys_dir, None, nats_url)
            stream = manifest["stream"]
            if check_only:
                console.print(
                    f"✔ Bản sao lưu nguyên vẹn / the backup verifies: {name}, {len(manifest['parts'])} phần / parts, "
                    f"{stream['messages']:,} thông điệp / messages"
                )
                return
            keys, database_url, nats_url = at.keys_dir, at.database_url, at.nats_url
            pg = manifest["database"].get("postgresql")
            if pg and not database_url:
                raise BackupError("bản sao lưu có PostgreSQL: cần --database-url / the backup holds PostgreSQL")
            if database_url and not pg:
                raise BackupError("bản sao lưu không có PostgreSQL (chỉ SQLite) / the backup has no PostgreSQL dump")
            # every check before anything is written
            plan = restore_files(root, manifest, at.var_dir, keys, at.credentials)
            if pg and database_url:
                pg_empty(database_url)
            on_bus, to_publish = (0, 0)
            if nats_url:
                on_bus, to_publish = asyncio.run(stream_plan(nats_url, name, root))
            # now write
            for src, target in plan:
                private = src.suffix == ".key" or src.name == CREDENTIALS
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700 if private else 0o777)
                if src.suffix == ".sqlite":
                    copy_sqlite(src, target)
                elif src.suffix == ".key" or src.name == CREDENTIALS:
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    with os.fdopen(fd, "wb") as f:
                        f.write(src.read_bytes())
                    target.chmod(0o600)
                else:
                    shutil.copy2(src, target)
            trusted = merge_trust(root / "keys" / TRUST, at.trust)
            pg_seconds = 0.0
            if pg and database_url:
                t = time.perf_counter()
                run_tool(
                    [
                        pg_tool("pg_restore"),
                        "--no-owner",
                        "--no-acl",
                        "--exit-on-error",
                        "--single-transaction",
                        f"--dbname={database_url}",
                        str(root / PG_DUMP),
                    ],
                    "pg_restore",
                )
                pg_seconds = time.perf_counter() - t
                found = pg_describe(database_url)["tables"]
                if found != pg["tables"]:
                    raise BackupError(f"pg_restore: bảng khác bản sao lưu / tables differ: {found} ≠ {pg['tables']}")
            t = time.perf_counter()
            published, renumbered = (
                asyncio.run(republish(nats_url, name, root, on_bus)) if nats_url and to_publish else (0, 0)
            )
            publish_s = time.perf_counter() - t
    except (BackupError, AuditError) as exc:
        fail(exc)
    except OSError as exc:
        fail(BackupError(f"không ghi được / cannot write: {exc}"))
    table = Table(show_header=False, title=f"Khôi phục / restore — {name}", title_justify="left")
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("bản sao lưu / backup", f"{source} ({manifest['created_at']})")
    if pg and database_url:
        table.add_row("PostgreSQL", f"{safe_dsn(database_url)}: {sum(pg['tables'].values())} bảng ({pg_seconds:.1f} s)")
    table.add_row("tệp / files", f"{len(plan)} → {at.var_dir / name}, {keys}")
    table.add_row("khóa tin cậy mới / trusted keys added", str(trusted))
    if nats_url:
        table.add_row(
            "luồng / stream",
            f"{stream['name']}: {published:,} phát lại / republished ({publish_s:.1f} s), "
            f"{on_bus:,} đã có / already on the bus"
            + (f", {renumbered:,} số thứ tự khác (luồng cũ có khoảng trống) / renumbered" if renumbered else ""),
        )
    else:
        table.add_row("luồng / stream", "không phát lại (không có --nats-url) / not republished (no --nats-url)")
    table.add_row(
        "kiểm tra / checked", f"{checked_s:.1f} s (mọi phần, chữ ký, từng sự kiện / every part, signature, event)"
    )
    table.add_row("thời gian / took", f"{time.perf_counter() - began:.1f} s")
    console.print(table)
    console.print(
        "✔ Đã khôi phục / restored. Tiếp theo / next: khởi động dịch vụ, dựng lại báo cáo (POST /views/rebuild), "
        f"kc audit verify -i {name}",
        soft_wrap=True,
    )
