"""Rebuild benchmark: replay N appraisal milestones from a real JetStream stream into the programme
view (planning), next to the raw limit measured in the same run on the same stream: reading the
same events back (an unacknowledged pull consumer read in large batches) and decoding each envelope's
JSON, nothing applied.

Events are signed and chained as a relay signs them, and the rebuild checks keys, signatures and
links as it does in the system.

Usage: bench_rebuild.py --events 100000 1000000 [--json PATH]. Each size has its own nats-server;
the publisher, the raw reader and the rebuild each run in a process of their own, so each peak RSS
is its own. Events come from five milestone templates (ids and codes filled in by byte
replacement), published with asynchronous JetStream acks, 5,000 in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

PER_DE_AN = 5
STREAM = "KC_TINH_40"
SUBJECTS = ["kc.tinh-40.appraisal.de-an.>"]


def templates() -> list[tuple[str, bytes]]:
    """One envelope per milestone with placeholder ids, filled in by byte replacement."""
    from datetime import UTC, date, datetime

    from kc_contracts.appraisal_events import (
        BaseAppraisalRecordedV1,
        BudgetTotals,
        DeAnAcceptedV1,
        DeAnApprovedV1,
        DeAnContractedV1,
        DeAnProposedV1,
    )
    from kc_contracts.envelope import Envelope
    from kc_contracts.subjects import subject_for

    de_an = uuid.UUID(int=1)
    common = {
        "de_an_id": de_an,
        "code": "KCĐP-40-2024-XXXXXXX",
        "title": "Hỗ trợ máy móc thiết bị chế biến chè",
        "level": "dia_phuong",
        "de_an_type": "kcdp",
        "plan_year": 2024,
        "province_code": "40",
        "at": datetime(2024, 1, 1, tzinfo=UTC),
        "actor": "bench",
        "status": "x",
    }
    proposal = {
        "activity_contents": ["3"],
        "commune_code": "17419",
        "implementing_unit": "Trung tâm",
        "budget": BudgetTotals(
            total_cost_vnd=300_000_000, support_requested_vnd=100_000_000, counterpart_vnd=200_000_000, other_vnd=0
        ),
    }
    events = [
        BaseAppraisalRecordedV1(
            **common,
            conclusion="dong_y",
            recommended_support_vnd=100_000_000,
            mode="can_bo",
            appraised_on=date(2023, 11, 1),
        ),
        DeAnProposedV1(**common, **proposal, recommended_support_vnd=100_000_000, priority_rank=[1, 1, 1]),
        DeAnApprovedV1(**common, plan_decision="1/QĐ", batch=1, approved_support_vnd=100_000_000),
        DeAnContractedV1(
            **common, contract_number="1/HĐ", signed_on=date(2024, 2, 1), contracted_support_vnd=100_000_000
        ),
        DeAnAcceptedV1(
            **common, accepted_on=date(2024, 10, 1), outputs={"may_moc": 1, "hoc_vien": 20, "hoc_vien_co_viec_lam": 19}
        ),
    ]
    out = []
    for version, event in enumerate(events, start=2):
        envelope = Envelope.wrap(
            event,
            instance="tinh-40",
            service="appraisal",
            stream_id=de_an,
            stream_version=version,
            time=datetime(2024, 1, 1, tzinfo=UTC),
        )
        out.append((subject_for("tinh-40", event), envelope.to_json()))
    return out


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# -- the parts, each in a process of its own --------------------------------------------------------------
class Chain:
    """Signs and chains as the appraisal relay does (its key trusted in ``<tmp>/trust.json``), so the
    rebuild checks what it checks in the system: keys, signatures, links."""

    def __init__(self, tmp: Path) -> None:
        from kc_contracts.integrity import Signer, TrustedKey, TrustStore

        self.signer = Signer.generate("tinh-40")
        trust = TrustStore()
        trust.add(TrustedKey("tinh-40", self.signer.key_id, self.signer.private_key.public_key()))
        trust.save(tmp / "trust.json")
        self.seq, self.head = 0, None

    def sign(self, body: bytes) -> bytes:
        import hashlib

        from kc_contracts.integrity import canonical

        self.seq += 1
        data = canonical(self.signer.sign(json.loads(body), seq=self.seq, prev_hash=self.head))
        self.head = "sha256:" + hashlib.sha256(data).hexdigest()
        return data


async def publish(url: str, total: int, tmp: Path) -> dict[str, Any]:
    """Publish signed, chained envelopes with JetStream acks, counted on one reply subject, 5,000 in
    flight at a time."""
    import nats
    from kc_runtime.bus.streams import StreamPlan, ensure_streams

    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_streams(js, StreamPlan(("tinh-40",)))
    window = 5000
    acked = 0
    failed: list[bytes] = []
    room = asyncio.Semaphore(window)

    async def on_ack(msg: Any) -> None:
        nonlocal acked
        if b'"error"' in msg.data:
            failed.append(msg.data)
        acked += 1
        room.release()

    inbox = nc.new_inbox()
    await nc.subscribe(inbox, cb=on_ack, pending_msgs_limit=4 * window, pending_bytes_limit=-1)
    chain = Chain(tmp)
    marker = str(uuid.UUID(int=1)).encode()
    began = time.perf_counter()
    sent = 0
    for n in range(total // PER_DE_AN):
        key = str(uuid.UUID(int=n + 10)).encode()
        code = f"{n:07d}".encode()
        for subject, body in TEMPLATES:
            await room.acquire()
            await nc.publish(subject, chain.sign(body.replace(marker, key).replace(b"XXXXXXX", code)), reply=inbox)
            sent += 1
    while acked < sent and time.perf_counter() - began < 600:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    seconds = time.perf_counter() - began
    stored = (await js.stream_info(STREAM)).state.messages
    await nc.close()
    if failed or stored != sent:
        raise RuntimeError(f"published {sent}, stored {stored}, errors {failed[:3]}")
    return {"published": sent, "publish_s": round(seconds, 1)}


async def raw(url: str) -> dict[str, Any]:
    """The floor: read every event back in large batches and decode its envelope's JSON."""
    import nats
    from kc_runtime.bus.reader import read_stream

    nc = await nats.connect(url)
    js = nc.jetstream()
    head = (await js.stream_info(STREAM)).state.last_seq
    began, count = time.perf_counter(), 0
    async for chunk in read_stream(nc, js, STREAM, until_seq=head, batch=5000, subjects=SUBJECTS, purpose="raw"):
        for msg in chunk:
            json.loads(msg.data)
            count += 1
    seconds = time.perf_counter() - began
    await nc.close()
    return {"events": count, "seconds": round(seconds, 2), "events_per_s": round(count / seconds)}


