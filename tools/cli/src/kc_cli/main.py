"""``kc``: follow the system from a terminal without reading JSON.

It finds the services in ``var/run.json`` (written by ``make run``; ``--run-file`` for another).
Errors are one line and a non-zero exit code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from kc_kernel.money import vnd
from kc_kernel.vocabulary import format_date, label
from kc_runtime.bus.streamaudit import AuditError
from rich.console import Console
from rich.table import Table

from kc_cli.audit import audit_app
from kc_cli.audit.local import auditor_token
from kc_cli.backup import backup, restore
from kc_cli.instance import instance_app
from kc_cli.readable import actor, event_name, moment

app = typer.Typer(help="khuyencong: kế hoạch, đề án, báo cáo / plans, projects, views", no_args_is_help=True)
plan_app = typer.Typer(help="Kế hoạch năm / annual plans", no_args_is_help=True)
de_an_app = typer.Typer(help="Đề án / projects", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
app.add_typer(de_an_app, name="de-an")
app.add_typer(audit_app, name="audit")
app.add_typer(instance_app, name="instance")
app.command("backup")(backup)
app.command("restore")(restore)
console = Console()
RunFile = Annotated[Path, typer.Option("--run-file", help="written by make run")]


def money(amount: Any) -> str:
    return vnd(int(amount or 0))


def fail(message: str) -> NoReturn:
    typer.echo(f"lỗi / error: {message}", err=True)
    raise typer.Exit(1)


def token(run_file: Path) -> str:
    """``KC_TOKEN`` if set; else, beside a local ``make run`` (its keys in ``var/keys``), a read-only
    national auditor's token signed with the ministry's key. Elsewhere ask for one:
    ``python -m kc_ops.tokens issue --instance bo --role kiem_toan --sub <you>``."""
    given = os.environ.get("KC_TOKEN")
    if given:
        return given
    try:
        return auditor_token(run_file.parent / "keys", sub="kc-cli", name="kc CLI (kiểm toán, chỉ đọc)")
    except AuditError:
        fail("cần mã truy cập: đặt KC_TOKEN / a token is needed: set KC_TOKEN")


def get(run_file: Path, service: str, path: str, **params: Any) -> Any:
    try:
        urls = json.loads(run_file.read_text())["services"]
    except (OSError, ValueError, KeyError):
        fail(f"không đọc được {run_file}: chạy `make run` trước / run `make run` first")
    if service not in urls:
        fail(f"không có dịch vụ {service}; có: {', '.join(sorted(urls))}")
    try:
        response = httpx.get(
            urls[service] + path,
            params={k: v for k, v in params.items() if v is not None},
            headers={"Authorization": f"Bearer {token(run_file)}"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        fail(f"{service} không trả lời / does not answer: {exc}")
    if response.status_code >= 400:
        body = response.json() if response.headers.get("content-type", "").endswith("json") else {}
        fail(f"{response.status_code} {body.get('title', '')}: {body.get('detail', response.text[:200])}")
    return response.json()


@app.command()
def status(run_file: RunFile = Path("var/run.json")) -> None:
    """Các dịch vụ và trạng thái sẵn sàng / services and readiness."""
    urls = json.loads(run_file.read_text())["services"] if run_file.exists() else {}
    if not urls:
        fail("chưa chạy / not running: `make run`")
    table = Table("hệ thống", "dịch vụ", "URL", "sẵn sàng")
    for name, url in urls.items():
        instance, _, service = name.partition("/")
        try:
            ready = httpx.get(f"{url}/readyz", timeout=3).json().get("ready")
        except httpx.HTTPError:
            ready = False
        table.add_row(label("instance", instance), service, url, "✔" if ready else "✘")
    console.print(table)


@plan_app.command("show")
def plan_show(
    year: int,
    level: Annotated[str, typer.Option(help="quoc_gia | dia_phuong")] = "quoc_gia",
    instance: Annotated[str, typer.Option(help="bo | tinh-<code>")] = "bo",
    run_file: RunFile = Path("var/run.json"),
) -> None:
    """Kế hoạch năm: các đề án, đợt phê duyệt, tổng kinh phí."""
    plan = get(run_file, f"{instance}/planning", f"/plans/{level}/{year}")
    table = Table(
        "mã đề án",
        "tên",
        "tỉnh",
        "đề xuất (đồng)",
        "phê duyệt (đồng)",
        "đợt",
        title=f"Kế hoạch {label('plan_level', level).lower()} năm {year} ({label('instance', plan['owner'])})",
    )
    for line in plan["lines"].values():
        p = line["proposal"]
        table.add_row(
            p["code"],
            p["title"][:60],
            label("province", p["province_code"]),
            money(p["recommended_support_vnd"]),
            money(line["approved_support_vnd"]) if line["approved_support_vnd"] is not None else "—",
            str(line["batch"] or "—"),
        )
    console.print(table)
    for b in plan["batches"]:
        console.print(f"đợt {b['batch']}: {b['decision_number']} ngày {format_date(b['decision_date'])}, {b['signer']}")
    console.print(f"Tổng phê duyệt: [bold]{money(plan['approved_total_vnd'])}[/] đồng")


@de_an_app.command("list")
def de_an_list(
    instance: str,
    status: Annotated[str | None, typer.Option()] = None,
    year: Annotated[int | None, typer.Option()] = None,
    run_file: RunFile = Path("var/run.json"),
) -> None:
    """Danh sách đề án của một tỉnh (hoặc bo)."""
    page = get(run_file, f"{instance}/appraisal", "/de-an", status=status, plan_year=year, limit=200)
    table = Table(
        "id", "mã", "tên", "năm", "trạng thái", "xin hỗ trợ (đồng)", title=f"Đề án ({label('instance', instance)})"
    )
    for d in page["items"]:
        table.add_row(
            d["de_an_id"][:8],
            d["code"],
            d["title"][:50],
            str(d["plan_year"]),
            label("de_an_status", d["status"]),
            money(d["support_requested_vnd"]),
        )
    console.print(table)


@de_an_app.command("timeline")
def de_an_timeline(instance: str, de_an_id: str, run_file: RunFile = Path("var/run.json")) -> None:
    """Lịch sử đề án: ai, làm gì, khi nào, theo quy định nào (id đầy đủ hoặc 8 ký tự đầu)."""
    if len(de_an_id) < 36:
        items = get(run_file, f"{instance}/appraisal", "/de-an", limit=500)["items"]
        found = [d["de_an_id"] for d in items if d["de_an_id"].startswith(de_an_id)]
        if len(found) != 1:
            fail(f"không xác định được đề án '{de_an_id}' ({len(found)} kết quả)")
        de_an_id = found[0]
    events = get(run_file, f"{instance}/appraisal", f"/de-an/{de_an_id}/timeline")
    table = Table("#", "thời điểm", "sự kiện", "người thực hiện", "quy định áp dụng", title=f"Đề án {de_an_id}")
    for e in events:
        table.add_row(
            str(e["version"]), moment(e["at"]), event_name(e), actor(e["actor"]), "\n".join(e["rule_versions"])
        )
    console.print(table)


@app.command()
def national(year: int, run_file: RunFile = Path("var/run.json")) -> None:
    """Báo cáo toàn quốc: theo tỉnh (sau sáp nhập), vùng; chỉ tiêu chương trình."""
    view = get(run_file, "bo/planning", "/views/national", year=year)
    table = Table(
        "tỉnh, thành phố (từ 01/07/2025)",
        "đề án",
        "KP quốc gia (đồng)",
        "KP địa phương (đồng)",
        "đối ứng (đồng)",
        title=f"Toàn quốc năm {year}",
    )
    for r in view["by_province_now"]:
        table.add_row(
            label("province", r["province_now"]),
            str(r["de_an"]),
            money(r["quoc_gia"]),
            money(r["dia_phuong"]),
            money(r["doi_ung"]),
        )
    console.print(table)
    for key, value in view["indicators"]["values"].items():
        console.print(f"{label('indicator', key)}: {value}")


if __name__ == "__main__":
    app()
