"""Issue 14.3: a validly signed event of one instance, republished under another instance's subject, was
accepted. A ``tinh-40`` đề án's old "submitted" event republished under ``kc.tinh-31.…`` put the
ministry's row of that đề án back to "submitted", added it to Hải Phòng's view, and its registration made a
Nghệ An establishment a beneficiary in Hải Phòng; Hải Phòng's rebuild reproduced all of it with an "equal"
digest.

Now every consumer, live and in a rebuild, checks that the envelope's instance owns the subject and the
stream it arrived on; anything else is dead-lettered with the reason and changes no view.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from bus_system import (
    RunningSystem,
    connect,
    de_an_body,
    eventually,
    register,
    stream_messages,
    submit_and_appraise,
)
from kc_ops.natsconfig import AUDITOR
from kc_runtime.bus.deadletters import REASON

pytestmark = pytest.mark.timeout(300)

SUBMITTED = "appraisal.de-an.submitted.v1"
REGISTERED = "registry.establishment.registered.v1"


async def test_a_signed_event_of_tinh_40_under_tinh_31_subjects_is_dead_lettered_and_changes_no_view(
    make_run: Callable[[dict[str, list[str]]], RunningSystem],
) -> None:
    system = await asyncio.to_thread(
        make_run, {"tinh-40": ["registry", "appraisal"], "tinh-31": ["appraisal", "planning"], "bo": ["planning"]}
    )
    na, hp, bo = system.http("tinh-40"), system.http("tinh-31"), system.http("bo")
    try:
        establishment = await register(
            na, system.service("tinh-40/registry"), "0100112437", "Cơ sở đúc đồng Đông Hà", "17419"
        )
        de_an = await submit_and_appraise(
            na, system.service("tinh-40/appraisal"), de_an_body("KCĐP-40-2024-91", "Nghệ An", "17419")
        )
        bo_planning, hp_planning = system.service("bo/planning"), system.service("tinh-31/planning")

        async def ministry_sees_it_appraised() -> bool:
            rows = (await bo.get(f"{bo_planning}/views/province")).json()["by_status"]
            return [r["de_an"] for r in rows] == [1] and rows[0]["status"] != "da_nop"

        await eventually(ministry_sees_it_appraised, what="the ministry's view of the đề án, appraised")
        before = {
            "bo": (await bo.get(f"{bo_planning}/views/province")).json(),
            "bo digest": (await bo.get(f"{bo_planning}/views/digest")).json()["digest"],
            "tinh-31": (await hp.get(f"{hp_planning}/views/province")).json(),
            "tinh-31 digest": (await hp.get(f"{hp_planning}/views/digest")).json()["digest"],
            "tinh-31 establishments": (await hp.get(f"{hp_planning}/views/establishments")).json(),
        }
        beneficiary = f"{system.service('tinh-31/appraisal')}/beneficiaries/{establishment}"
        assert (await hp.get(beneficiary)).status_code == 404

        # the attack: Nghệ An's own signed bytes (from an audit export, a webhook …), published with Hải
        # Phòng's credentials under Hải Phòng's subjects — the old "submitted" to undo the appraisal
        auditor = await connect(system.url_of(AUDITOR))
        try:
            originals: dict[str, bytes] = {}
            for m in await stream_messages(auditor, "KC_TINH_40"):
                originals.setdefault(m.subject, m.data)
        finally:
            await auditor.close()
        assert de_an in originals[f"kc.tinh-40.{SUBMITTED}"].decode()
        tinh31 = await connect(system.url_of("tinh-31"))
        try:
            for kind in (REGISTERED, SUBMITTED):
                ack = await tinh31.js().publish(f"kc.tinh-31.{kind}", originals[f"kc.tinh-40.{kind}"])
                assert ack.stream == "KC_TINH_31"
        finally:
            await tinh31.close()

        # each consumer that read them dead-lettered them with the reason
        admin = await system.admin()
        try:
            wanted = {
                "KCDLQ_TINH_31": {
                    "appraisal-beneficiaries-tinh-31",
                    "planning-establishments-tinh-31",
                    "planning-programme-tinh-31",
                },
                "KCDLQ_BO": {"planning-programme-tinh-31"},
            }

            async def dead_lettered() -> dict[str, set[str]]:
                found: dict[str, set[str]] = {}
                for stream in wanted:
                    if (await admin.js().stream_info(stream)).state.messages:
                        for m in await stream_messages(admin, stream):
                            assert "misplaced" in m.headers[REASON] and "tinh-40" in m.headers[REASON], m.headers
                            found.setdefault(stream, set()).add(m.subject.split(".", 2)[2])
                return found

            async def all_dead_lettered() -> bool:
                return await dead_lettered() == wanted

            await eventually(all_dead_lettered, timeout=60, what="the replays dead-lettered")
        finally:
            await admin.close()

        # nothing changed: the ministry's row of the đề án, Hải Phòng's views, Hải Phòng's beneficiaries
        assert (await bo.get(f"{bo_planning}/views/province")).json() == before["bo"]
        assert (await bo.get(f"{bo_planning}/views/digest")).json()["digest"] == before["bo digest"]
        assert (await hp.get(f"{hp_planning}/views/province")).json() == before["tinh-31"]
        assert (await hp.get(f"{hp_planning}/views/establishments")).json() == before["tinh-31 establishments"]
        assert (await hp.get(beneficiary)).status_code == 404

        # and the rebuilds refuse them the same way: each digest equals the live one, as before the attack
        for http, url, key, role in ((hp, hp_planning, "tinh-31", "so_ct"), (bo, bo_planning, "bo", "cuc")):
            async with system.http(key, role) as operator:
                rebuilt = (await operator.post(f"{url}/views/rebuild")).json()
            assert rebuilt["digest"] == rebuilt["live_digest"] == before[f"{key} digest"], rebuilt
            assert (await http.get(f"{url}/views/digest")).json()["digest"] == before[f"{key} digest"]
    finally:
        for client in (na, hp, bo):
            await client.aclose()
