"""``kc audit``: what an auditor runs — replay and verify an instance's whole bus log, export it as a
bundle that verifies offline, rebuild the planning views and compare digests, read a đề án's
timeline and a view as of a past date.

Verification (``verify``) is :mod:`kc_runtime.bus.streamaudit`'s (the console's Kiểm toán page runs the
same): every message of the instance's stream read in order, every signature checked against the
trust file and every hash link of every publisher's chain from #1, each envelope where it belongs
(its instance, its source, its subject), byte-identical republishes counted, not failed, and each
publisher's chain compared with the head the publishing service reports (an event missing at the tail).

An audit bundle (``export``) is a folder:

- ``events.jsonl``: one envelope per line, the bytes as stored on the bus (canonical JSON never holds
  a line break; a forged message that did would have its line breaks turned into spaces, which does
  not change its JSON, and is flagged in the index);
- ``index.jsonl``: line for line, the stream sequence, event id, source, type, chain position,
  subject, storage time and the SHA-256 of the line, so a changed byte is found and named by the
  event it belongs to;
- ``trust.json``: the public keys that signed the events (from the trust file used);
- ``manifest.json``: instance, stream, time of export, counts per publisher and per event type,
  first and last sequence, the SHA-256 of the other files, each publisher's chain head (hash and
  length) and the keys' fingerprints; ``manifest.sig``: the manifest signed with the instance's key
  when it is at hand (it guards against a bundle cut short, which the chains alone cannot show).

``verify --bundle`` needs no NATS. It trusts the bundle's own ``trust.json`` unless ``--trust`` names
an independent one (which an auditor should).

Exit codes: 0 verified / equal, 1 verification failed / digests differ, 2 could not run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from datetime import time as dtime
from itertools import zip_longest
from pathlib import Path
from typing import IO, Annotated, Any, NoReturn

import httpx
import typer
from kc_contracts.integrity import (
    IntegrityError,
    TrustStore,
    canonical,
)
from kc_contracts.subjects import check_instance, instance_subjects, stream_name
from kc_kernel.money import vnd
from kc_kernel.vocabulary import label
from kc_runtime.bus import streamaudit
from kc_runtime.bus.reader import Stored
from kc_runtime.bus.streamaudit import (
    Audit,
    AuditError,
    PublisherHead,
    StreamState,
    checked_head,
)
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from kc_cli import readable

audit_app = typer.Typer(
    help="Kiểm toán: xác minh chữ ký và chuỗi băm, xuất gói kiểm toán, dựng lại báo cáo, lịch sử đề án / "
    "audit: verify signatures and hash chains, export bundles, rebuild views, đề án timelines",
    no_args_is_help=True,
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

BUNDLE_FORMAT = "khuyencong-audit-bundle/1"
EVENTS, INDEX, TRUST, MANIFEST, MANIFEST_SIG = (
    "events.jsonl",
    "index.jsonl",
    "trust.json",
    "manifest.json",
    "manifest.sig",
)
EVERYTHING = "9999-12-31T23:59:59+00:00"  # an as-of rebuild that leaves nothing out: a rebuild into side tables
VIETNAM = timezone(timedelta(hours=7), "ICT")  # no daylight saving: a date means that day in Viet Nam

RunFile = Annotated[Path, typer.Option("--run-file", help="tệp do make run ghi / written by make run")]
Instance = Annotated[str, typer.Option("--instance", "-i", help="bo | tinh-<mã tỉnh> / instance")]
TrustOpt = Annotated[
    Path | None,
    typer.Option(
        "--trust",
        help="tệp khóa công khai tin cậy (mặc định <var>/keys/trust.json, hoặc trust.json của gói) / trust file",
    ),
]
NatsUrl = Annotated[
    str | None, typer.Option("--nats-url", help="máy chủ NATS (mặc định: trong --run-file) / NATS server")
]
KeysDir = Annotated[Path | None, typer.Option("--keys-dir", help="thư mục khóa (mặc định <var>/keys) / keys folder")]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="KC_TOKEN",
        help="mã truy cập; mặc định tạo mã kiem_toan bằng khóa của bo trong --keys-dir / bearer token",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="in JSON thay vì bảng / print JSON")]


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"lỗi / error: {message}", err=True)
    raise typer.Exit(code)


# -- where things are --------------------------------------------------------------------------------


def read_run_file(run_file: Path) -> dict[str, Any]:
    try:
        doc = json.loads(run_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AuditError(f"không đọc được {run_file}: chạy `make run` trước / run `make run` first ({exc})") from exc
    if not isinstance(doc, dict):
        raise AuditError(f"{run_file} không phải tệp make run / is not a run file")
    return doc


def nats_url_of(nats_url: str | None, run_file: Path) -> str:
    """``--nats-url``, or ``make run``'s bus logged in as the auditor (its password from the credentials
    file the run file names: the auditor's account reads every stream and publishes nothing)."""
    if nats_url:
        return nats_url
    run = read_run_file(run_file)
    url = run.get("nats")
    if not url:
        raise AuditError(f"{run_file} không ghi địa chỉ NATS / has no NATS URL: dùng --nats-url")
    if not run.get("nats_credentials"):
        return str(url)
    from kc_ops.natsconfig import AUDITOR, Credentials

    try:
        return Credentials(Path(str(run["nats_credentials"]))).url(str(url), AUDITOR)
    except (OSError, ValueError, KeyError) as exc:
        raise AuditError(f"không đọc được mật khẩu NATS của kiểm toán viên / no auditor credentials: {exc}") from exc


