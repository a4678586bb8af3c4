"""HTTP fuzzing of every service's OpenAPI with schemathesis (issue 9): no 5xx, every 4xx a problem+json.

Each service runs for real: its app under uvicorn on a free loopback port, with its lifespan (bus,
relay, projections) on this test's own nats-server and a SQLite store in a temporary folder; once on a
province's instance (Nghệ An, tinh-40) and, for the services the ministry runs, once on bo. The schema
is read from the running server (``/openapi.json``) and every operation in it is fuzzed:

* positive cases (valid by the schema) on generated identifiers;
* positive cases on resources seeded beforehand (an establishment with a document and a recognition,
  a đề án, a plan envelope, a recipient and a webhook), so that the handlers, not only the 404 path,
  see data;
* negative cases (violating the schema: wrong types, missing fields, bad formats, extra fields);
* cases without a token, which must all be 401 problem+json.

Each authenticated case carries a token for a role holding the route's permission on the instance
(``ROUTE_PERMISSIONS``, ``roles.toml``), so that the fuzzer reaches the handlers rather than a 403;
a route no role may use on that instance (e.g. base-level appraisal on bo) is fuzzed with the
instance's main role and must answer 403 problem+json.

Checks: schemathesis's ``not_a_server_error`` and :func:`problem_json` (every 4xx is
``application/problem+json`` with ``title`` and ``status``; a 422 lists ``errors[]`` with ``field``,
``message`` (Vietnamese) and ``message_en``). Failures are collected over all cases of a service and
reported together, each with a curl command that reproduces it. Generation is derandomised (fixed
seeds), so CI replays the same cases.

Nothing is excluded: every operation of every schema is fuzzed, the document uploads (multipart)
included. The only thing held back is the network: host names in fuzzed webhook URLs are not looked
up (see :func:`offline_getaddrinfo`), and no webhook or mail is sent (no event reaches the service).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import nats
import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, Verbosity
from hypothesis import strategies as st
from kc_appraisal.main import create_app as appraisal_app
from kc_appraisal.permissions import ROUTE_PERMISSIONS as APPRAISAL
from kc_notifications.main import create_app as notifications_app
from kc_notifications.permissions import ROUTE_PERMISSIONS as NOTIFICATIONS
from kc_notifications.settings import NotificationSettings
from kc_planning.main import create_app as planning_app
from kc_planning.permissions import ROUTE_PERMISSIONS as PLANNING
from kc_registry.main import create_app as registry_app
from kc_registry.permissions import ROUTE_PERMISSIONS as REGISTRY
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.settings import Settings
from kc_runtime.web.auth import ROLES, RUNTIME_ROUTE_PERMISSIONS, Principal
from kc_testing.fixtures import SettingsFactory, bearer
from kc_testing.fixtures import served as serve
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from starlette.routing import compile_path

PROBLEM = "application/problem+json"
POSITIVE_EXAMPLES = 10  # per operation, on generated identifiers
SEEDED_EXAMPLES = 6  # per operation with a seeded path identifier
NEGATIVE_EXAMPLES = 8  # per operation
ANONYMOUS_EXAMPLES = 2  # per operation, without a token
FAKE_WEBHOOK_HOST = "hooks.fuzz.invalid"  # allow-listed, never resolved, never delivered to


@pytest.fixture
def store() -> str:
    """SQLite only: PostgreSQL sits behind the same HTTP layer and has its own component tests."""
    return "sqlite"


# -- tokens: a role holding the route's permission on the instance -----------------------------------


def role_for(permission: str | None, instance: str) -> tuple[str, str]:
    """(role, scope): the first role (the Sở or the Cục first) that may use ``permission`` on ``instance``;
    the instance's main role when none may (the route must then answer 403)."""
    candidates = sorted(
        ROLES.values(), key=lambda r: (r.national != (instance == "bo"), r.name not in ("so_ct", "cuc"))
    )
    for role in candidates:
        scope = "bo" if role.national else (instance if instance != "bo" else "tinh-40")
        principal = Principal(sub="fuzz", name="fuzz", role=role.name, scope=scope, issuer=scope, token_id="")
        if permission is not None and principal.may(permission, instance):
            return role.name, scope
    return ("cuc", "bo") if instance == "bo" else ("so_ct", instance)


# -- the service under test ----------------------------------------------------------------------------


