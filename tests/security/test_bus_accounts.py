"""Issue 14.1: the bus ``make run`` starts was open — anyone on the machine connected without credentials,
read every stream, created, purged and deleted streams and messages.

Now ``make run`` runs the accounts configuration of ``deploy/nats`` with passwords generated under ``var/``:
no anonymous client, the committed development passwords do not open it, a province reads only the
ministry's stream and its own and changes no stream, the integrator reads the ministry's stream only.
These run against the bus exactly as ``make run`` configures it (its supervisor and
``deploy/local/system.toml``, without the service processes, which ``tests/e2e`` start).
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import nats.errors
import pytest
from bus_system import REFUSED, Conn, RunningSystem, connect
from kc_ops.natsconfig import AUDITOR, INTEGRATOR, dev_password
from nats.js.api import ConsumerConfig, StreamConfig

pytestmark = pytest.mark.timeout(120)

REGISTERED_40 = "kc.tinh-40.registry.establishment.registered.v1"
REGISTERED_31 = "kc.tinh-31.registry.establishment.registered.v1"
APPROVED_BO = "kc.bo.planning.plan.approved.v1"


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    """``make run``'s bus (system.toml's three instances), no service processes."""
    system = RunningSystem(tmp_path_factory.mktemp("make-run") / "var", {}).start()
    try:
        yield system
    finally:
        system.stop()


async def stream_counts(admin: Conn) -> dict[str, int]:
    return {s: (await admin.js().stream_info(s)).state.messages for s in ("KC_BO", "KC_TINH_40", "KC_TINH_31")}


async def seed(bus: RunningSystem) -> dict[str, int]:
    """One message in each instance's stream, published by that instance with its own credentials."""
    for instance, subject in (("bo", APPROVED_BO), ("tinh-40", REGISTERED_40), ("tinh-31", REGISTERED_31)):
        conn = await connect(bus.url_of(instance))
        try:
            await conn.js().publish(subject, f"secret of {instance}".encode())
        finally:
            await conn.close()
    admin = await bus.admin()
    try:
        return await stream_counts(admin)
    finally:
        await admin.close()


async def test_no_anonymous_client_and_no_development_password_opens_the_bus(bus: RunningSystem) -> None:
    # attack: nats.connect("nats://127.0.0.1:<port>") — before: connected, with every stream in reach
    with pytest.raises((nats.errors.Error, OSError)):
        conn = await connect(bus.nats_url)
        await conn.close()
    for user in ("tinh-40", "kc-admin", INTEGRATOR):  # the committed dev-<user> passwords are not make run's
        with pytest.raises((nats.errors.Error, OSError)):
            await connect(bus.nats_url.replace("://", f"://{user}:{dev_password(user)}@"))


def test_the_passwords_are_generated_under_var_for_their_owner_only(bus: RunningSystem) -> None:
    credentials = Path(bus.run["nats_credentials"])
    assert credentials.is_relative_to(bus.var_dir)
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE((credentials.parent / "conf" / "accounts.conf").stat().st_mode) == 0o600
    assert dev_password("tinh-40") not in bus.url_of("tinh-40")


async def test_a_province_cannot_read_another_province_nor_change_any_stream(bus: RunningSystem) -> None:
    before = await seed(bus)
    hp = await connect(bus.url_of("tinh-31"))
    try:
        attacks: list[Callable[[], object]] = [
            lambda: hp.js(0.5).stream_info("KC_TINH_40"),
            lambda: hp.js(0.5).get_msg("KC_TINH_40", 1),
            lambda: hp.js(0.5).add_consumer("KC_TINH_40", ConsumerConfig(name="tinh-31--spy", durable_name="spy")),
            lambda: hp.js(0.5).publish(REGISTERED_40, b"forged", timeout=0.5),
            lambda: hp.js(0.5).add_stream(StreamConfig(name="SPY", subjects=["kc.tinh-40.>"])),
            lambda: hp.js(0.5).purge_stream("KC_TINH_31"),  # not even its own
            lambda: hp.js(0.5).delete_msg("KC_TINH_31", 1),
            lambda: hp.js(0.5).delete_stream("KC_BO"),
            lambda: hp.js(0.5).update_stream(StreamConfig(name="KC_TINH_31", subjects=["kc.tinh-31.>"], max_msgs=1)),
        ]
        for attack in attacks:
            with pytest.raises(REFUSED):
                await attack()  # type: ignore[misc]
        # nor by listening on the subjects themselves: a province subscribes to its replies only
        await hp.nc.subscribe("kc.>")
        await hp.nc.flush(timeout=2)
        assert hp.violations(), hp.errors
        # what it may do: read the ministry's stream and its own
        assert (await hp.js().get_msg("KC_BO", 1)).data == b"secret of bo"
        assert (await hp.js().get_msg("KC_TINH_31", 1)).data == b"secret of tinh-31"
    finally:
        await hp.close()
    admin = await bus.admin()
    try:
        assert await stream_counts(admin) == before
        assert "SPY" not in [s.config.name for s in await admin.js().streams_info()]
    finally:
        await admin.close()


async def test_the_integrator_and_the_auditor_read_and_change_nothing(bus: RunningSystem) -> None:
    before = await seed(bus)
    integrator = await connect(bus.url_of(INTEGRATOR))
    auditor = await connect(bus.url_of(AUDITOR))
    try:
        sub = await integrator.js().pull_subscribe(APPROVED_BO, durable="integrator-security", stream="KC_BO")
        assert [m.data for m in await sub.fetch(1, timeout=5)] == [b"secret of bo"]
        assert (await auditor.js().get_msg("KC_TINH_40", 1)).data == b"secret of tinh-40"
        for attack in (
            lambda: integrator.js(0.5).stream_info("KC_TINH_40"),
            lambda: integrator.js(0.5).publish(APPROVED_BO, b"forged", timeout=0.5),
            lambda: integrator.js(0.5).purge_stream("KC_BO"),
            lambda: auditor.js(0.5).publish(REGISTERED_40, b"forged", timeout=0.5),
            lambda: auditor.js(0.5).delete_stream("KC_TINH_40"),
            lambda: auditor.js(0.5).purge_stream("KCDLQ_TINH_40"),
        ):
            with pytest.raises(REFUSED):
                await attack()  # type: ignore[operator]
    finally:
        await integrator.close()
        await auditor.close()
    admin = await bus.admin()
    try:
        assert await stream_counts(admin) == before
    finally:
        await admin.close()