def keys_dir_of(keys_dir: Path | None, run_file: Path) -> Path:
    return keys_dir or run_file.parent / "keys"


def load_trust(path: Path) -> TrustStore:
    if not path.is_file():
        raise AuditError(f"không tìm thấy tệp tin cậy / trust file not found: {path} (--trust)")
    try:
        return TrustStore.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditError(f"tệp tin cậy hỏng / bad trust file {path}: {exc}") from exc


def checked_instance(instance: str) -> str:
    try:
        return check_instance(instance)
    except ValueError as exc:
        raise AuditError(str(exc)) from exc


def publisher_heads(run_file: Path, instance: str, trust: TrustStore, token: str | None) -> dict[str, PublisherHead]:
    """The chain heads of ``instance``'s publishing services, from the URLs ``make run`` wrote, each
    checked against the instance's key in the trust file. Taken before the stream is read, so every
    event they count must be in it. A service that publishes nothing (404) or is not an API (a
    console's redirect) has no head; one that does not answer stops the audit (``--no-heads`` skips)."""
    services = read_run_file(run_file).get("services")
    if not isinstance(services, dict):
        return {}
    mine = {k.split("/", 1)[1]: str(v) for k, v in services.items() if k.startswith(f"{instance}/")}
    if not mine:
        return {}
    heads: dict[str, PublisherHead] = {}
    with http(run_file, token, None) as client:
        for service, base in sorted(mine.items()):
            try:
                response = client.client.get(base + "/outbox/head", follow_redirects=False)
            except httpx.HTTPError as exc:
                raise AuditError(
                    f"{instance}/{service} không trả lời / does not answer ({exc}); "
                    "--no-heads bỏ qua so sánh đầu chuỗi / skips the head comparison"
                ) from exc
            if response.status_code == 404 or 300 <= response.status_code < 400:
                continue
            if response.status_code != 200:
                raise AuditError(f"{instance}/{service} /outbox/head: {response.status_code} {response.text[:200]}")
            try:
                doc = response.json()
            except ValueError as exc:
                raise AuditError(f"{instance}/{service} /outbox/head: không phải JSON / not JSON") from exc
            head = checked_head(doc, instance, service, trust)
            heads[head.source] = head
    return heads


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=not err_console.is_terminal,  # in a log, only the summary
    )


def _rate(done: int, began: float) -> str:
    elapsed = time.perf_counter() - began
    return f"{done / elapsed:,.0f} msg/s" if elapsed > 0 else ""


async def replay(
    url: str, instance: str, audit: Audit, *, batch: int, sink: Callable[[Stored], None] | None = None
) -> StreamState:
    """Read the instance's stream from NATS into ``audit`` (and ``sink``), with a progress bar."""
    began = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task(stream_name(instance), total=None, rate="")

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, rate=_rate(done, began) if done else "")

        return await streamaudit.replay(url, instance, audit, batch=batch, sink=sink, progress=tick)


# -- printing ----------------------------------------------------------------------------------------


def short(digest: str | None, n: int = 16) -> str:
    if not digest:
        return "—"
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:n]}…" if hexpart else digest[:n] + "…"