@dataclass
class Served:
    """A running service: where it answers, its settings, and the identifiers seeded into it."""

    base_url: str
    settings: Settings
    permissions: dict[tuple[str, str], str]
    ids: dict[str, list[str]] = field(default_factory=dict)  # path parameter -> seeded values

    @property
    def instance(self) -> str:
        return self.settings.instance

    def headers_for(self, method: str, path: str) -> dict[str, str]:
        """A token for the route ``method path`` (its template), or none for a public route."""
        if (method, path) not in self.permissions:
            return {}
        role, scope = role_for(self.permissions[(method, path)], self.instance)
        return bearer(self.settings, role, scope=scope, name="Cán bộ kiểm thử")

    def seed(self, method: str, template: str, path: str | None = None, **kwargs: Any) -> dict[str, Any]:
        headers = self.headers_for(method, template)
        response = requests.request(method, self.base_url + (path or template), headers=headers, timeout=30, **kwargs)
        assert response.status_code < 300, (method, path or template, response.status_code, response.text)
        body: dict[str, Any] = response.json()
        return body


@dataclass
class Target:
    name: str
    instance: str
    build: Callable[[SettingsFactory, str], FastAPI]
    permissions: dict[tuple[str, str], str]
    seed: Callable[[Served], None]

    @property
    def id(self) -> str:
        return f"{self.name}@{self.instance}"


def wait_ready(base_url: str) -> None:
    """Until /readyz says the bus side runs (a 503 before that is the probe's answer, not a fault)."""
    deadline = time.monotonic() + 30
    while (ready := requests.get(f"{base_url}/readyz", timeout=5)).status_code != 200:
        assert time.monotonic() < deadline, ready.text
        time.sleep(0.1)


async def _ensure_streams(url: str, instances: tuple[str, ...]) -> None:
    nc = await nats.connect(url)
    try:
        await ensure_streams(nc.jetstream(), StreamPlan(instances))
    finally:
        await nc.close()


# -- seeded resources ------------------------------------------------------------------------------------


def seed_registry(s: Served) -> None:
    establishment = {
        "name": "Cơ sở đúc đồng Đông Hà",
        "tax_code": "0100112437",
        "legal_form": "ho_kinh_doanh",
        "commune_code": "17419",
        "sectors": ["co_khi_che_tao"],
    }
    eid = s.seed("POST", "/establishments", json=establishment)["id"]
    base = "/establishments/{establishment_id}"
    document = s.seed(
        "POST",
        f"{base}/documents",
        f"/establishments/{eid}/documents",
        files={"file": ("bctc-2023.pdf", b"%PDF-1.7 bao cao tai chinh", "application/pdf")},
        data={"kind": "bao_cao_tai_chinh"},
    )
    recognition = s.seed(
        "POST",
        f"{base}/recognitions",
        f"/establishments/{eid}/recognitions",
        json={
            "scheme": "ocop",
            "product_name": "Chè xanh",
            "stars": 4,
            "decision_number": "56/QĐ-UBND",
            "decision_date": "2024-05-10",
            "issuer": "UBND tỉnh Nghệ An",
        },
    )
    s.ids = {"establishment_id": [eid], "sha256": [document["sha256"]], "recognition_id": [recognition["id"]]}


def seed_appraisal(s: Served) -> None:
    national = s.instance == "bo"
    draft = {
        "code": "KCQG-2024-77" if national else "KCĐP-40-2024-77",
        "title": "Hỗ trợ máy móc thiết bị cho nhóm cơ sở" if national else "Đào tạo nghề mây tre đan",
        "level": "quoc_gia" if national else "dia_phuong",
        "de_an_type": "kcqg_nhom" if national else "kcdp",
        "plan_year": 2024,
        "implementing_unit": "Trung tâm Khuyến công Nghệ An",
        "activity_contents": ["3" if national else "1"],
        "budget_lines": [
            {
                "cost_item": "Máy móc" if national else "Lớp đào tạo",
                "support_item": "may_moc_thiet_bi" if national else "dao_tao_nghe",
                "total_cost_vnd": 300_000_000 if national else 90_000_000,
                "support_requested_vnd": 100_000_000 if national else 90_000_000,
                "counterpart_vnd": 200_000_000 if national else 0,
            }
        ],
    }
    s.ids = {"de_an_id": [s.seed("POST", "/de-an", json=draft)["id"]]}


