"""Rebuild benchmark: replay N appraisal milestones from a real JetStream stream into the programme
view (planning), next to the raw limit measured in the same run (replay + decode, no apply).

Usage: bench_rebuild.py --events 100000 1000000 [--json PATH]. Each size runs in its own process so
its peak RSS is its own; events are published with core NATS (the stream stores them) from a
template, so generating them costs little.
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

import nats
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
from kc_planning.projections.programme import ProgrammeView
from kc_runtime.eventstore import sqlite_env
from kc_runtime.natsserver import NatsServer
from kc_runtime.rebuild import Source, _decode, _replay, ensure_tables, rebuild
from kc_runtime.streams import StreamPlan, ensure_streams
from kc_runtime.views import ViewStore

PER_DE_AN = 5


def templates() -> list[tuple[str, bytes]]:
    """One envelope per milestone with placeholder ids, filled in by byte replacement."""
    from datetime import UTC, date, datetime

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


async def publish(url: str, total: int) -> float:
    """Publish with JetStream acks, 1,000 in flight at a time (core publishes may be dropped under load)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_streams(js, StreamPlan(("tinh-40",)))
    began = time.perf_counter()
    marker = str(uuid.UUID(int=1)).encode()
    window: list[Any] = []
    for n in range(total // PER_DE_AN):
        key = str(uuid.UUID(int=n + 10)).encode()
        code = f"{n:07d}".encode()
        for subject, body in templates_cache:
            window.append(js.publish(subject, body.replace(marker, key).replace(b"XXXXXXX", code), timeout=30))
        if len(window) >= 1000:
            await asyncio.gather(*window)
            window = []
    await asyncio.gather(*window)
    await nc.close()
    return time.perf_counter() - began


async def raw(url: str, source: Source) -> tuple[int, float]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    head = (await js.stream_info(source.stream)).state.last_seq
    began, count = time.perf_counter(), 0
    async for chunk in _replay(js, source, head, 2000):
        for _, data in chunk:
            if _decode(data) is not None:
                count += 1
    await nc.close()
    return count, time.perf_counter() - began


def run_one(total: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(Path(tmp) / "nats").start()
        try:
            published_s = asyncio.run(publish(server.url, total))
            source = Source("KC_TINH_40", ["kc.tinh-40.appraisal.de-an.>"], "bench@KC_TINH_40")
            raw_count, raw_s = asyncio.run(raw(server.url, source))
            store = ViewStore(sqlite_env(Path(tmp) / "views.sqlite"), name="bench_views")
            ensure_tables(store, ProgrammeView())
            report = asyncio.run(rebuild(ProgrammeView(), store, server.url, [source], batch=5000))
            store.close()
        finally:
            server.stop()
    return {
        "events": report.events,
        "rebuild_s": round(report.seconds, 2),
        "rebuild_events_per_s": round(report.events_per_second),
        "raw_replay_decode_events_per_s": round(raw_count / raw_s),
        "ratio_to_raw": round(report.events_per_second / (raw_count / raw_s), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "publish_s": round(published_s, 1),
        "digest": report.digest[:16],
    }


templates_cache = templates()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return 0
    results = []
    for total in args.events:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(total)], capture_output=True, text=True, check=True
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    columns = [
        "events",
        "rebuild_s",
        "rebuild_events_per_s",
        "raw_replay_decode_events_per_s",
        "ratio_to_raw",
        "peak_rss_mb",
    ]
    print("  ".join(f"{c:>30}" if i else f"{c:>10}" for i, c in enumerate(columns)))
    for r in results:
        print("  ".join(f"{r[c]:>30}" if i else f"{r[c]:>10}" for i, c in enumerate(columns)))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rebuild": results}, indent=2))
        print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
