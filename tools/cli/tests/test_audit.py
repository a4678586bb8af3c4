"""``kc audit`` against a real registry's signed events on a real nats-server, and offline bundles.

The events are the registry's own (its relay signs and chains them with the instance key). The
auditor's commands run as a person runs them: the ``kc`` executable in a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from kc_contracts import Envelope
from kc_contracts.integrity import Signer
from kc_contracts.subjects import stream_name
from kc_ops.natsserver import NatsServer
from kc_registry.main import create_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.settings import Settings
from kc_testing.fixtures import SettingsFactory, bearer, eventually

KC = str(Path(sys.executable).parent / "kc")
TAX_CODES = ("0100112437", "0101243150", "0100109106")  # valid check digits


@pytest.fixture(params=["sqlite"])  # the audit reads the bus: one store kind is enough
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def kc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KC, "audit", *args], capture_output=True, text=True, timeout=120, env={"COLUMNS": "250", "PATH": ""}
    )


async def register_establishments(settings: Settings) -> int:
    """Three establishments and a change through the registry's HTTP API; returns the stream's size."""
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    await ensure_streams(js, StreamPlan(("tinh-40",)))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry", headers=bearer(settings)) as http:
            await eventually(lambda: app.state.runtime.bus_started)
            for n, tax_code in enumerate(TAX_CODES):
                created = await http.post(
                    "/establishments",
                    json={
                        "name": f"Cơ sở mây tre đan số {n + 1}",
                        "tax_code": tax_code,
                        "legal_form": "ho_kinh_doanh",
                        "commune_code": "17419",
                        "sectors": ["thu_cong_my_nghe"],
                    },
                )
                assert created.status_code == 201, created.text
            renamed = await http.patch(
                f"/establishments/{created.json()['id']}", json={"version": 1, "street": "Xóm 3"}
            )
            assert renamed.status_code == 200, renamed.text

            async def published() -> int:
                return int((await js.stream_info(stream_name("tinh-40"))).state.messages)

            for _ in range(400):  # the relay publishes in the background
                if await published() >= 4:
                    break
                await asyncio.sleep(0.05)
            total = await published()
    await nc.close()
    return total


async def last_message(url: str) -> tuple[str, bytes]:
    nc = await nats.connect(url)
    msg = await nc.jetstream().get_last_msg(stream_name("tinh-40"), "kc.tinh-40.>")
    await nc.close()
    return msg.subject, msg.data or b""


async def publish(url: str, subject: str, data: bytes) -> int:
    nc = await nats.connect(url)
    ack = await nc.jetstream().publish(subject, data, stream=stream_name("tinh-40"))
    await nc.close()
    return int(ack.seq)


def report_of(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def test_verify_export_and_tampering_are_named(
    make_settings: SettingsFactory, nats_server: NatsServer, tmp_path: Path
) -> None:
    settings = make_settings("registry")
    total = asyncio.run(register_establishments(settings))
    assert total >= 4
    trust = str(settings.trust_path)
    on_bus = ("--instance", "tinh-40", "--nats-url", nats_server.url, "--trust", trust)

    # 1. the live stream verifies, every message
    clean = kc("verify", *on_bus, "--report", str(tmp_path / "clean.json"))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert f"all {total} verified" in clean.stdout
    report = report_of(tmp_path / "clean.json")
    assert report["verified"] is True and report["messages"] == total and report["failures"] == []

    # 2. an export verifies offline: the server is gone
    bundle = tmp_path / "bundle"
    exported = kc("export", *on_bus, "--keys-dir", str(settings.key_folder), "--out", str(bundle))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["messages"] == total
    assert sum(p["events"] for p in manifest["publishers"].values()) == total
    assert list(manifest["keys"]) and all(kid.startswith("ed25519:") for kid in manifest["keys"])

    # 3. a message with a forged signature is put on the bus: verify names it and fails
    subject, data = asyncio.run(last_message(nats_server.url))
    forged = json.loads(data)
    forged["data"]["name"] = "Cơ sở giả mạo"
    forged["id"] = forged["id"] + "-forged"
    forged_seq = asyncio.run(publish(nats_server.url, subject, json.dumps(forged).encode()))
    caught = kc("verify", *on_bus, "--report", str(tmp_path / "forged.json"))
    assert caught.returncode == 1
    failures = report_of(tmp_path / "forged.json")["failures"]
    assert {f["seq"] for f in failures} == {forged_seq}
    assert any(f["event_id"] == forged["id"] for f in failures)
    assert f"#{forged_seq}" in caught.stdout and forged["id"] in caught.stdout

    # a key the trust file does not know signs another: named as an unknown key
    stranger = Signer.generate("tinh-40")
    body = Envelope.from_json(data).body() | {"id": forged["id"] + "-stranger"}
    stranger_seq = asyncio.run(
        publish(nats_server.url, subject, json.dumps(stranger.sign(body, seq=99, prev_hash=None)).encode())
    )
    caught = kc("verify", *on_bus, "--report", str(tmp_path / "stranger.json"))
    assert caught.returncode == 1
    reasons = {f["seq"]: f["reason"] for f in report_of(tmp_path / "stranger.json")["failures"]}
    assert reasons[stranger_seq] == "unknown_key"

    nats_server.stop()
    offline = kc("verify", "--bundle", str(bundle), "--trust", trust)
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert f"all {total} verified" in offline.stdout

    # 4. one byte of one exported event changed: the offline check fails and names that event
    lines = (bundle / "events.jsonl").read_bytes().split(b"\n")
    victim = json.loads(lines[1])
    at = lines[1].index(b'"time":"') + len(b'"time":"') + 3  # a digit of the year
    lines[1] = lines[1][:at] + (b"8" if lines[1][at : at + 1] != b"8" else b"7") + lines[1][at + 1 :]
    (bundle / "events.jsonl").write_bytes(b"\n".join(lines))
    tampered = kc("verify", "--bundle", str(bundle), "--trust", trust, "--report", str(tmp_path / "tampered.json"))
    assert tampered.returncode == 1
    failures = report_of(tmp_path / "tampered.json")["failures"]
    assert {f["event_id"] for f in failures if f["seq"] is not None} == {victim["id"]}  # that event, no other
    assert {f["reason"] for f in failures} >= {"file_changed", "bad_signature"}
    assert victim["id"] in tampered.stdout
    assert "Traceback" not in tampered.stdout + tampered.stderr


def test_a_person_gets_one_line_not_a_traceback(tmp_path: Path) -> None:
    nothing = kc("verify", "--bundle", str(tmp_path / "missing"))
    assert nothing.returncode == 2
    assert "Traceback" not in nothing.stdout + nothing.stderr
    assert len(nothing.stderr.strip().splitlines()) == 1

    both = kc("verify", "--bundle", str(tmp_path), "--instance", "tinh-40")
    assert both.returncode == 2
    assert "--instance" in both.stderr

    unreachable = kc(
        "verify", "--instance", "tinh-40", "--nats-url", "nats://127.0.0.1:9", "--trust", str(tmp_path / "t")
    )
    assert unreachable.returncode == 2
    assert "Traceback" not in unreachable.stdout + unreachable.stderr