def print_summary(audit: Audit, title: str, facts: list[tuple[str, str]]) -> None:
    summary = Table(title=title, show_header=False, title_justify="left")
    summary.add_column("", style="bold")
    summary.add_column("")
    for name, value in facts:
        summary.add_row(name, value)
    summary.add_row("thông điệp / messages", f"{audit.messages:,}")
    if audit.messages:
        summary.add_row("số thứ tự / sequence", f"#{audit.first_seq} … #{audit.last_seq}")
    if audit.missing_seqs:
        summary.add_row("số thứ tự bị xóa / deleted", f"{audit.missing_seqs:,}")
    summary.add_row("nguồn phát / publishers", str(len(audit.chains)))
    summary.add_row("loại sự kiện / event types", str(len(audit.types)))
    summary.add_row("khóa đã dùng / keys used", str(len(audit.keys)))
    if audit.duplicates:
        summary.add_row("bản phát lại y hệt / republished copies", f"{len(audit.duplicates):,}")
    summary.add_row("lỗi / failures", f"[red]{len(audit.failures):,}[/]" if audit.failures else "0")
    console.print(summary)

    if audit.chains:
        chains = Table(
            "nguồn phát / publisher",
            "sự kiện",
            "độ dài chuỗi",
            "đầu chuỗi / chain head",
            "khóa / keys",
            title="Chuỗi băm theo nguồn / hash chains",
            title_justify="left",
        )
        for source, p in audit.publishers().items():
            chains.add_row(
                source,
                f"{p['events']:,}",
                f"#{p['chain_length']}",
                short(p["head_hash"]),
                "\n".join(short(k) for k in p["keys"]),
            )
        console.print(chains)
    if audit.keys:
        keys = Table(
            "khóa / key id", "instance", "sự kiện", "trạng thái / status", title="Khóa ký / keys", title_justify="left"
        )
        for kid, k in audit.key_records().items():
            keys.add_row(kid, str(k["instance"]), f"{k['events']:,}", k["status"])
        console.print(keys)


def print_failures(audit: Audit) -> None:
    for seq, event_id, source in audit.duplicates[:20]:
        console.print(
            Text(f"= #{seq}  {event_id}  {source}  bản phát lại y hệt / byte-identical republish"), soft_wrap=True
        )
    if len(audit.duplicates) > 20:
        console.print(f"= … {len(audit.duplicates) - 20} more / còn nữa", soft_wrap=True)
    for failure in audit.failures:
        console.print(Text(failure.line(), style="red"), soft_wrap=True)
    if audit.ok:
        console.print(
            Text(f"✔ Đã xác minh toàn bộ {audit.messages:,} sự kiện / all {audit.messages:,} verified", style="green"),
            soft_wrap=True,
        )
    else:
        bad = len({f.seq for f in audit.failures})
        console.print(
            Text(
                f"✘ XÁC MINH THẤT BẠI / VERIFICATION FAILED: {len(audit.failures)} lỗi ở {bad} vị trí / "
                f"failures at {bad} places, trong {audit.messages:,} thông điệp / of {audit.messages:,} messages",
                style="bold red",
            ),
            soft_wrap=True,
        )


def write_report(path: Path | None, doc: dict[str, Any]) -> None:
    if path is None:
        return
    try:
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise AuditError(f"không ghi được báo cáo / cannot write the report {path}: {exc}") from exc


# -- bundles -----------------------------------------------------------------------------------------


