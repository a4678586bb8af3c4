"""What a person sees: Rich tables of an audit, its failures line by line, a progress bar."""

from __future__ import annotations

import os
import time

from kc_runtime.bus.streamaudit import (
    Audit,
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

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


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


def rate(done: int, began: float) -> str:
    elapsed = time.perf_counter() - began
    return f"{done / elapsed:,.0f} msg/s" if elapsed > 0 else ""


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


def _pretty_env() -> None:
    """Rich draws tables for a terminal; in a pipe a wider page keeps ids on one line."""
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = max(console.width, 160)


_pretty_env()
