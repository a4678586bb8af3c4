"""What the bus-side attacks of tests/security share: ``make run``'s own supervisor on a topology of the
test's choosing (real nats-server with the accounts configuration and generated passwords, each service a
real process answering real HTTP), and a NATS client that keeps the server's asynchronous errors.
"""

from __future__ import annotations

import asyncio
import json
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.errors
import nats.js.errors
from kc_ops.natsconfig import ADMIN_USER
from kc_ops.supervisor import Supervisor
from kc_runtime.keys import ensure_instance_key
from kc_runtime.web.auth import issue_token
from nats.aio.client import Client
from nats.js import JetStreamContext

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_TOML = ROOT / "deploy" / "local" / "system.toml"

# what a refused JetStream publish or API call looks like to a client: the server drops the message
# (a permissions violation, reported asynchronously) or nobody in the caller's account answers
REFUSED = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
)


@dataclass
class Conn:
    nc: Client
    errors: list[Exception] = field(default_factory=list)

    def js(self, timeout: float = 5.0) -> JetStreamContext:
        return self.nc.jetstream(timeout=timeout)

    def violations(self) -> list[str]:
        return [str(e) for e in self.errors if "permissions violation" in str(e).lower()]

    async def close(self) -> None:
        await self.nc.close()


async def connect(url: str) -> Conn:
    """A client that never retries a refused login and keeps what the server reports."""
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    nc = await nats.connect(
        url.split(","), error_cb=on_error, connect_timeout=3, allow_reconnect=False, max_reconnect_attempts=0
    )
    return Conn(nc, errors)


class RunningSystem:
    """``make run`` (``kc_ops.supervisor.Supervisor`` with ``deploy/local/system.toml``) limited to the
    services named, on free ports, without the demo: the same bus, keys and process environment."""

    def __init__(self, var_dir: Path, services: dict[str, list[str]]) -> None:
        config = tomllib.loads(SYSTEM_TOML.read_text("utf-8"))
        for instance in config["instance"]:
            instance["services"] = services.get(instance["id"], [])
        self.supervisor = Supervisor(config, var_dir, auto_ports=True)
        self.var_dir = self.supervisor.var_dir

    def start(self) -> RunningSystem:
        self.supervisor.lock()
        try:
            self.supervisor.start()
            self.supervisor.wait_ready()
        except BaseException:
            self.supervisor.stop()
            raise
        self.run = json.loads(self.supervisor.write_run_file().read_text("utf-8"))
        return self

    def stop(self) -> None:
        self.supervisor.stop()

    @property
    def nats_url(self) -> str:
        """Where the bus listens, with no credentials."""
        return str(self.run["nats"])

    def url_of(self, user: str) -> str:
        """The bus with ``user``'s credentials (from the file ``make run`` generated)."""
        from kc_ops.natsconfig import Credentials  # imported here: the attack also runs where it is missing

        return Credentials(Path(self.run["nats_credentials"])).url(self.nats_url, user)

    def service(self, key: str) -> str:
        """``http://127.0.0.1:<port>`` of ``<instance>/<service>``."""
        return str(self.run["services"][key])

    def headers(self, instance: str, role: str | None = None) -> dict[str, str]:
        """A bearer token of ``role`` in ``instance``, signed with the key ``make run`` created for it."""
        role = role or ("cuc" if instance == "bo" else "so_ct")
        signer = ensure_instance_key(self.var_dir / "keys", instance)
        token = issue_token(signer, sub=f"tan-cong.{role}", role=role, scope=instance, name="Kiểm thử bảo mật")
        return {"Authorization": f"Bearer {token}"}

    def http(self, instance: str, role: str | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=30, headers=self.headers(instance, role))

    async def admin(self) -> Conn:
        """The operator (the account holding the streams): what the tests inspect the bus with."""
        return await connect(self.url_of(ADMIN_USER))

    def log(self, key: str) -> str:
        instance, name = key.split("/")
        path = self.var_dir / "logs" / f"{instance}-{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


async def eventually(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> None:
    """Wait for ``check()`` (sync or async) to be truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not met within {timeout}s (last: {last!r})")


# -- what the scenarios do over HTTP ---------------------------------------------------------------------


async def register(http: httpx.AsyncClient, registry: str, tax_code: str, name: str, commune: str, **extra: Any) -> str:
    """Register an establishment (a ``ho_kinh_doanh``) and return its id."""
    created = await http.post(
        f"{registry}/establishments",
        json={
            "name": name,
            "tax_code": tax_code,
            "legal_form": "ho_kinh_doanh",
            "commune_code": commune,
            "sectors": ["co_khi_che_tao"],
            **extra,
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def de_an_body(
    code: str, province: str, commune: str, support: int = 60_000_000, plan_year: int = 2024
) -> dict[str, Any]:
    """A local đề án (machinery support) of ``province`` (plan year 2024: Nghệ An's calendar; Hải Phòng's
    packaged one is for 2023)."""
    return {
        "code": code,
        "title": f"Hỗ trợ máy móc thiết bị {code}",
        "level": "dia_phuong",
        "de_an_type": "kcdp",
        "plan_year": plan_year,
        "implementing_unit": f"Trung tâm Khuyến công tỉnh {province}",
        "activity_contents": ["3"],
        "commune_code": commune,
        "budget_lines": [
            {
                "cost_item": "Máy móc",
                "support_item": "may_moc_thiet_bi",
                "total_cost_vnd": 3 * support,
                "support_requested_vnd": support,
                "counterpart_vnd": 2 * support,
            }
        ],
    }


async def submit_and_appraise(http: httpx.AsyncClient, appraisal: str, body: dict[str, Any]) -> str:
    """Draft, submit and base-appraise a đề án (before its plan year's dossier deadline); return its id."""
    year = body["plan_year"] - 1
    drafted = await http.post(f"{appraisal}/de-an", json=body)
    assert drafted.status_code == 201, drafted.text
    url = f"{appraisal}/de-an/{drafted.json()['id']}"
    support = body["budget_lines"][0]["support_requested_vnd"]
    for action, step in (
        ("submit", {"submitted_on": f"{year}-10-20", "version": 1}),
        (
            "base-appraisal",
            {
                "mode": "can_bo",
                "conclusion": "dong_y",
                "recommended_support_vnd": support,
                "appraised_on": f"{year}-10-25",
                "version": 2,
            },
        ),
    ):
        answer = await http.post(f"{url}/{action}", json=step)
        assert answer.status_code == 200, answer.text
    return str(drafted.json()["id"])


async def stream_messages(conn: Conn, stream: str) -> list[Any]:
    """Every message of ``stream`` by sequence (``get_msg``: as an auditor or the operator may)."""
    js = conn.js()
    last = (await js.stream_info(stream)).state.last_seq
    return [await js.get_msg(stream, seq) for seq in range(1, last + 1)]