def _sha256_file(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return "sha256:" + h.hexdigest(), size


def _iso_ns(ns: int) -> str | None:
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat() if ns else None


class BundleWriter:
    """Writes ``events.jsonl`` and ``index.jsonl`` line for line as messages arrive."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.events: IO[bytes] = (out / EVENTS).open("wb")
        self.index: IO[bytes] = (out / INDEX).open("wb")
        self.lines = 0
        self.rewritten = 0

    def __call__(self, msg: Stored) -> None:
        line = msg.data
        entry: dict[str, Any] = {"seq": msg.seq}
        try:
            body = json.loads(line)
        except ValueError:
            body = None
        if isinstance(body, dict):
            entry |= {
                "id": body.get("id"),
                "source": body.get("source"),
                "type": body.get("type"),
                "kcseq": body.get("kcseq"),
            }
        entry |= {"subject": msg.subject, "stored": _iso_ns(msg.stored_ns)}
        if b"\n" in line or b"\r" in line:  # never canonical JSON; as JSON a line break is only whitespace
            entry["bus_sha256"] = "sha256:" + hashlib.sha256(line).hexdigest()
            entry["rewritten"] = "line breaks -> spaces"
            line = line.replace(b"\r", b" ").replace(b"\n", b" ")
            self.rewritten += 1
        entry["sha256"] = "sha256:" + hashlib.sha256(line).hexdigest()
        self.events.write(line + b"\n")
        self.index.write(canonical(entry) + b"\n")
        self.lines += 1

    def close(self) -> None:
        self.events.close()
        self.index.close()


def build_manifest(audit: Audit, state: StreamState, out: Path, trust_source: Path) -> dict[str, Any]:
    files = {}
    for name in (EVENTS, INDEX, TRUST):
        digest, size = _sha256_file(out / name)
        files[name] = {"sha256": digest, "bytes": size}
    files[EVENTS]["lines"] = files[INDEX]["lines"] = audit.messages
    return {
        "format": BUNDLE_FORMAT,
        "instance": audit.instance,
        "stream": state.name,
        "subjects": instance_subjects(audit.instance),
        "exported_at": datetime.now(UTC).isoformat(),
        "exported_by": "kc audit export",
        "trust_source": str(trust_source),
        "messages": audit.messages,
        "first_seq": audit.first_seq,
        "last_seq": audit.last_seq,
        "stream_last_seq": state.last_seq,
        "missing_seqs": audit.missing_seqs,
        "republished_copies": len(audit.duplicates),
        "files": files,
        "publishers": {
            source: {k: p[k] for k in ("events", "chain_length", "head_hash", "first_seq", "last_seq", "keys")}
            for source, p in audit.publishers().items()
        },
        "event_types": dict(sorted(audit.types.items())),
        "keys": audit.key_records(),
        "failures_at_export": len(audit.failures),
    }


def used_keys(trust: TrustStore, audit: Audit) -> TrustStore:
    """The trusted public keys that signed something in the stream (with their rotation state)."""
    subset = TrustStore()
    for kid, instance in sorted(audit.key_instance.items()):
        key = trust.find(instance, kid)
        if key is not None:
            subset.add(key)
    return subset


def sign_manifest(manifest: dict[str, Any], keys_dir: Path, instance: str) -> dict[str, str] | None:
    from kc_runtime.keys import MissingKeyError, key_file, load_signer

    try:
        signer = load_signer(key_file(keys_dir, instance), instance)
    except (MissingKeyError, OSError, ValueError, KeyError):
        return None
    return {"instance": instance, "key_id": signer.key_id, "signature": signer.sign_bytes(canonical(manifest))}


def verify_bundle(bundle: Path, trust_path: Path | None, batch: int = 5000) -> tuple[Audit, dict[str, Any], str]:
    """Check a bundle offline: its files against the manifest, then every line, signature and link."""
    if not (bundle / MANIFEST).is_file():
        raise AuditError(f"{bundle} không phải gói kiểm toán (thiếu {MANIFEST}) / not an audit bundle")
    try:
        manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise AuditError(f"{MANIFEST} hỏng / unreadable: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise AuditError(f"{MANIFEST}: định dạng không biết / unknown format (expected {BUNDLE_FORMAT})")
    for name in (EVENTS, INDEX):
        if not (bundle / name).is_file():
            raise AuditError(f"gói thiếu {name} / the bundle has no {name}")
    trust_file = trust_path or bundle / TRUST
    trust = load_trust(trust_file)
    instance = checked_instance(str(manifest.get("instance")))
    audit = Audit(instance, trust)

    # 1. the files are those the manifest describes
    for name, expected in sorted((manifest.get("files") or {}).items()):
        path = bundle / name
        if not path.is_file():
            audit.fail(None, name, "", "file_missing", f"gói thiếu / the bundle has no {name}")
            continue
        digest, _ = _sha256_file(path)
        if digest != expected.get("sha256"):
            audit.fail(
                None,
                name,
                "",
                "file_changed",
                f"{name}: sha256 {short(digest)} ≠ manifest {short(expected.get('sha256'))}",
            )
    signature = check_manifest_signature(bundle, manifest, trust, audit)

    # 2. every line: its bytes as exported, its signature, its link
    began = time.perf_counter()
    total = int(manifest.get("messages") or 0)
    with progress_bar() as bar, (bundle / EVENTS).open("rb") as events, (bundle / INDEX).open("rb") as index:
        task = bar.add_task(f"{bundle.name}/{EVENTS}", total=total or None, rate="")
        for n, (raw, idx) in enumerate(zip_longest(_lines(events), _lines(index)), start=1):
            if raw is None or idx is None:
                audit.fail(
                    None,
                    EVENTS if raw is not None else INDEX,
                    "",
                    "line_count",
                    f"{EVENTS} và {INDEX} không cùng số dòng (dòng {n}) / differ in length (line {n})",
                )
                break
            try:
                entry = json.loads(idx)
                seq = int(entry["seq"])
            except (ValueError, KeyError, TypeError):
                audit.fail(None, f"{INDEX}:{n}", "", "bad_index", f"dòng {n} của {INDEX} hỏng / line {n} unreadable")
                continue
            line_hash = "sha256:" + hashlib.sha256(raw).hexdigest()
            if line_hash != entry.get("sha256"):
                audit.fail(
                    seq,
                    str(entry.get("id") or "?"),
                    str(entry.get("source") or "?"),
                    "changed_bytes",
                    f"dòng {n} của {EVENTS} khác bản đã xuất / line {n} differs from the exported bytes",
                )
            audit.add(seq, str(entry.get("subject") or ""), raw, entry)
            if n % batch == 0:
                bar.update(task, completed=n, rate=_rate(n, began))
        bar.update(task, completed=audit.messages, rate=_rate(audit.messages, began))

    # 3. what was found is what the manifest says
    compare_manifest(audit, manifest)
    return audit, manifest, signature


def _lines(f: IO[bytes]) -> Iterator[bytes]:
    for line in f:
        yield line.rstrip(b"\n")


def check_manifest_signature(bundle: Path, manifest: dict[str, Any], trust: TrustStore, audit: Audit) -> str:
    path = bundle / MANIFEST_SIG
    if not path.is_file():
        return "không ký / unsigned (so sánh đầu chuỗi với hệ thống đang chạy / compare chain heads with the live bus)"
    try:
        sig = json.loads(path.read_text(encoding="utf-8"))
        key = trust.verify_bytes(str(sig["instance"]), canonical(manifest), str(sig["signature"]), str(sig["key_id"]))
    except IntegrityError as exc:
        audit.fail(None, MANIFEST, "", "manifest_signature", exc.message)
        return f"✘ {exc.message}"
    except (ValueError, KeyError, TypeError) as exc:
        audit.fail(None, MANIFEST, "", "manifest_signature", f"{MANIFEST_SIG} hỏng / unreadable: {exc}")
        return "✘ unreadable"
    return f"✔ {key.instance} {key.key_id}"


def compare_manifest(audit: Audit, manifest: dict[str, Any]) -> None:
    def differ(what: str, found: Any, claimed: Any) -> None:
        audit.fail(
            None, MANIFEST, "", "manifest_mismatch", f"{what}: tìm thấy / found {found}, manifest ghi / says {claimed}"
        )

    for key, found in (
        ("messages", audit.messages),
        ("first_seq", audit.first_seq),
        ("last_seq", audit.last_seq),
        ("republished_copies", len(audit.duplicates)),
    ):
        if manifest.get(key) != found:
            differ(key, found, manifest.get(key))
    if manifest.get("event_types") != dict(sorted(audit.types.items())):
        differ("event_types", dict(audit.types), manifest.get("event_types"))
    claimed = manifest.get("publishers") or {}
    found_publishers = audit.publishers()
    for source in sorted(set(claimed) | set(found_publishers)):
        c, f = claimed.get(source), found_publishers.get(source)
        if c is None or f is None:
            differ(f"publisher {source}", "có" if f else "không có", "có" if c else "không có")
            continue
        for key in ("events", "chain_length", "head_hash"):
            if c.get(key) != f[key]:
                differ(f"{source} {key}", f[key], c.get(key))


# -- commands: verify, export ------------------------------------------------------------------------


@audit_app.command()
def verify(
    instance: Annotated[str | None, typer.Option("--instance", "-i", help="bo | tinh-<mã tỉnh> / instance")] = None,
    bundle: Annotated[
        Path | None, typer.Option("--bundle", help="thư mục gói kiểm toán (không cần NATS) / audit bundle folder")
    ] = None,
    nats_url: NatsUrl = None,
    run_file: RunFile = Path("var/run.json"),
    trust: TrustOpt = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="ghi kết quả ra tệp JSON / write the result as JSON")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="số thông điệp mỗi lần kéo / per pull")] = 5000,
    token: Token = None,
    heads: Annotated[
        bool | None,
        typer.Option(
            "--heads/--no-heads",
            help="so sánh với đầu chuỗi do dịch vụ phát báo (địa chỉ trong --run-file; mặc định: khi đọc bus "
            "của --run-file) / compare with the publishers' own chain heads (service URLs from --run-file; "
            "default: when reading the run file's bus)",
        ),
    ] = None,
) -> None:
    """Xác minh mọi chữ ký và mọi liên kết băm của một instance, từ NATS hoặc từ gói kiểm toán.

    Verify every signature and hash link of an instance's stream, from NATS or from a bundle
    (offline). Exit 0: all verified; 1: failures (each listed with its sequence, event id and
    publisher); 2: could not run.
    """
    try:
        if (instance is None) == (bundle is None):
            raise AuditError("cần đúng một trong --instance hoặc --bundle / give --instance or --bundle")
        if bundle is not None:
            audit, manifest, signature = verify_bundle(bundle, trust, batch)
            facts = [
                ("gói / bundle", str(bundle)),
                ("instance", audit.instance),
                ("luồng / stream", str(manifest.get("stream"))),
                ("xuất lúc / exported", str(manifest.get("exported_at"))),
                ("tệp tin cậy / trust", str(trust or bundle / TRUST) + ("" if trust else " (bản trong gói / bundled)")),
                ("chữ ký manifest", signature),
            ]
            title = "Kiểm toán gói / bundle audit"
            extra = {"bundle": str(bundle), "stream": manifest.get("stream")}
        else:
            assert instance is not None
            name = checked_instance(instance)
            url = nats_url_of(nats_url, run_file)
            trust_path = trust or keys_dir_of(None, run_file) / TRUST
            audit = Audit(name, load_trust(trust_path))
            if heads if heads is not None else (nats_url is None and run_file.is_file()):
                # before the stream is read: all they count is in it
                audit.heads = publisher_heads(run_file, name, audit.trust, token)
            state = asyncio.run(replay(url, name, audit, batch=batch))
            audit.compare_heads()
            compared = ", ".join(f"{h.service} #{h.seq}" for h in audit.heads.values())
            facts = [
                ("instance", name),
                ("luồng / stream", f"{state.name} ({url})"),
                ("tệp tin cậy / trust", str(trust_path)),
                (
                    "đầu chuỗi phát / heads",
                    f"đã so / compared: {compared}"
                    if compared
                    else "không so (không có địa chỉ dịch vụ) / not compared (no service URLs)",
                ),
            ]
            title = "Kiểm toán luồng sự kiện / stream audit"
            extra = {"stream": state.name, "nats": url}
        write_report(report, audit.report(**extra))
    except AuditError as exc:
        fail(str(exc))
    print_summary(audit, title, facts)
    print_failures(audit)
    if not audit.ok:
        raise typer.Exit(1)


@audit_app.command()
def export(
    instance: Instance,
    out: Annotated[Path, typer.Option("--out", "-o", help="thư mục gói (mới hoặc trống) / bundle folder")],
    nats_url: NatsUrl = None,
    run_file: RunFile = Path("var/run.json"),
    trust: TrustOpt = None,
    keys_dir: KeysDir = None,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="số thông điệp mỗi lần kéo / per pull")] = 5000,
) -> None:
    """Xuất gói kiểm toán: sự kiện nguyên byte, chỉ mục, khóa công khai, manifest (ký nếu có khóa).

    Export an audit bundle: events.jsonl (the bytes on the bus), index.jsonl, trust.json,
    manifest.json (+ manifest.sig when the instance's key is at hand). Check it with
    `kc audit verify --bundle DIR`.
    """
    try:
        name = checked_instance(instance)
        url = nats_url_of(nats_url, run_file)
        trust_path = trust or keys_dir_of(None, run_file) / TRUST
        store = load_trust(trust_path)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise AuditError(f"{out} đã có và không trống / exists and is not empty")
        try:
            out.mkdir(parents=True, exist_ok=True)
            writer = BundleWriter(out)
        except OSError as exc:
            raise AuditError(f"không tạo được / cannot create {out}: {exc}") from exc
        audit = Audit(name, store)
        try:
            state = asyncio.run(replay(url, name, audit, batch=batch, sink=writer))
        finally:
            writer.close()
        used_keys(store, audit).save(out / TRUST)
        manifest = build_manifest(audit, state, out, trust_path)
        (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        signature = sign_manifest(manifest, keys_dir_of(keys_dir, run_file), name)
        if signature is not None:
            (out / MANIFEST_SIG).write_text(json.dumps(signature, indent=2) + "\n", encoding="utf-8")
    except AuditError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"không ghi được gói / cannot write the bundle: {exc}")
    print_summary(
        audit,
        "Gói kiểm toán / audit bundle",
        [
            ("gói / bundle", str(out)),
            ("instance", name),
            ("luồng / stream", f"{state.name} ({url})"),
            ("events.jsonl", f"{manifest['files'][EVENTS]['sha256']} ({manifest['files'][EVENTS]['bytes']:,} B)"),
            ("manifest", "ký / signed " + signature["key_id"] if signature else "không ký / unsigned (no key)"),
        ],
    )
    if writer.rewritten:
        console.print(f"[yellow]{writer.rewritten} thông điệp có ký tự xuống dòng (xem index) / had line breaks[/]")
    if audit.failures:
        console.print(
            f"[yellow]Lưu ý / note: {len(audit.failures)} lỗi xác minh trong luồng, được giữ nguyên trong gói "
            f"làm bằng chứng / verification failures kept in the bundle as evidence:[/] kc audit verify --bundle {out}"
        )
    else:
        console.print(f"✔ Đã xuất / exported. Kiểm tra / check: kc audit verify --bundle {out}", soft_wrap=True)


# -- commands over HTTP: rebuild, timeline, view -----------------------------------------------------


class Http:
    """Calls an instance's services as a read-only national auditor (role ``kiem_toan``)."""

    def __init__(self, run_file: Path, token: str | None, keys_dir: Path | None) -> None:
        services = read_run_file(run_file).get("services")
        if not isinstance(services, dict):
            raise AuditError(f"{run_file} không ghi dịch vụ nào / lists no services")
        self.services: dict[str, str] = services
        self.token = token or self._mint(keys_dir_of(keys_dir, run_file))
        self.client = httpx.Client(timeout=300, headers={"Authorization": f"Bearer {self.token}"})

    @staticmethod
    def _mint(keys_dir: Path) -> str:
        from kc_runtime.keys import MissingKeyError, key_file, load_signer
        from kc_runtime.web.auth import issue_token

        try:
            signer = load_signer(key_file(keys_dir, "bo"), "bo")
        except (MissingKeyError, OSError, ValueError, KeyError) as exc:
            raise AuditError(
                f"cần mã truy cập (--token hoặc KC_TOKEN) / a token is needed: no ministry key in {keys_dir}"
            ) from exc
        return issue_token(signer, sub="kc-audit", role="kiem_toan", name="kc audit (kiểm toán, chỉ đọc)")

    def url(self, service: str) -> str:
        if service not in self.services:
            raise AuditError(f"không có dịch vụ {service}; có: {', '.join(sorted(self.services))}")
        return self.services[service]

    def get(self, service: str, path: str, **params: Any) -> Any:
        base = self.url(service)
        try:
            response = self.client.get(base + path, params={k: v for k, v in params.items() if v is not None})
        except httpx.HTTPError as exc:
            raise AuditError(f"{service} không trả lời / does not answer: {exc}") from exc
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            detail = body.get("detail", response.text[:200]) if isinstance(body, dict) else response.text[:200]
            title = body.get("title", "") if isinstance(body, dict) else ""
            raise AuditError(f"{service} {path}: {response.status_code} {title}: {detail}")
        return response.json()

    def close(self) -> None:
        self.client.close()


@contextlib.contextmanager
def http(run_file: Path, token: str | None, keys_dir: Path | None) -> Iterator[Http]:
    client = Http(run_file, token, keys_dir)
    try:
        yield client
    finally:
        client.close()


@audit_app.command()
def rebuild(
    instance: Instance,
    run_file: RunFile = Path("var/run.json"),
    token: Token = None,
    keys_dir: KeysDir = None,
    attempts: Annotated[int, typer.Option(min=1, max=20, help="số lần thử khi báo cáo đang thay đổi")] = 3,
) -> None:
    """Dựng lại báo cáo kế hoạch từ nhật ký sự kiện vào bảng phụ và so mã băm với báo cáo đang dùng.

    Rebuild the planning views from the bus log into side tables (the live view is not touched) and
    compare the digest with the live one. Exit 1 if they differ.
    """
    service = f"{instance}/planning"
    try:
        checked_instance(instance)
        with http(run_file, token, keys_dir) as api:
            for attempt in range(1, attempts + 1):
                began = time.perf_counter()
                with err_console.status(f"dựng lại / rebuilding {service} …"):
                    rebuilt = api.get(service, "/views/as-of", at=EVERYTHING)
                seconds = time.perf_counter() - began
                live = api.get(service, "/views/digest")["digest"]
                if rebuilt["digest"] == live:
                    break
                if attempt < attempts:  # the live view moved or is still catching up: again
                    time.sleep(1.0)
    except AuditError as exc:
        fail(str(exc))
    equal = rebuilt["digest"] == live
    table = Table(show_header=False, title=f"Dựng lại báo cáo / view rebuild — {service}", title_justify="left")
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("sự kiện / events replayed", f"{rebuilt['events']:,} ({seconds:.1f} s)")
    table.add_row("mã băm đang dùng / live digest", live)
    table.add_row("mã băm dựng lại / rebuilt digest", rebuilt["digest"])
    table.add_row("lần thử / attempts", str(attempt))
    console.print(table)
    if equal:
        console.print("[green]✔ bằng nhau / equal[/]")
    else:
        console.print(
            "[bold red]✘ KHÁC NHAU / NOT EQUAL[/]: báo cáo đang dùng không khớp nhật ký / the live view differs"
        )
        raise typer.Exit(1)


def _details(data: dict[str, Any]) -> str:
    return readable.details(data)


@audit_app.command()
def timeline(
    de_an_id: Annotated[str, typer.Argument(help="mã đề án (đầy đủ hoặc 8 ký tự đầu) / đề án id or prefix")],
    instance: Instance,
    run_file: RunFile = Path("var/run.json"),
    token: Token = None,
    keys_dir: KeysDir = None,
    as_json: AsJson = False,
) -> None:
    """Toàn bộ lịch sử một đề án: ai, làm gì, khi nào, theo phiên bản quy định nào.

    A đề án's full timeline, straight from its event stream: who, what, when, under which rule
    versions, with the correlation id and the facts each event recorded.
    """
    service = f"{instance}/appraisal"
    try:
        checked_instance(instance)
        with http(run_file, token, keys_dir) as api:
            if len(de_an_id) < 36:
                items = api.get(service, "/de-an", limit=500)["items"]
                found = [d["de_an_id"] for d in items if d["de_an_id"].startswith(de_an_id)]
                if len(found) != 1:
                    raise AuditError(f"không xác định được đề án '{de_an_id}' ({len(found)} kết quả / matches)")
                de_an_id = found[0]
            events = api.get(service, f"/de-an/{de_an_id}/timeline")
            current = api.get(service, f"/de-an/{de_an_id}")
    except AuditError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps({"de_an_id": de_an_id, "events": events}, ensure_ascii=False, indent=2))
        return
    details = current.get("details", {}) if isinstance(current, dict) else {}
    title = f"Đề án {de_an_id} ({label('instance', instance)})"
    if details.get("code") or details.get("title"):
        title += f"\n{details.get('code', '')} {details.get('title', '')}"
    table = Table(
        "#",
        "thời điểm",
        "sự kiện",
        "người thực hiện",
        "quy định áp dụng",
        "nội dung",
        title=title,
        title_justify="left",
    )
    for e in events:
        table.add_row(
            str(e["version"]),
            readable.moment(e["at"]),
            readable.event_name(e),
            readable.actor(e.get("actor")),
            "\n".join(e.get("rule_versions") or []),
            _details(e.get("data") or {}),
        )
    console.print(table)
    status = current.get("status") if isinstance(current, dict) else None
    status_now = label("de_an_status", status) if status else "?"
    console.print(f"{len(events)} sự kiện / events; trạng thái hiện tại / status now: {status_now}")


def as_of_moment(value: str) -> datetime:
    """A date means the end of that day in Viet Nam; a datetime without offset is Viet Nam time too."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), dtime.max, tzinfo=VIETNAM)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise AuditError(f"--as-of: ngày không hợp lệ / not a date: {value!r} (YYYY-MM-DD)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=VIETNAM)


@audit_app.command()
def view(
    as_of: Annotated[str, typer.Option("--as-of", help="ngày (YYYY-MM-DD, cuối ngày giờ Việt Nam) hoặc thời điểm")],
    instance: Instance,
    year: Annotated[int | None, typer.Option(help="năm kế hoạch / plan year")] = None,
    run_file: RunFile = Path("var/run.json"),
    token: Token = None,
    keys_dir: KeysDir = None,
    as_json: AsJson = False,
) -> None:
    """Báo cáo kế hoạch tại một thời điểm trong quá khứ, dựng lại từ nhật ký, kèm mã băm.

    The planning view as it stood at a past moment, rebuilt from the bus log, with its digest.
    """
    service = f"{instance}/planning"
    try:
        checked_instance(instance)
        moment = as_of_moment(as_of)
        with http(run_file, token, keys_dir) as api, err_console.status(f"dựng lại / rebuilding as of {moment} …"):
            result = api.get(service, "/views/as-of", at=moment.isoformat(), year=year)
    except AuditError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    head = f"Báo cáo {instance} tại / as of {result['as_of']}" + (f", năm {year}" if year else "")
    console.print(f"[bold]{head}[/]")
    console.print(f"sự kiện / events: {result['events']:,}   mã băm / digest: {result['digest']}", soft_wrap=True)
    national, province = result.get("national", {}), result.get("province", {})

    def amounts(title: str, rows: list[dict[str, Any]], key: str) -> None:
        table = Table(
            key, "đề án", "KP quốc gia", "KP địa phương", "đối ứng", "khác", title=title, title_justify="left"
        )
        for r in rows:
            table.add_row(
                str(r.get(key) if r.get(key) is not None else "—"),
                str(r["de_an"]),
                vnd(int(r["quoc_gia"])),
                vnd(int(r["dia_phuong"])),
                vnd(int(r["doi_ung"])),
                vnd(int(r["khac"])),
            )
        console.print(table)

    amounts("Theo tỉnh (sau sáp nhập) / by province now", national.get("by_province_now", []), "province_now")
    amounts("Theo trạng thái / by status", province.get("by_status", []), "status")
    amounts("Tổng / totals", national.get("totals", []), "all")


def _pretty_env() -> None:
    """Rich draws tables for a terminal; in a pipe a wider page keeps ids on one line."""
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = max(console.width, 160)


_pretty_env()
