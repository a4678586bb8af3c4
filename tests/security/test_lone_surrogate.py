"""Issue 14 item 9: a lone surrogate in a name was a 500.

The attack: ``{"name": "\\ud800"}`` — valid JSON, but half of a UTF-16 pair is no character: Python
decodes it, and the first UTF-8 encoding (the event store, the response) fails with a 500. The same
through the raw bytes of that code point (``ED A0 80``), which Python's JSON decoder also lets through.

Now every service refuses it before any handler runs: 422 problem+json naming the field, for any
JSON body of any route. A real surrogate pair (an emoji) is one character and is accepted.

Real parts: the four services of a province under uvicorn on this test's nats-server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from kc_appraisal.main import create_app as appraisal_app
from kc_notifications.main import create_app as notifications_app
from kc_notifications.settings import NotificationSettings
from kc_planning.main import create_app as planning_app
from kc_registry.main import create_app as registry_app
from kc_runtime.settings import Settings
from kc_testing.fixtures import SettingsFactory, bearer, served

LONE = "\\ud800"  # as written in the JSON text
RAW = b"\xed\xa0\x80"  # the same code point's (invalid) UTF-8 bytes


@pytest.fixture
def store() -> str:
    return "sqlite"


def attack(body: dict[str, Any], marker: str = "SURROGATE") -> tuple[bytes, bytes]:
    """The body with a lone surrogate where ``marker`` is: as a JSON escape, and as raw bytes."""
    text = json.dumps(body, ensure_ascii=False)
    return text.replace(marker, LONE).encode(), text.encode().replace(marker.encode(), RAW)


CASES: list[tuple[str, Callable[[Settings], FastAPI], str, str, dict[str, Any], str]] = [
    (
        "registry",
        registry_app,
        "POST",
        "/establishments",
        {"name": "Cơ sở SURROGATE", "tax_code": "0100112437", "legal_form": "ho_kinh_doanh", "commune_code": "17419"},
        "name",
    ),
    (
        "appraisal",
        appraisal_app,
        "POST",
        "/de-an",
        {
            "code": "KCĐP-40-2024-01",
            "title": "Đào tạo nghề",
            "level": "dia_phuong",
            "de_an_type": "kcdp",
            "plan_year": 2024,
            "implementing_unit": "Trung tâm Khuyến công Nghệ An",
            "activity_contents": ["SURROGATE"],
        },
        "activity_contents.0",
    ),
    (
        "planning",
        planning_app,
        "PUT",
        "/plans/dia_phuong/2024/envelope",
        {"envelope": {"dia_phuong": 1_000_000_000}, "decision_number": "12/QĐ-SURROGATE"},
        "decision_number",
    ),
    (
        "notifications",
        lambda s: notifications_app(NotificationSettings(**s.model_dump(), sender_interval_seconds=3600.0)),
        "PUT",
        "/recipients/don-vi:x",
        {"name": "Trung tâm SURROGATE", "role": "can_bo", "scope": "tinh-40"},
        "name",
    ),
]


@pytest.fixture(params=CASES, ids=[c[0] for c in CASES])
def case(
    request: pytest.FixtureRequest, make_settings: SettingsFactory
) -> Iterator[tuple[str, Settings, str, str, dict[str, Any], str]]:
    service, build, method, path, body, field = request.param
    settings = make_settings(service)
    app = build(settings)
    with served(app) as base:
        yield base, settings, method, path, body, field
    app.state.runtime.close()


def test_a_lone_surrogate_in_a_json_string_is_a_422_naming_the_field(
    case: tuple[str, Settings, str, str, dict[str, Any], str],
) -> None:
    base, settings, method, path, body, field = case
    headers = bearer(settings) | {"Content-Type": "application/json"}
    for content in attack(body):
        response = httpx.request(method, base + path, content=content, headers=headers, timeout=30)
        assert response.status_code == 422, (content[:80], response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        errors = response.json()["errors"]
        assert errors[0]["field"] == field, errors
        assert errors[0]["message"].startswith("Chứa ký tự không hợp lệ"), errors

    # a real pair is one character (🏭): accepted wherever the text is
    if field == "name":
        emoji = json.dumps(body).replace("SURROGATE", "\\ud83c\\udfed").encode()
        fine = httpx.request(method, base + path, content=emoji, headers=headers, timeout=30)
        assert fine.status_code < 300, fine.text