async def raw_fetch(url: str, limit: int) -> dict[str, Any]:
    """For reference: the same with nats-py's own ``fetch(batch)`` (it waits for each message apart)."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    nc = await nats.connect(url)
    js = nc.jetstream()
    config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE, filter_subjects=SUBJECTS)
    psub = await js.pull_subscribe("", stream=STREAM, config=config)
    began, count = time.perf_counter(), 0
    while count < limit:
        try:
            msgs = await psub.fetch(5000, timeout=2.0)
        except nats.errors.TimeoutError:
            break
        for msg in msgs:
            json.loads(msg.data)
            count += 1
        if msgs[-1].metadata.num_pending == 0:
            break
    seconds = time.perf_counter() - began
    await nc.close()
    return {"events": count, "seconds": round(seconds, 2), "events_per_s": round(count / seconds)}


def rebuild_once(url: str, tmp: Path) -> dict[str, Any]:
    from kc_planning.projections.programme import ProgrammeView
    from kc_runtime.bus.rebuild import Source, ensure_tables, rebuild
    from kc_runtime.keys import TrustFile
    from kc_runtime.store.eventstore import sqlite_env
    from kc_runtime.store.views import ViewStore

    store = ViewStore(sqlite_env(tmp / "views.sqlite"), name="bench_views")
    ensure_tables(store, ProgrammeView())
    cpu = time.process_time()
    trust = TrustFile(tmp / "trust.json")
    report = asyncio.run(
        rebuild(ProgrammeView(), store, url, [Source(STREAM, SUBJECTS, f"bench@{STREAM}")], batch=5000, trust=trust)
    )
    cpu = time.process_time() - cpu
    store.close()
    return {
        "events": report.events,
        "seconds": round(report.seconds, 2),
        "events_per_s": round(report.events_per_second),
        "cpu_s": round(cpu, 2),
        "digest": report.digest[:16],
    }


def part(name: str, url: str, total: int, tmp: Path) -> dict[str, Any]:
    """Run one part in a fresh process and return what it printed (plus its peak RSS)."""
    out = subprocess.run(
        [sys.executable, __file__, "--part", name, "--url", url, "--total", str(total), "--tmp", str(tmp)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_size(total: int) -> dict[str, Any]:
    from kc_ops.natsserver import NatsServer

    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(Path(tmp) / "nats").start()
        try:
            published = part("publish", server.url, total, Path(tmp))
            raw_result = part("raw", server.url, total, Path(tmp))
            fetch_result = part("raw-fetch", server.url, total, Path(tmp))
            rebuilt = part("rebuild", server.url, total, Path(tmp))
        finally:
            server.stop()
    return {
        "events": rebuilt["events"],
        "rebuild_s": rebuilt["seconds"],
        "rebuild_events_per_s": rebuilt["events_per_s"],
        "rebuild_cpu_s": rebuilt["cpu_s"],
        "rebuild_peak_rss_mb": rebuilt["peak_rss_mb"],
        "raw_read_decode_events_per_s": raw_result["events_per_s"],
        "raw_peak_rss_mb": raw_result["peak_rss_mb"],
        "raw_nats_py_fetch_decode_events_per_s": fetch_result["events_per_s"],
        "ratio_to_raw": round(rebuilt["events_per_s"] / raw_result["events_per_s"], 3),
        "publish_s": published["publish_s"],
        "digest": rebuilt["digest"],
    }


TEMPLATES: list[tuple[str, bytes]] = []


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--part", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--total", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        if args.part == "publish":
            TEMPLATES.extend(templates())
            result = asyncio.run(publish(args.url, args.total, args.tmp))
        elif args.part == "raw":
            result = asyncio.run(raw(args.url))
        elif args.part == "raw-fetch":
            result = asyncio.run(raw_fetch(args.url, min(args.total, 200_000)))
        else:
            result = rebuild_once(args.url, args.tmp)
        print(json.dumps(result | {"peak_rss_mb": peak_rss_mb()}))
        return 0
    results = [run_size(total) for total in args.events]
    columns = [
        "events",
        "rebuild_s",
        "rebuild_events_per_s",
        "raw_read_decode_events_per_s",
        "ratio_to_raw",
        "rebuild_peak_rss_mb",
    ]
    print("  ".join(f"{c:>28}" for c in columns))
    for r in results:
        print("  ".join(f"{r[c]:>28}" for c in columns))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rebuild": results}, indent=2))
        print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
