"""The registry's HTTP API on a real SQLite store: answers and problem+json errors."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from kc_registry.main import create_app
from kc_runtime.settings import Settings


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    # no lifespan: the bus is not needed to accept commands (they land in the event store)
    return TestClient(
        create_app(Settings(service="registry", var_dir=tmp_path)), raise_server_exceptions=False
    )


def test_a_registered_establishment_can_be_read_back(client: TestClient) -> None:
    created = client.post(
        "/establishments",
        json={
            "name": "Cơ sở chế biến chè Thanh Chương",
            "province_code": "40",
            "commune_code": "17443",
            "legal_form": "doanh_nghiep_nho_va_vua",
        },
        headers={"X-Actor": "can-bo-so-40"},
    )
    assert created.status_code == 201
    got = client.get(f"/establishments/{created.json()['id']}")
    assert got.json() == created.json()


def test_a_domain_rule_violation_is_a_problem_with_the_vietnamese_message(
    client: TestClient,
) -> None:
    response = client.post(
        "/establishments",
        json={
            "name": "Cơ sở A",
            "province_code": "4x",
            "commune_code": "17443",
            "legal_form": "hop_tac_xa",
        },
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("Mã tỉnh phải gồm 2 chữ số")


def test_an_unknown_establishment_is_a_404_problem(client: TestClient) -> None:
    response = client.get(f"/establishments/{uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_malformed_json_is_a_422_problem_not_a_traceback(client: TestClient) -> None:
    response = client.post(
        "/establishments", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["message"] == "JSON không hợp lệ"
    assert "Traceback" not in response.text