def seed_planning(s: Served) -> None:
    level = "quoc_gia" if s.instance == "bo" else "dia_phuong"
    s.seed(
        "PUT",
        "/plans/{level}/{year}/envelope",
        f"/plans/{level}/2024/envelope",
        json={"envelope": {level: 1_000_000_000}, "decision_number": "12/QĐ-UBND"},
    )
    s.ids = {"level": [level], "year": ["2024"]}


def seed_notifications(s: Served) -> None:
    key = "don-vi:trung-tam-khuyen-cong-nghe-an"
    recipient = {"name": "Trung tâm Khuyến công Nghệ An", "email": "ttkc@nghean.gov.vn", "role": "don_vi_thuc_hien"}
    s.seed("PUT", "/recipients/{key}", f"/recipients/{key}", json=recipient | {"scope": "tinh-40"})
    hook = {"url": f"https://{FAKE_WEBHOOK_HOST}/hook", "event_types": ["*"]}
    s.ids = {"key": [key], "sub_id": [s.seed("POST", "/webhooks", json=hook)["id"]]}


def _notifications(make: SettingsFactory, instance: str) -> FastAPI:
    settings = NotificationSettings(
        **make("notifications", instance=instance).model_dump(),
        webhook_allow_hosts=[FAKE_WEBHOOK_HOST],
        sender_interval_seconds=3600.0,  # the mail and webhook senders run once at start (nothing due), then sleep
    )
    return notifications_app(settings)


def _targets() -> list[Target]:
    targets = [
        Target("registry", "tinh-40", lambda m, i: registry_app(m("registry", instance=i)), REGISTRY, seed_registry)
    ]
    for instance in ("tinh-40", "bo"):  # the ministry runs no registry
        targets += [
            Target(
                "appraisal", instance, lambda m, i: appraisal_app(m("appraisal", instance=i)), APPRAISAL, seed_appraisal
            ),
            Target("planning", instance, lambda m, i: planning_app(m("planning", instance=i)), PLANNING, seed_planning),
            Target("notifications", instance, _notifications, NOTIFICATIONS, seed_notifications),
        ]
    return targets


TARGETS = _targets()


# -- checks ----------------------------------------------------------------------------------------------


