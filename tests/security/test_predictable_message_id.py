"""Issue 14.2: a message id could be taken in advance. ``Nats-Msg-Id`` was ``<instance>:<aggregate
id>:<version>`` and an establishment's id comes from its tax code, so anyone allowed to publish on the
subject could put junk under the next id; JetStream then dropped the real, signed event as a duplicate and
the relay counted it as published.

Now the id is the hash of the signed bytes (:func:`kc_contracts.integrity.message_id`): nobody without those
bytes can take it. And a relay that gets a ``duplicate`` ack fetches the stored message and raises an alarm
if it is not its own: an error in the log, its own bytes with the reason in the dead-letter stream, a count,
and the event is not counted as published.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from bus_system import RunningSystem, connect, eventually, register, stream_messages
from kc_contracts.integrity import message_id
from kc_ops.natsconfig import AUDITOR
from kc_registry.domain.establishment import establishment_id, identity_key
from kc_registry.main import create_app as registry_app
from kc_runtime.bus.deadletters import REASON, DeadLetters
from kc_runtime.bus.relay import OutboxRelay
from kc_runtime.settings import Settings

pytestmark = pytest.mark.timeout(300)

REGISTERED = "kc.tinh-40.registry.establishment.registered.v1"
TAX_CODE = "0100112437"


async def test_junk_under_the_old_predictable_id_does_not_stop_the_real_event(
    make_run: Callable[[dict[str, list[str]]], RunningSystem],
) -> None:
    system = await asyncio.to_thread(make_run, {"tinh-40": ["registry", "planning"]})
    # the attack: someone allowed to publish on the subject computes the next id from the tax code alone
    predictable = f"tinh-40:{establishment_id(identity_key(TAX_CODE, None, '40'))}:1"
    squatter = await connect(system.url_of("tinh-40"))
    try:
        ack = await squatter.js().publish(REGISTERED, b'{"junk": true}', headers={"Nats-Msg-Id": predictable})
        assert not ack.duplicate
    finally:
        await squatter.close()

    async with system.http("tinh-40") as http:
        eid = await register(http, system.service("tinh-40/registry"), TAX_CODE, "Cơ sở đúc đồng Đông Hà", "17419")
        view = f"{system.service('tinh-40/planning')}/views/establishments"

        async def counted() -> bool:
            rows = (await http.get(view)).json()
            return bool(rows == [{"province_code": "40", "commune_code": "17419", "establishments": 1}])

        await eventually(counted, what="the registration reaching planning over the bus")

    # the signed event is on the bus, under the hash of its bytes; the junk was dead-lettered, not applied
    auditor = await connect(system.url_of(AUDITOR))
    try:
        bus = await stream_messages(auditor, "KC_TINH_40")
        letters = await stream_messages(auditor, "KCDLQ_TINH_40")
    finally:
        await auditor.close()
    real = [m for m in bus if m.data != b'{"junk": true}']
    assert len(real) == 1 and eid in real[0].data.decode() and b'"kcsig"' in real[0].data
    assert real[0].headers["Nats-Msg-Id"] == message_id(real[0].data) != predictable
    assert [m.data for m in letters] == [b'{"junk": true}']
    assert "not a khuyencong CloudEvents envelope" in letters[0].headers[REASON]


async def test_a_duplicate_ack_for_a_foreign_message_raises_the_alarm(
    make_run: Callable[[dict[str, list[str]]], RunningSystem],
) -> None:
    system = await asyncio.to_thread(make_run, {})  # the bus only: the relay runs here, by hand
    settings = Settings(
        instance="tinh-40", service="registry", nats_url=system.url_of("tinh-40"), var_dir=system.var_dir
    )
    app = registry_app(settings)
    runtime, application = app.state.runtime, app.state.application
    conn = await connect(settings.nats_url)
    js = conn.js()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://registry", headers=system.headers("tinh-40")
        ) as http:
            await register(http, "", TAX_CODE, "Cơ sở đúc đồng Đông Hà", "17419")

        def relay() -> OutboxRelay:
            return OutboxRelay(
                application,
                runtime.relay.translate,
                instance="tinh-40",
                service="registry",
                jetstream=lambda: js,
                signer=runtime.signer,
                alarms=DeadLetters("tinh-40", lambda: js),
            )

        # the id taken by other bytes — as if someone had the relay's very bytes in advance (or a message
        # of ours had been replaced): JetStream answers "duplicate" and keeps the foreign message
        (first,) = application.recorder.select_notifications(0, 1, inclusive_of_start=False)
        [(_, subject, payload)] = relay().messages(application.mapper.to_domain_event(first))
        foreign = await js.publish(subject, b'{"foreign": true}', headers={"Nats-Msg-Id": message_id(payload)})

        victim = relay()
        await victim.drain()
        assert victim.alarms == 1 and victim.published == 0
        admin = await system.admin()
        try:
            (alarm,) = await stream_messages(admin, "KCDLQ_TINH_40")
            stored = await stream_messages(admin, "KC_TINH_40")
        finally:
            await admin.close()
        assert alarm.subject == "kcdlq.tinh-40.relay-registry"
        assert alarm.data == payload  # the relay's own bytes, kept
        assert "not ours" in alarm.headers[REASON] and f"#{foreign.seq}" in alarm.headers[REASON]
        assert [m.data for m in stored] == [b'{"foreign": true}']
    finally:
        await conn.close()
        runtime.close()
