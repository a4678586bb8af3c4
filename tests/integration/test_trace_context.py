"""W3C trace context on one real nats-server: the trace an HTTP command starts reaches the envelopes of
what it causes in another service.

UBND tỉnh approves the local plan over HTTP with a ``traceparent``; planning's ``plan.approved`` carries
that trace (planning's own span under the caller's) and appraisal's ``de-an.approved``, which the plan's
message caused, carries it on (appraisal's span under planning's). A request without a
``traceparent`` starts a trace of its own.
"""

from __future__ import annotations

from typing import Any

import httpx
import nats
from kc_appraisal.main import create_app as appraisal_app
from kc_contracts import Envelope
from kc_contracts.subjects import stream_name
from kc_planning.main import create_app as planning_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.tracing import TraceContext
from kc_testing.fixtures import SettingsFactory, bearer, de_an_draft, eventually

CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
STATE = "congo=t61rcWkgMzE"


def client(app: Any, role: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers=bearer(app.state.runtime.settings, role),
    )


async def test_a_traceparent_from_an_http_command_reaches_the_consequence_in_another_service(
    make_settings: SettingsFactory,
) -> None:
    appraisal = appraisal_app(make_settings("appraisal", instance="tinh-40"))
    planning = planning_app(make_settings("planning", instance="tinh-40"))
    nc = await nats.connect(appraisal.state.runtime.settings.nats_url)
    js = nc.jetstream()
    await ensure_streams(js, StreamPlan(("tinh-40", "bo")))

    async with appraisal.router.lifespan_context(appraisal), planning.router.lifespan_context(planning):
        apr, plan = client(appraisal, "so_ct"), client(planning, "ubnd_tinh")
        await eventually(lambda: appraisal.state.runtime.bus_started and planning.state.runtime.bus_started)
        made = await apr.post(
            "/de-an",
            json=de_an_draft("KCĐP-40-2024-11"),
        )
        assert made.status_code == 201, made.text
        # a request without a traceparent starts a trace; the response names this service's span
        own = TraceContext.parse(made.headers["traceparent"])
        assert own is not None and own.trace_id != CALLER.split("-")[1]
        url = f"/de-an/{made.json()['id']}"
        for action, body in [
            ("submit", {"submitted_on": "2023-10-20"}),
            (
                "base-appraisal",
                {
                    "mode": "can_bo",
                    "conclusion": "dong_y",
                    "recommended_support_vnd": 90_000_000,
                    "appraised_on": "2023-11-10",
                },
            ),
            ("propose", {"on": "2023-11-20"}),
        ]:
            response = await apr.post(f"{url}/{action}", json=body)
            assert response.status_code == 200, response.text

        async def line_proposed() -> bool:
            response = await plan.get("/plans/dia_phuong/2024")
            return response.status_code == 200 and len(response.json()["lines"]) == 1

        await eventually(line_proposed)
        approved = await plan.post(
            "/plans/dia_phuong/2024/approvals",
            json={"decision_number": "12/QĐ-UBND", "decision_date": "2023-12-25", "signer": "Chủ tịch UBND tỉnh"},
            headers={"traceparent": CALLER, "tracestate": STATE},
        )
        assert approved.status_code == 200, approved.text
        answered = TraceContext.parse(approved.headers["traceparent"])
        assert answered is not None and answered.trace_id == CALLER.split("-")[1]

        async def status() -> str:
            return str((await apr.get(url)).json()["status"])

        await eventually(lambda: _is(status, "da_phe_duyet"))
        await eventually(lambda: appraisal.state.runtime.relay.published >= 4)
        await apr.aclose()
        await plan.aclose()

    info = await js.stream_info(stream_name("tinh-40"))
    published = [
        Envelope.from_json((await js.get_msg(stream_name("tinh-40"), s)).data)
        for s in range(info.state.first_seq, info.state.last_seq + 1)
    ]
    await nc.close()
    by_type = {e.type: e for e in published}
    plan_approved = by_type["kc.planning.plan.approved.v1"]
    de_an_approved = by_type["kc.appraisal.de-an.approved.v1"]

    caller = TraceContext.parse(CALLER)
    planning_span = TraceContext.parse(plan_approved.traceparent, plan_approved.tracestate)
    appraisal_span = TraceContext.parse(de_an_approved.traceparent, de_an_approved.tracestate)
    assert caller is not None and planning_span is not None and appraisal_span is not None
    # one trace from the HTTP command to its consequence in another service, a span per service
    assert planning_span.trace_id == appraisal_span.trace_id == caller.trace_id
    assert planning_span.traceparent == approved.headers["traceparent"]
    assert len({caller.span_id, planning_span.span_id, appraisal_span.span_id}) == 3
    assert plan_approved.tracestate == de_an_approved.tracestate == STATE
    # beside the causation chain it mirrors
    assert de_an_approved.causationid == plan_approved.id
    # the đề án's own earlier milestones belong to the requests that made them, not to this trace
    submitted = by_type["kc.appraisal.de-an.submitted.v1"]
    assert submitted.traceparent is not None and caller.trace_id not in submitted.traceparent


async def _is(read: Any, expected: str) -> bool:
    return bool(await read() == expected)
