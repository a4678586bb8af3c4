"""``kc`` speaks to a person: statuses, event names, places and levels by their Vietnamese labels.

A real appraisal service (uvicorn on loopback, its bus on this test's nats-server, a SQLite store)
holds a đề án taken through submission and base appraisal; ``kc`` runs as a person runs it (the
executable, in a subprocess) against the run file pointing at it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import nats
from eventsourcing.persistence import Tracking
from kc_appraisal.main import create_app
from kc_contracts import Envelope
from kc_contracts.registry_events import EstablishmentRegisteredV1
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_testing.fixtures import SettingsFactory, bearer, served

KC = str(Path(sys.executable).parent / "kc")
ALWAYS = [{"start": "2012-07-05", "end": None, "outcome": "dat", "rules": ["eligibility.location@ND45/2012"]}]


def kc(run_file: Path, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KC, *args, "--run-file", str(run_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ | {"COLUMNS": "250", "KC_TOKEN": token},
    )


async def _streams(url: str) -> None:
    nc = await nats.connect(url)
    try:
        await ensure_streams(nc.jetstream(), StreamPlan(("tinh-40",)))
    finally:
        await nc.close()


def test_de_an_list_and_timeline_show_labels_not_codes(make_settings: SettingsFactory, tmp_path: Path) -> None:
    settings = make_settings("appraisal", instance="tinh-40")
    asyncio.run(_streams(settings.nats_url))
    app = create_app(settings)
    coop = uuid4()
    registered = EstablishmentRegisteredV1(
        establishment_id=coop,
        name="HTX mây tre đan Đồng Thành",
        province_code="40",
        commune_code="17419",
        legal_form="hop_tac_xa",
        registered_at=datetime(2022, 1, 1, tzinfo=UTC),
        sectors=["thu_cong_my_nghe"],
        eligibility=ALWAYS,
    )
    envelope = Envelope.wrap(
        registered,
        instance="tinh-40",
        service="registry",
        stream_id=coop,
        stream_version=1,
        time=datetime(2022, 1, 1, tzinfo=UTC),
    )
    app.state.beneficiaries.apply(envelope, registered, Tracking("test@KC_TINH_40", 1))
    with served(app, name="cli-uvicorn") as base:
        officer = bearer(settings, "so_ct", name="can-bo")

        def post(path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
            response = httpx.post(base + path, json=body, headers=officer, timeout=30)
            assert response.status_code == status, response.text
            return dict(response.json())

        d = post(
            "/de-an",
            {
                "code": "KCĐP-40-2024-07",
                "title": "Hỗ trợ máy chẻ nan tự động cho HTX Đồng Thành",
                "level": "dia_phuong",
                "de_an_type": "kcdp",
                "plan_year": 2024,
                "implementing_unit": "Trung tâm Khuyến công Nghệ An",
                "activity_contents": ["3"],
                "beneficiary_ids": [str(coop)],
                "budget_lines": [
                    {
                        "cost_item": "Máy chẻ nan",
                        "support_item": "may_moc_thiet_bi",
                        "content": "3",
                        "total_cost_vnd": 300_000_000,
                        "support_requested_vnd": 120_000_000,
                        "counterpart_vnd": 180_000_000,
                    }
                ],
            },
            201,
        )
        post(f"/de-an/{d['id']}/submit", {"submitted_on": "2023-10-20"})
        post(
            f"/de-an/{d['id']}/base-appraisal",
            {
                "mode": "can_bo",
                "conclusion": "dong_y",
                "recommended_support_vnd": 120_000_000,
                "appraised_on": "2023-11-02",
            },
        )
        run_file = tmp_path / "run.json"
        run_file.write_text(json.dumps({"services": {"tinh-40/appraisal": base}}))
        # a read-only provincial auditor, as KC_TOKEN
        auditor = bearer(settings, "kiem_toan_tinh", name="Kiểm toán tỉnh")["Authorization"].removeprefix("Bearer ")

        deadline = time.monotonic() + 30
        while True:  # the list is a projection: wait until it has the appraisal
            listed = kc(run_file, auditor, "de-an", "list", "tinh-40")
            if "Đạt thẩm định cơ sở" in listed.stdout or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert listed.returncode == 0, listed.stderr
        assert "Đạt thẩm định cơ sở" in listed.stdout and "Tỉnh Nghệ An" in listed.stdout
        assert "dat_co_so" not in listed.stdout and "tinh-40)" not in listed.stdout

        timeline = kc(run_file, auditor, "de-an", "timeline", "tinh-40", d["id"][:8])
        assert timeline.returncode == 0, timeline.stderr
        for name in ("Lập dự thảo", "Nộp hồ sơ", "Thẩm định cơ sở"):
            assert name in timeline.stdout, timeline.stdout
        for code in ("Drafted", "Submitted", "Appraised"):
            assert code not in timeline.stdout, timeline.stdout
        assert "can-bo (Sở Công Thương, Tỉnh Nghệ An)" in timeline.stdout  # who, by role and place
        assert "so_ct@" not in timeline.stdout
        # business moments in Viet Nam time, dd/mm/yyyy
        today = datetime.now(UTC).astimezone().strftime("/%Y")
        assert today in timeline.stdout

        audited = subprocess.run(
            [KC, "audit", "timeline", d["id"], "--instance", "tinh-40", "--run-file", str(run_file)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=os.environ | {"COLUMNS": "250", "KC_TOKEN": auditor},
        )
        assert audited.returncode == 0, audited.stdout + audited.stderr
        assert "Thẩm định cơ sở" in audited.stdout and "Cán bộ thẩm định" in audited.stdout
        assert "trạng thái hiện tại / status now: Đạt thẩm định cơ sở" in audited.stdout
        assert "Appraised" not in audited.stdout and "can_bo" not in audited.stdout
    app.state.runtime.close()
