"""Issue 14.4: provinces collided at the ministry. The same tax code registered in two provinces gets the same
establishment id, and the ministry's beneficiary record of one was overwritten by the other (the demo data
did it: Hải Phòng's casting company had Nghệ An's cooperative's tax code). A province could draft a đề án
with another province's code and the national view counted it there; and an event of one province naming
another province's đề án changed that đề án's row at the ministry.

Now records belong to the instance that published them: the ministry keys its copies by (instance, id), a
province refuses to draft a đề án for another province (422, in Vietnamese), and the national view counts a
đề án in the province that published it, whatever its payload claims.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
from bus_system import RunningSystem, connect, de_an_body, eventually, register, stream_messages, submit_and_appraise
from kc_contracts.integrity import canonical, envelope_hash, message_id
from kc_runtime.keys import ensure_instance_key

pytestmark = pytest.mark.timeout(400)

TAX_CODE = "0100109106"  # the demo's Nghệ An cooperative's, which its Hải Phòng company also had
SUBMITTED_31 = "kc.tinh-31.appraisal.de-an.submitted.v1"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    """Both provinces' registry and appraisal, the ministry's appraisal and planning (one for the module: the
    tests' records do not meet)."""
    services = {
        "tinh-40": ["registry", "appraisal"],
        "tinh-31": ["registry", "appraisal"],
        "bo": ["appraisal", "planning"],
    }
    running = RunningSystem(tmp_path_factory.mktemp("collide") / "var", services).start()
    try:
        yield running
    finally:
        running.stop()


async def test_the_same_tax_code_in_two_provinces_is_two_records_at_the_ministry(system: RunningSystem) -> None:
    async with system.http("tinh-40") as na, system.http("tinh-31") as hp, system.http("bo") as bo:
        nghe_an = await register(
            na, system.service("tinh-40/registry"), TAX_CODE, "Hợp tác xã mây tre đan Diễn Kim", "17419"
        )
        hai_phong = await register(
            hp,
            system.service("tinh-31/registry"),
            TAX_CODE,
            "Công ty TNHH Cơ khí Đúc Thành Phương",
            "11770",
            unit_system="truoc_2025",
        )
        assert nghe_an == hai_phong  # the id comes from the tax code: one id, two provinces' records

        url = f"{system.service('bo/appraisal')}/beneficiaries/{nghe_an}"

        async def both_kept() -> bool:
            names = []
            for instance in ("tinh-40", "tinh-31"):
                answer = await bo.get(url, params={"instance": instance})
                names.append(answer.json().get("name") if answer.status_code == 200 else None)
            return names == ["Hợp tác xã mây tre đan Diễn Kim", "Công ty TNHH Cơ khí Đúc Thành Phương"]

        await eventually(both_kept, timeout=60, what="the ministry keeping both provinces' records")
        await asyncio.sleep(1)
        assert await both_kept(), "one province's record overwrote the other's"
        ambiguous = await bo.get(url)  # which one? the ministry does not guess
        assert ambiguous.status_code == 409 and ambiguous.headers["content-type"] == "application/problem+json"
        assert "nhiều tỉnh" in ambiguous.json()["detail"]
        # each province still sees its own
        own = await hp.get(f"{system.service('tinh-31/appraisal')}/beneficiaries/{hai_phong}")
        assert own.json()["name"] == "Công ty TNHH Cơ khí Đúc Thành Phương"


async def test_a_province_cannot_draft_a_de_an_in_another_provinces_name(system: RunningSystem) -> None:
    hp_appraisal = system.service("tinh-31/appraisal")
    async with system.http("tinh-31") as hp:
        # the attack over HTTP: Hải Phòng drafts a đề án in Nghệ An's name
        refused = await hp.post(
            f"{hp_appraisal}/de-an", json=de_an_body("KCĐP-40-2024-99", "Nghệ An", "17419") | {"province_code": "40"}
        )
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in refused.json()["errors"]] == ["province_code"]
        assert "chỉ lập đề án của tỉnh mình" in refused.text
        # a province merged into Hải Phòng on 1/7/2025 (Hải Dương, 30) is its own: records keep the unit as recorded
        merged = await hp.post(
            f"{hp_appraisal}/de-an", json=de_an_body("KCĐP-30-2024-01", "Hải Dương", "11770") | {"province_code": "30"}
        )
        assert merged.status_code == 201, merged.text


async def test_the_ministry_counts_a_de_an_in_the_province_that_published_it(system: RunningSystem) -> None:
    hp_appraisal, bo_planning = system.service("tinh-31/appraisal"), system.service("bo/planning")
    async with system.http("tinh-40") as na, system.http("tinh-31") as hp, system.http("bo") as bo:
        nghe_an = await submit_and_appraise(
            na, system.service("tinh-40/appraisal"), de_an_body("KCĐP-40-2024-01", "Nghệ An", "17419")
        )
        await submit_and_appraise(hp, hp_appraisal, de_an_body("KCĐP-31-2023-01", "Hải Phòng", "11770", plan_year=2023))

        async def by_province() -> dict[str, int]:
            view = (await bo.get(f"{bo_planning}/views/national")).json()
            return {r["province_code"]: r["de_an"] for r in view["by_province_as_recorded"]}

        async def counted(expected: dict[str, int]) -> bool:
            return await by_province() == expected

        await eventually(lambda: counted({"31": 1, "40": 1}), timeout=60, what="both đề án at the ministry")
        nghe_an_row = (await bo.get(f"{bo_planning}/views/province", params={"province_code": "40"})).json()

        # the attack at the ministry: Hải Phòng's appraisal (modified, or older) publishes, signed with Hải
        # Phòng's key as the next link of its chain, a "submitted" naming province 40 and Nghệ An's đề án
        admin = await system.admin()
        try:
            own = [json.loads(m.data) for m in await stream_messages(admin, "KC_TINH_31")]
            last = [e for e in own if e["source"] == "/kc/tinh-31/appraisal"][-1]
            submitted = next(e for e in own if e["type"] == "kc.appraisal.de-an.submitted.v1")
            body = {k: v for k, v in submitted.items() if k not in ("kcseq", "kcprevhash", "kcsig", "kckeyid")}
            fake = str(uuid.uuid4())
            body |= {
                "id": f"tinh-31:{fake}:2",
                "kcstreamid": fake,
                "subject": fake,
                "data": submitted["data"] | {"de_an_id": nghe_an, "province_code": "40", "code": "KCĐP-40-2024-01"},
            }
            signer = ensure_instance_key(system.var_dir / "keys", "tinh-31")
            forged = canonical(signer.sign(body, seq=int(last["kcseq"]) + 1, prev_hash=envelope_hash(last)))
        finally:
            await admin.close()
        tinh31 = await connect(system.url_of("tinh-31"))  # with Hải Phòng's credentials, on its own subject
        try:
            await tinh31.js().publish(SUBMITTED_31, forged, headers={"Nats-Msg-Id": message_id(forged)})
        finally:
            await tinh31.close()

        # it counts in Hải Phòng, as Hải Phòng's own row; Nghệ An's đề án is untouched
        await eventually(lambda: counted({"31": 2, "40": 1}), timeout=60, what="the forged đề án counted in 31")
        assert (await bo.get(f"{bo_planning}/views/province", params={"province_code": "40"})).json() == nghe_an_row
        async with system.http("bo", "cuc") as operator:
            rebuilt = (await operator.post(f"{bo_planning}/views/rebuild")).json()
        assert rebuilt["digest"] == rebuilt["live_digest"], rebuilt
        assert await by_province() == {"31": 2, "40": 1}
