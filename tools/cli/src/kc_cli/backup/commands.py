"""``kc backup`` and ``kc restore``: where an instance is, what a restore writes where, the options and the
commands (see :mod:`kc_cli.backup`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from kc_contracts.integrity import TrustStore
from kc_runtime.bus.streamaudit import AuditError
from rich.table import Table

from kc_cli.audit.bus import nats_url_of
from kc_cli.audit.local import checked_instance
from kc_cli.audit.render import console
from kc_cli.backup.database import copy_sqlite, pg_describe, pg_empty, pg_tool, run_tool, safe_dsn
from kc_cli.backup.manifest import check_backup, is_tarball, make_backup, opened, write_tarball
from kc_cli.backup.parts import CREDENTIALS, PG_DUMP, STREAM, TRUST, BackupError, fail
from kc_cli.backup.stream import republish, stream_plan

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
