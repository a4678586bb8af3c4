"""The five ``kc audit`` commands: verify, export (NATS or a bundle), rebuild, timeline, view (HTTP)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from kc_kernel.money import vnd
from kc_kernel.vocabulary import label
from kc_runtime.bus.streamaudit import (
    Audit,
    AuditError,
    StreamState,
)
from rich.table import Table

from kc_cli import readable
from kc_cli.audit.bundle import (
    EVENTS,
    MANIFEST,
    MANIFEST_SIG,
    TRUST,
    BundleWriter,
    build_manifest,
    sign_manifest,
    used_keys,
    verify_bundle,
)
from kc_cli.audit.bus import nats_url_of, replay
from kc_cli.audit.client import http, publisher_heads
from kc_cli.audit.local import checked_instance, keys_dir_of, load_trust
from kc_cli.audit.render import console, err_console, print_failures, print_summary

audit_app = typer.Typer(
    help="Kiểm toán: xác minh chữ ký và chuỗi băm, xuất gói kiểm toán, dựng lại báo cáo, lịch sử đề án / "
    "audit: verify signatures and hash chains, export bundles, rebuild views, đề án timelines",
    no_args_is_help=True,
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


def write_report(path: Path | None, doc: dict[str, Any]) -> None:
    if path is None:
        return
    try:
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise AuditError(f"không ghi được báo cáo / cannot write the report {path}: {exc}") from exc


Exported = tuple[Audit, StreamState, dict[str, Any], dict[str, str] | None, int]


def write_bundle(out: Path, name: str, url: str, trust_path: Path, keys_dir: Path, batch: int) -> Exported:
    """Read ``name``'s stream from ``url`` into a bundle in ``out`` (created; empty), verifying as it goes:
    the audit, the stream's state, the manifest, its signature (None without the instance's key) and the
    number of lines whose line breaks were rewritten. Also what ``kc backup`` writes as its stream part."""
    store = load_trust(trust_path)
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
    try:
        used_keys(store, audit).save(out / TRUST)
        manifest = build_manifest(audit, state, out, trust_path)
        (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        signature = sign_manifest(manifest, keys_dir, name)
        if signature is not None:
            (out / MANIFEST_SIG).write_text(json.dumps(signature, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise AuditError(f"không ghi được gói / cannot write the bundle: {exc}") from exc
    return audit, state, manifest, signature, writer.rewritten


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
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise AuditError(f"{out} đã có và không trống / exists and is not empty")
        audit, state, manifest, signature, rewritten = write_bundle(
            out, name, url, trust_path, keys_dir_of(keys_dir, run_file), batch
        )
    except AuditError as exc:
        fail(str(exc))
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
    if rewritten:
        console.print(f"[yellow]{rewritten} thông điệp có ký tự xuống dòng (xem index) / had line breaks[/]")
    if audit.failures:
        console.print(
            f"[yellow]Lưu ý / note: {len(audit.failures)} lỗi xác minh trong luồng, được giữ nguyên trong gói "
            f"làm bằng chứng / verification failures kept in the bundle as evidence:[/] kc audit verify --bundle {out}"
        )
    else:
        console.print(f"✔ Đã xuất / exported. Kiểm tra / check: kc audit verify --bundle {out}", soft_wrap=True)


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
