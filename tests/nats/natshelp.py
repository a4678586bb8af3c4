"""What the tests of deploy/nats share: a client that keeps the server's asynchronous errors, stream counts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import nats
import nats.errors
import nats.js.errors
from kc_contracts.subjects import stream_name
from kc_ops.natsconfig import ADMIN_USER, DEFAULT_INSTANCES, NatsDeployment
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.settings import Settings
from nats.aio.client import Client
from nats.js import JetStreamContext

# what a refused JetStream publish or API call looks like to the client: the server drops the message
# (permissions violation, reported asynchronously) or nobody in the account answers
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

    def refused_subjects(self) -> set[str]:
        """The subjects of the permissions violations, lowercased (as nats-py reports them)."""
        return {v.split('"')[1].lower() for v in self.violations() if v.count('"') >= 2}

    async def violation_for(self, subject: str, timeout: float = 3.0) -> str:
        """The server's permissions-violation error naming ``subject`` (waits for it to arrive)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [v for v in self.violations() if f'"{subject.lower()}"' in v.lower()]  # nats-py lowercases it
            if found:
                return found[0]
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no permissions violation for {subject!r}; errors: {self.errors}")
            await asyncio.sleep(0.05)


async def connect(url: str) -> Conn:
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    nc = await nats.connect(url.split(","), error_cb=on_error, connect_timeout=5, max_reconnect_attempts=5)
    return Conn(nc, errors)


async def ensure(bus: NatsDeployment, replicas: int = 1, instances: tuple[str, ...] = DEFAULT_INSTANCES) -> Conn:
    """Declare the streams as the operator (``kc-admin``) and keep that connection to inspect them."""
    admin = await connect(bus.url(ADMIN_USER))
    await ensure_streams(admin.js(), StreamPlan(instances, replicas))
    return admin


async def count(admin: Conn, stream: str) -> int:
    return int((await admin.js().stream_info(stream)).state.messages)


async def counts(admin: Conn, instances: tuple[str, ...] = DEFAULT_INSTANCES) -> dict[str, int]:
    return {stream_name(i): await count(admin, stream_name(i)) for i in instances}


def officer(settings: Settings) -> dict[str, str]:
    """HTTP headers of a provincial officer (sở Công Thương) for a service built from ``settings``.

    The services are gaining signed bearer tokens (kc_runtime.web.auth) while this suite is written: use them when
    this checkout has them, send nothing otherwise.
    """
    try:
        from kc_testing.fixtures import bearer
    except ImportError:
        return {}
    headers: dict[str, str] = bearer(settings, "so_ct")
    return headers
