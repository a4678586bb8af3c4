"""Issue 14 item 9: ``kc audit verify`` did not see an event missing at the tail of a chain.

The attack: remove a publisher's last event from its instance's stream (a delete by whoever holds
the stream — or JetStream dropping it as the duplicate of junk pre-published under its id) while
other publishers go on. Every signature and every link of what is left verifies: the chain is only
shorter, and ``kc audit verify`` said "verified".

Now each publishing service reports its own chain head, signed by its instance (``GET
/outbox/head``: how many envelopes its relay had acknowledged, and the hash of the last), and
``kc audit verify`` compares it with the chain it reads — taken before reading, so every event the
head counts must be there: a missing tail is a failure (exit 1) naming the publisher and the count.

Real parts: the registry under uvicorn publishing its signed events to this test's nats-server;
``kc audit`` run as a person runs it, the executable in a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import httpx
import nats
import pytest
from kc_contracts import Envelope
from kc_contracts.appraisal_events import DeAnReturnedV1
from kc_contracts.subjects import stream_name, subject_for
from kc_registry.main import create_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.keys import ensure_instance_key
from kc_runtime.settings import Settings
from kc_testing.fixtures import SettingsFactory, SigningPublisher, bearer, served

KC = str(Path(sys.executable).parent / "kc")
NOW = datetime(2024, 6, 1, tzinfo=UTC)
TAX_CODES = ("0100112437", "0101243150", "0100109106")  # valid check digits


@pytest.fixture
def store() -> str:
    return "sqlite"


def kc_verify(settings: Settings, run_file: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:  # type: ignore[type-arg]
    report = run_file.parent / "verify.json"
    done = subprocess.run(
        [KC, "audit", "verify", "--instance", "tinh-40", "--run-file", str(run_file), "--report", str(report), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "250", "PATH": ""},
    )
    return done, json.loads(report.read_text()) if report.exists() else {}


async def stream_messages(settings: Settings) -> list[tuple[int, str]]:
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream_name("tinh-40"))
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream_name("tinh-40"), seq)
            out.append((seq, json.loads(msg.data)["source"]))
        return out
    finally:
        await nc.close()


async def test_an_event_missing_at_the_tail_of_a_publishers_chain_is_reported(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = make_settings("registry")
    nc = await nats.connect(settings.nats_url)
    await ensure_streams(nc.jetstream(), StreamPlan(("tinh-40",)))
    await nc.close()
    app = create_app(settings)
    with served(app) as base:
        run_file = settings.var_dir / "run.json"  # as make run writes it; the keys folder beside it
        ensure_instance_key(settings.key_folder, "bo", settings.trust_path)  # kc audit's token: the ministry's
        run_file.write_text(
            json.dumps({"nats": settings.nats_url, "services": {"tinh-40/registry": base}}), encoding="utf-8"
        )
        async with httpx.AsyncClient(base_url=base, headers=bearer(settings), timeout=30) as http:
            for n, tax_code in enumerate(TAX_CODES):
                created = await http.post(
                    "/establishments",
                    json={
                        "name": f"Cơ sở mây tre đan số {n + 1}",
                        "tax_code": tax_code,
                        "legal_form": "ho_kinh_doanh",
                        "commune_code": "17419",
                    },
                )
                assert created.status_code == 201, created.text
            for _ in range(300):  # the relay publishes in the background
                if len(await stream_messages(settings)) == 3:
                    break
                await asyncio.sleep(0.1)

            clean, report = kc_verify(settings, run_file)
            assert clean.returncode == 0, clean.stdout + clean.stderr
            assert report["publisher_heads"]["/kc/tinh-40/registry"]["seq"] == 3

            # the attack: the registry's last event removed; another publisher of the instance goes on
            messages = await stream_messages(settings)
            last = max(seq for seq, source in messages if source == "/kc/tinh-40/registry")
            nc = await nats.connect(settings.nats_url)
            js = nc.jetstream()
            await js.delete_msg(stream_name("tinh-40"), last)
            other = DeAnReturnedV1(
                de_an_id=uuid4(),
                code="KCĐP-40-2024-07",
                title="Đào tạo nghề mây tre đan",
                level="dia_phuong",
                de_an_type="kcdp",
                plan_year=2024,
                province_code="40",
                status="du_thao",
                at=NOW,
                actor="can-bo",
                reason="Thiếu bản vẽ",
            )
            envelope = Envelope.wrap(  # another publisher's chain, valid on its own
                other,
                instance="tinh-40",
                service="appraisal",
                stream_id=other.de_an_id,
                stream_version=3,
                time=other.at,
            )
            await js.publish(
                subject_for("tinh-40", other),
                SigningPublisher.of(settings).sign(envelope),
                stream=stream_name("tinh-40"),
                headers={"Nats-Msg-Id": envelope.id},
            )
            await nc.close()

            caught, report = kc_verify(settings, run_file)
            assert caught.returncode == 1, caught.stdout + caught.stderr
            tail = [f for f in report["failures"] if f["reason"] == "missing_tail"]
            assert len(tail) == 1, report["failures"]
            assert tail[0]["publisher"] == "/kc/tinh-40/registry"
            assert "3" in tail[0]["message"] and "#2" in tail[0]["message"]
            assert "missing_tail" in caught.stdout

            # without the publishers' heads (--no-heads) the stream alone looks whole: what it was before
            blind, _ = kc_verify(settings, run_file, "--no-heads")
            assert blind.returncode == 0, blind.stdout + blind.stderr
    app.state.runtime.close()
