"""The instance's stream on NATS: where the bus is (``make run``'s, as the auditor), and its replay
into the verifier (:mod:`kc_runtime.bus.streamaudit`) with a progress bar."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from kc_contracts.subjects import stream_name
from kc_runtime.bus import streamaudit
from kc_runtime.bus.reader import Stored
from kc_runtime.bus.streamaudit import (
    Audit,
    AuditError,
    StreamState,
)

from kc_cli.audit.local import read_run_file
from kc_cli.audit.render import progress_bar, rate


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


async def replay(
    url: str, instance: str, audit: Audit, *, batch: int, sink: Callable[[Stored], None] | None = None
) -> StreamState:
    """Read the instance's stream from NATS into ``audit`` (and ``sink``), with a progress bar."""
    began = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task(stream_name(instance), total=None, rate="")

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, rate=rate(done, began) if done else "")

        return await streamaudit.replay(url, instance, audit, batch=batch, sink=sink, progress=tick)
