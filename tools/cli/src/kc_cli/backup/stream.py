"""The stream's side of a restore: what the bus already holds of the backed-up stream, and the stream's
exact bytes republished in order under their message ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections import deque
from pathlib import Path
from typing import Any

from kc_contracts.integrity import message_id
from kc_contracts.subjects import stream_name

from kc_cli.audit.bundle import EVENTS, INDEX
from kc_cli.backup.parts import PUBLISH_TIMEOUT_S, STREAM, WINDOW, BackupError


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