def problem_json(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Every 4xx is an RFC 9457 problem+json with title and status; a 422 names each bad field."""
    status = response.status_code
    if not 400 <= status < 500:
        return
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.split(";")[0].strip() == PROBLEM, (
        f"{status} answered as {content_type!r}, not {PROBLEM}: {response.content[:300]!r}"
    )
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"{status} problem body is not JSON: {response.content[:300]!r}") from exc
    assert isinstance(body, dict), f"problem body is not an object: {body!r}"
    assert isinstance(body.get("title"), str) and body["title"], f"problem without a title: {body!r}"
    assert body.get("status") == status, f"problem status {body.get('status')!r} is not the response's {status}"
    if status == 422:
        errors = body.get("errors")
        assert isinstance(errors, list) and errors, f"422 without errors[]: {body!r}"
        for error in errors:
            assert isinstance(error, dict), f"error is not an object: {error!r}"
            for key in ("field", "message", "message_en"):
                assert isinstance(error.get(key), str) and error[key], f"422 error without {key}: {error!r}"


def _sent_token(response: schemathesis.Response) -> str | None:
    """The Authorization header the request carried (ours, a fuzzed one, or none)."""
    return next((v for k, v in response.request.headers.items() if k.lower() == "authorization"), None)


def unauthenticated(token: str | None) -> Callable[..., None]:
    def check(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> None:
        """A request without our token (none, or one schemathesis made up) is a 401."""
        if _sent_token(response) != token:
            assert response.status_code == 401, f"without a valid token: {response.status_code}, not 401"

    return check


def forbidden(token: str | None) -> Callable[..., None]:
    def check(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> None:
        """A route no role may use on this instance refuses every valid token."""
        if _sent_token(response) == token:
            assert response.status_code == 403, f"a route no role may use here answered {response.status_code}, not 403"

    return check


CHECKS = [not_a_server_error, problem_json]


# -- the run ---------------------------------------------------------------------------------------------


@dataclass
class Findings:
    failures: dict[tuple[str, str], str] = field(default_factory=dict)  # (operation, failure title) -> report
    cases: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per operation

    def record(self, label: str, group: FailureGroup) -> None:
        for failure in group.exceptions:
            self.failures.setdefault((label, failure.title), f"{label}: {group.message}")

    def summary(self, name: str, operations: int, elapsed: float) -> str:
        slowest = sorted(self.seconds.items(), key=lambda item: -item[1])[:3]
        return (
            f"fuzz {name}: {operations} operations, {self.cases} cases in {elapsed:.1f} s; "
            f"statuses {dict(sorted(self.statuses.items()))}; slowest "
            + ", ".join(f"{label} {seconds:.1f} s" for label, seconds in slowest)
        )


def offline_getaddrinfo(real: Callable[..., Any]) -> Callable[..., Any]:
    """Host names in fuzzed webhook URLs are not looked up (no DNS traffic leaves the machine): IP
    literals and localhost resolve as usual, any other name is unknown, which the service answers
    with a 422 naming ``url``."""

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(name)
        except ValueError:
            if name != "localhost":
                raise socket.gaierror(socket.EAI_NONAME, "not resolved while fuzzing") from None
        return real(host, *args, **kwargs)

    return resolve


def run_cases(strategy: st.SearchStrategy[schemathesis.Case], examples: int, send: Callable[[Any], None]) -> None:
    @hypothesis.settings(
        max_examples=examples,
        derandomize=True,  # fixed seeds: CI replays the same cases
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # failures are collected and reported, not shrunk
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @hypothesis.given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        send(case)

    run()


def fuzz_operation(op: Any, served: Served, session: requests.Session, findings: Findings) -> None:
    method, label = op.method.upper(), op.label
    public = (method, op.path) not in served.permissions  # /healthz, /readyz
    headers = served.headers_for(method, op.path)
    token = headers.get("Authorization")
    checks = list(CHECKS) if public else [*CHECKS, unauthenticated(token)]
    if not public:
        permission = served.permissions[(method, op.path)]
        role, scope = role_for(permission, served.instance)
        if not Principal("fuzz", "fuzz", role, scope, scope, "").may(permission, served.instance):
            checks.append(forbidden(token))

    def send(case: schemathesis.Case, headers: dict[str, str] = headers, checks: list[Any] = checks) -> None:
        response = case.call(base_url=served.base_url, session=session, headers=headers, timeout=30)
        findings.cases += 1
        findings.statuses[response.status_code] = findings.statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as group:
            findings.record(label if _sent_token(response) == token or public else f"{label} (no token)", group)

    run_cases(op.as_strategy(GenerationMode.POSITIVE), POSITIVE_EXAMPLES, send)
    seeded = {name: values for name, values in served.ids.items() if name in compile_path(op.path)[2]}
    if seeded:
        fixed = st.fixed_dictionaries({name: st.sampled_from(values) for name, values in seeded.items()})
        strategy = fixed.flatmap(lambda ids: op.as_strategy(GenerationMode.POSITIVE, path_parameters=ids))
        run_cases(strategy, SEEDED_EXAMPLES, send)
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):  # an operation with nothing to negate
        run_cases(op.as_strategy(GenerationMode.NEGATIVE), NEGATIVE_EXAMPLES, send)
    if not public:
        run_cases(op.as_strategy(GenerationMode.POSITIVE), ANONYMOUS_EXAMPLES, lambda case: send(case, headers={}))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("target", TARGETS, ids=[t.id for t in TARGETS])
def test_fuzz_openapi(target: Target, make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", offline_getaddrinfo(socket.getaddrinfo))
    app = target.build(make_settings, target.instance)
    settings: Settings = app.state.runtime.settings
    asyncio.run(_ensure_streams(settings.nats_url, tuple(dict.fromkeys((target.instance, "bo", *settings.peers)))))

    began = time.monotonic()
    findings = Findings()
    with serve(app, name="fuzz-uvicorn") as base_url, requests.Session() as session:
        wait_ready(base_url)
        served = Served(base_url, settings, {**RUNTIME_ROUTE_PERMISSIONS, **target.permissions})  # + /outbox/head
        target.seed(served)
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        # every route given a permission is in the schema: none escapes the fuzzer
        assert {f"{method} {path}" for method, path in target.permissions} <= {op.label for op in operations}
        for op in operations:
            op_began = time.monotonic()
            fuzz_operation(op, served, session, findings)
            findings.seconds[op.label] = time.monotonic() - op_began

    print(f"\n{findings.summary(target.id, len(operations), time.monotonic() - began)}")
    assert not findings.failures, "\n\n".join(findings.failures.values())
