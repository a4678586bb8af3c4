"""pytest fixtures shared by every test suite (loaded from the root ``conftest.py``).

Tests start their own nats-server on a free loopback port with a temporary store; they never use a
server that happens to run on the machine. PostgreSQL tests use 127.0.0.1:5432 (database ``test``)
in a schema of their own; where no PostgreSQL answers they are skipped with the reason, except in
CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from kc_contracts import Envelope
from kc_contracts.integrity import Signer, canonical, envelope_hash
from kc_ops.natsserver import NatsServer
from kc_runtime.keys import ensure_instance_key
from kc_runtime.settings import Settings
from kc_runtime.web.auth import ROLES, issue_token


class SigningPublisher:
    """Signs and chains envelopes as the publishing instance's relay would, for tests that publish by
    hand: keys come from (and are created in) the test's key folder, so the services trust them."""

    _by_folder: dict[Path, SigningPublisher] = {}  # noqa: RUF012  (one chain per key folder, like one relay)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.heads: dict[str, tuple[int, str | None]] = {}

    @classmethod
    def of(cls, settings: Settings) -> SigningPublisher:
        """The publisher of this test's key folder (its chains go on from where they were)."""
        return cls._by_folder.setdefault(settings.key_folder, cls(settings))

    def signer(self, instance: str) -> Signer:
        return ensure_instance_key(self.settings.key_folder, instance, self.settings.trust_path)

    def sign(self, envelope: Envelope | dict[str, Any], *, signer: Signer | None = None) -> bytes:
        body = envelope.body() if isinstance(envelope, Envelope) else dict(envelope)
        signer = signer or self.signer(str(body["kcinstance"]))
        seq, head = self.heads.get(str(body["source"]), (0, None))
        signed = signer.sign(body, seq=seq + 1, prev_hash=head)
        self.heads[str(body["source"])] = (seq + 1, envelope_hash(signed))
        return canonical(signed)


def bearer(
    settings: Settings,
    role: str = "so_ct",
    *,
    scope: str | None = None,
    name: str | None = None,
    unit: str | None = None,
) -> dict[str, str]:
    """An ``Authorization`` header for ``role`` (default scope: the settings' instance, or bo for a
    national role; ``unit`` for a role bound to a unit), signed by the issuing instance's key from the
    test's key folder."""
    scope = scope or ("bo" if ROLES[role].national else settings.instance)
    signer = ensure_instance_key(settings.key_folder, scope, settings.trust_path)
    token = issue_token(signer, sub=f"{role}.test", role=role, scope=scope, name=name or f"Cán bộ {role}", unit=unit)
    return {"Authorization": f"Bearer {token}"}


def de_an_draft(
    code: str,
    *,
    unit_name: str = "Trung tâm Khuyến công Nghệ An",
    support_vnd: int = 90_000_000,
    total_vnd: int = 90_000_000,
    **extra: Any,
) -> dict[str, Any]:
    """The body of ``POST /de-an`` the tests draft with: a local (KCĐP) 2024 training đề án of one budget
    line; ``extra`` overrides or adds fields."""
    return {
        "code": code,
        "title": "Đào tạo nghề mây tre đan",
        "level": "dia_phuong",
        "de_an_type": "kcdp",
        "plan_year": 2024,
        "implementing_unit": unit_name,
        "activity_contents": ["1"],
        "budget_lines": [
            {
                "cost_item": "Lớp đào tạo",
                "support_item": "dao_tao_nghe",
                "total_cost_vnd": total_vnd,
                "support_requested_vnd": support_vnd,
            }
        ],
    } | extra


POSTGRES_DSN = os.environ.get("KC_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats").start()
    try:
        yield server
    finally:
        server.stop()


def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_DSN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return f"PostgreSQL not reachable at {POSTGRES_DSN}: {exc}"
    return None


def require_postgres() -> None:
    reason = postgres_unreachable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the PostgreSQL tests)")
    pytest.skip(reason)


def drop_schema(schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


SettingsFactory = Callable[..., Settings]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> str:
    """Runs a test once on SQLite and once on PostgreSQL."""
    kind: str = request.param
    if kind == "postgres":
        require_postgres()
    return kind


@pytest.fixture
def make_settings(store: str, tmp_path: Path, nats_server: NatsServer) -> Iterator[SettingsFactory]:
    """Settings for a service of an instance on this test's NATS server and store."""
    schemas: list[str] = []

    def make(service: str, instance: str = "tinh-40", **overrides: object) -> Settings:
        values: dict[str, object] = {
            "instance": instance,
            "service": service,
            "nats_url": nats_server.url,
            "var_dir": tmp_path / "var",
            "nak_delay_seconds": 0.2,
            "ack_wait_seconds": 2.0,
            "max_deliver": 3,
        }
        if store == "postgres":
            schema = f"t_{uuid.uuid4().hex[:12]}_{service}"
            schemas.append(schema)
            values |= {"database_url": POSTGRES_DSN, "database_schema": schema}
        values |= overrides
        return Settings(**values)  # type: ignore[arg-type]

    yield make
    for schema in schemas:
        drop_schema(schema)


async def eventually(check: Callable[[], object], timeout: float = 30.0, interval: float = 0.05) -> None:  # noqa: ASYNC109
    """Wait until ``check()`` (sync, or returning an awaitable) is truthy; fail after ``timeout`` s."""
    import asyncio
    import inspect

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


@contextlib.contextmanager
def served(app: Any, *, name: str = "uvicorn", lifespan: Literal["auto", "on", "off"] = "on") -> Iterator[str]:
    """``app`` under uvicorn (lifespan on unless told) in a thread, on a free loopback port: its base URL.

    Real HTTP: what a client sends is read and parsed by uvicorn as in production (chunked bodies,
    slow senders, connection limits), not handed to the app as a Python object."""
    import threading
    import time

    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan=lifespan)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
