"""``GET /metrics`` on real running services (uvicorn, real nats-server), parsed by prometheus-client's
own text parser, moving as a small scenario runs: a command counts by route template, the relay's lag
returns to 0, the consumer's lag is sampled from JetStream, a poison message counts a dead letter."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from uuid import uuid4

import httpx
import nats
from kc_appraisal.main import create_app as appraisal_app
from kc_console.main import create_app as console_app
from kc_console.settings import ConsoleSettings
from kc_contracts.subjects import stream_name
from kc_notifications.main import create_app as notifications_app
from kc_notifications.settings import NotificationSettings
from kc_ops.natsserver import NatsServer
from kc_planning.main import create_app as planning_app
from kc_registry.main import create_app as registry_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.settings import Settings
from kc_testing.fixtures import SettingsFactory, bearer, eventually, served
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(base: str, settings: Settings) -> Samples:
    """Every sample ``base``/metrics exposes, parsed as Prometheus parses it (name, labels) -> value."""
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{base}/metrics", headers=bearer(settings, "kiem_toan_tinh"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


ESTABLISHMENT = {
    "name": "Công ty TNHH Cơ khí Đúc Thành Phương",
    "tax_code": "0100109106",
    "legal_form": "doanh_nghiep_nho_va_vua",
    "unit_system": "truoc_2025",
    "commune_code": "11770",
    "sectors": ["co_khi_che_tao"],
    "employees": 45,
    "revenue_vnd": 30_000_000_000,
}


def de_an(beneficiary: str) -> dict[str, object]:
    return {
        "code": "KCĐP-31-2023-04",
        "title": "Mô hình trình diễn sản xuất đúc kim loại",
        "level": "dia_phuong",
        "de_an_type": "kcdp",
        "plan_year": 2023,
        "implementing_unit": "Trung tâm Khuyến công Hải Phòng",
        "activity_contents": ["3"],
        "beneficiary_ids": [beneficiary],
        "budget_lines": [
            {
                "cost_item": "Máy đúc áp lực",
                "support_item": "mo_hinh_trinh_dien",
                "total_cost_vnd": 2_000_000_000,
                "support_requested_vnd": 600_000_000,
                "counterpart_vnd": 1_400_000_000,
            }
        ],
    }


async def test_metrics_move_as_a_command_flows_and_a_poison_message_is_dead_lettered(
    make_settings: SettingsFactory, nats_server: NatsServer
) -> None:
    registry_settings = make_settings("registry", instance="tinh-31")
    appraisal_settings = make_settings("appraisal", instance="tinh-31", metrics_sample_seconds=0.5)
    registry = registry_app(registry_settings)
    appraisal = appraisal_app(appraisal_settings)
    nc = await nats.connect(registry_settings.nats_url)
    js = nc.jetstream()
    await ensure_streams(js, StreamPlan(("tinh-31", "bo")))

    http = httpx.AsyncClient(timeout=30)
    with served(registry, name="registry") as reg, served(appraisal, name="appraisal") as apr:
        await eventually(lambda: registry.state.runtime.bus_started and appraisal.state.runtime.bus_started)

        # the permission: no token, no metrics; an officer's token is not the auditor's
        assert (await http.get(f"{reg}/metrics")).status_code == 401
        refused = await http.get(f"{reg}/metrics", headers=bearer(registry_settings, "so_ct"))
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"

        before = await scrape(reg, registry_settings)
        assert value(before, "kc_service_info", service="registry", kc_instance="tinh-31") == 1.0
        assert value(before, "kc_relay_lag_events") == 0.0
        assert value(before, "kc_http_requests_total", method="POST", route="/establishments", status="201") is None
        # the refusals above are counted by route template too
        assert value(before, "kc_http_requests_total", method="GET", route="/metrics", status="401") == 1.0

        # the bus away: the command is saved, not published — the relay's lag shows it (KcRelayLagGrowing)
        nats_server.stop()
        officer = bearer(registry_settings)
        created = await http.post(f"{reg}/establishments", json=ESTABLISHMENT, headers=officer)
        assert created.status_code == 201, created.text
        establishment = created.json()["id"]
        await asyncio.sleep(1.0)
        assert value(await scrape(reg, registry_settings), "kc_relay_lag_events") == 1.0
        nats_server.start()
        assert (await http.get(f"{reg}/establishments/{establishment}", headers=officer)).status_code == 200
        assert (await http.get(f"{reg}/no-such-route/{establishment}", headers=officer)).status_code == 404

        after = await scrape(reg, registry_settings)
        assert value(after, "kc_http_requests_total", method="POST", route="/establishments", status="201") == 1.0
        route = "/establishments/{establishment_id}"
        assert value(after, "kc_http_requests_total", method="GET", route=route, status="200") == 1.0
        assert value(after, "kc_http_request_duration_seconds_count", method="POST", route="/establishments") == 1.0
        assert value(after, "kc_http_requests_total", method="GET", route="(unmatched)", status="404") == 1.0
        assert not any(establishment in dict(labels).get("route", "") for _, labels in after)  # never a raw path
        assert value(after, "kc_projection_quarantined_events", projection="registry-establishments") == 0.0

        # the relay publishes what was saved: its lag returns to 0, what it published is counted
        async def relay_caught_up() -> bool:
            now = await scrape(reg, registry_settings)
            return value(now, "kc_relay_lag_events") == 0.0 and (value(now, "kc_relay_published_total") or 0) >= 1

        await eventually(relay_caught_up, timeout=30, interval=0.3)

        # the appraisal's inbox applies it; its durable's lag is sampled from JetStream and drains to 0
        def applied(consumer: str) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                now = await scrape(apr, appraisal_settings)
                return (
                    (value(now, "kc_inbox_messages_total", consumer=consumer, outcome="applied") or 0) >= 1
                    and value(now, "kc_consumer_pending_messages", consumer=consumer) == 0.0
                    and value(now, "kc_consumer_ack_pending_messages", consumer=consumer) == 0.0
                )

            return check

        consumer = next(s.inbox.name for s in appraisal.state.runtime.subscriptions if s.source_instance == "tinh-31")
        first_sample = value(
            await scrape(apr, appraisal_settings), "kc_consumer_sample_timestamp_seconds", consumer=consumer
        )
        await eventually(applied(consumer), timeout=30, interval=0.5)
        # sampled again and again (every metrics_sample_seconds), not once at start
        sampled = value(
            await scrape(apr, appraisal_settings), "kc_consumer_sample_timestamp_seconds", consumer=consumer
        )
        assert first_sample is not None and sampled is not None and sampled > first_sample
        # a draft đề án of plan year 2023: counted by state, and as past its dossier deadline (2022)
        programme = await scrape(apr, appraisal_settings)
        assert value(programme, "kc_de_an", status="du_thao", level="dia_phuong") is None
        assert value(programme, "kc_de_an_unsubmitted", due="overdue") == 0.0
        draft = await http.post(f"{apr}/de-an", json=de_an(establishment), headers=bearer(appraisal_settings))
        assert draft.status_code == 201, draft.text

        async def counted() -> bool:
            now = await scrape(apr, appraisal_settings)
            return value(now, "kc_de_an", status="du_thao", level="dia_phuong") == 1.0

        await eventually(counted, timeout=30, interval=0.3)
        programme = await scrape(apr, appraisal_settings)
        assert value(programme, "kc_de_an_unsubmitted", due="overdue") == 1.0
        assert value(programme, "kc_de_an_unsubmitted", due="tomorrow") == 0.0
        route = "/de-an"
        assert value(programme, "kc_http_requests_total", method="POST", route=route, status="201") == 1.0

        before_poison = await scrape(apr, appraisal_settings)
        assert value(before_poison, "kc_dead_letters_total", consumer=consumer, reason="envelope") is None

        # a poison message on the registry's subject: dead-lettered, counted by the kind of its reason
        subject = "kc.tinh-31.registry.establishment.registered.v1"
        await js.publish(subject, b"\xff not json", stream=stream_name("tinh-31"))

        async def dead_lettered() -> bool:
            now = await scrape(apr, appraisal_settings)
            return value(now, "kc_dead_letters_total", consumer=consumer, reason="envelope") == 1.0

        await eventually(dead_lettered, timeout=30, interval=0.3)
        final = await scrape(apr, appraisal_settings)
        assert value(final, "kc_inbox_messages_total", consumer=consumer, outcome="dead_lettered") == 1.0
        assert {"kc_consumer_sample_timestamp_seconds", "kc_projection_lag_events"} <= names(final)
    await http.aclose()
    await nc.close()


async def test_planning_and_notifications_serve_their_metrics(make_settings: SettingsFactory) -> None:
    """Every runtime service answers /metrics: planning (publisher and consumer), notifications with its
    e-mails and webhook deliveries by outcome (zero of each known one before anything was sent)."""
    planning_settings = make_settings("planning", instance="tinh-31")
    notifications_settings = NotificationSettings(**make_settings("notifications", instance="tinh-31").model_dump())
    nc = await nats.connect(planning_settings.nats_url)
    await ensure_streams(nc.jetstream(), StreamPlan(("tinh-31", "bo")))
    planning = planning_app(planning_settings)
    notifications = notifications_app(notifications_settings)
    with served(planning, name="planning") as pla, served(notifications, name="notifications") as noti:
        await eventually(lambda: planning.state.runtime.bus_started and notifications.state.runtime.bus_started)
        plan = await scrape(pla, planning_settings)
        assert value(plan, "kc_service_info", service="planning", kc_instance="tinh-31") == 1.0
        assert value(plan, "kc_relay_lag_events") == 0.0

        async def sampled() -> bool:  # every durable's lag, once sampled from JetStream
            now = await scrape(noti, notifications_settings)
            consumers = {s.inbox.name for s in notifications.state.runtime.subscriptions}
            return all(value(now, "kc_consumer_pending_messages", consumer=c) == 0.0 for c in consumers)

        await eventually(sampled, timeout=30, interval=0.5)
        sent = await scrape(noti, notifications_settings)
        for status in ("da_gui", "that_bai", "cho_gui"):
            assert value(sent, "kc_emails", status=status) == 0.0
        for outcome in ("da_gui", "thu_lai", "that_bai", "huy"):
            assert value(sent, "kc_webhook_deliveries", outcome=outcome) == 0.0
    await nc.close()


async def test_the_console_serves_its_metrics_to_the_auditor(tmp_path: Path) -> None:
    """The console has no route table (people sign in by session): its /metrics checks the auditor's
    token itself; its pages are counted by route template, its accounts by status."""
    settings = ConsoleSettings(instance="tinh-40", var_dir=tmp_path / "var")
    console = console_app(settings)
    console.state.console.store.create_account(
        "so.test", display_name="Nguyễn Văn A", role="so_ct", password="mật khẩu đủ dài 2024", by="test"
    )
    service_settings = Settings(instance="tinh-40", service="console", var_dir=tmp_path / "var")
    with served(console, name="console") as base:
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(f"{base}/metrics")).status_code == 401
            officer = await http.get(f"{base}/metrics", headers=bearer(service_settings, "so_ct"))
            assert officer.status_code == 403 and officer.headers["content-type"] == "application/problem+json"
            page = await http.get(f"{base}/de-an/tinh-40/{uuid4()}")  # not signed in: to the sign-in page
            assert page.status_code in (302, 303), page.status_code
        samples = await scrape(base, service_settings)
    assert value(samples, "kc_service_info", service="console", kc_instance="tinh-40") == 1.0
    assert value(samples, "kc_console_accounts", status="active") == 1.0
    assert value(samples, "kc_console_accounts", status="pending") == 0.0
    assert value(samples, "kc_http_requests_total", method="GET", route="/metrics", status="401") == 1.0
    page_route = "/de-an/{where}/{de_an_id}"
    assert value(samples, "kc_http_requests_total", method="GET", route=page_route, status=str(page.status_code)) == 1
