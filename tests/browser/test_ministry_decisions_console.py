"""The ministry decides on its own console (issue 15 items 4 and 5), in Chromium against the whole `make run`
system and its demo: Nghệ An's national đề án KCQG-2024-40-01, approved in the national plan 2024 by
3208/QĐ-BCT (280.000.000 đồng).

The Sở sees no contract button on a national đề án (the page says the ministry decides it on its own
system); the Cục finds it in its work queue, is refused a contract above the approved support beside
the field, signs it — the province's đề án shows it, decided by the Cục's officer. An increase the
Sở asks for is decided by the Minister: the Cục's page offers no decision, the Minister's does; the
province's đề án, the national plan's line and the national view take the new amount. After the
acceptance the Cục settles it on the ministry's console. axe-core on each screen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(900)
CODE = "KCQG-2024-40-01"


def eventually(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.5)


def de_an_id(system: Any) -> str:
    found = system.api("tinh-40", "appraisal").get("/de-an", params={"q": CODE}).json()["items"]
    return str(next(d["de_an_id"] for d in found if d["code"] == CODE))


def state_text(page: Any) -> str:
    return str(page.locator("#trang-thai").inner_text())


def links(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("ul.actions a").all_inner_texts()]


def send(page: Any, action: str, fields: dict[str, str], checks: tuple[str, ...] = ()) -> None:
    """On an action's form: fill, tick, send."""
    for name, value in fields.items():
        page.get_by_label(name, exact=True).fill(value)
    for name in checks:
        page.get_by_label(name, exact=True).check()
    page.get_by_role("button", name=action, exact=True).click()
    page.wait_for_load_state()


def test_the_ministry_contracts_adjusts_and_settles_a_national_de_an_on_its_own_console(
    officer: Any, system: Any, axe: Any
) -> None:
    path = f"/de-an/tinh-40/{de_an_id(system)}"
    so = officer("so.nghean", "tinh-40")
    cuc = officer("cuc.bo", "bo")

    # the Sở: no contract button on a national đề án; the page says who decides it, and where
    so.go(path)
    assert state_text(so.page) == "Đã phê duyệt"
    assert "Ký hợp đồng" not in links(so.page)
    assert "«Ký hợp đồng»" in so.page.locator("#do-bo-quyet-dinh").inner_text()
    axe(so.page, "a national đề án at the province")

    # the Cục: the contract waits in its work queue, on the ministry's record of the đề án
    def waiting_in_the_queue() -> bool:
        cuc.go("/")
        return "Ký hợp đồng (Cục)" in cuc.page.locator("main").inner_text() and CODE in cuc.main_text()

    eventually(waiting_in_the_queue, "the contract in the Cục's work queue")
    axe(cuc.page, "the Cục's work queue")
    cuc.page.locator("#cho-xu-ly").get_by_role("link", name=CODE).click()
    cuc.page.wait_for_load_state()
    assert "Hồ sơ tại Bộ" in cuc.main_text() and links(cuc.page) == ["Ký hợp đồng"]
    axe(cuc.page, "the ministry's view of a province's national đề án")
    cuc.page.get_by_role("link", name="Ký hợp đồng", exact=True).click()
    assert "ghi trên hệ thống của Bộ Công Thương" in cuc.page.locator("#ghi-tai-bo").inner_text()
    axe(cuc.page, "the contract form at the ministry")
    contract = {"Số hợp đồng": "15/2024/HĐ-KCQG", "Ngày ký": "05/02/2024"}
    send(cuc.page, "Ký hợp đồng", contract | {"Kinh phí hỗ trợ theo hợp đồng (đồng)": "300.000.000"})
    assert "vượt kinh phí được phê duyệt" in cuc.page.locator("#e-f-contracted_support_vnd").inner_text()
    axe(cuc.page, "the contract refused beside its field")
    send(cuc.page, "Ký hợp đồng", contract | {"Kinh phí hỗ trợ theo hợp đồng (đồng)": "280.000.000"})
    assert "trên hệ thống của Bộ" in cuc.main_text()

    def contracted_at_the_province() -> bool:
        so.go(path)
        return state_text(so.page) == "Đã ký hợp đồng"

    eventually(contracted_at_the_province, "the province's đề án contracted by the Cục's decision")
    assert "15/2024/HĐ-KCQG" in so.main_text()
    assert "Cục Công Thương địa phương" in so.page.locator("#lich-su tbody tr").last.inner_text()  # who decided

    # more money: the Sở asks; the Minister decides it, the Cục may not
    so.page.get_by_role("link", name="Đề nghị điều chỉnh", exact=True).click()
    so.page.get_by_label("Loại điều chỉnh", exact=True).select_option("tang_kinh_phi")
    send(
        so.page,
        "Đề nghị điều chỉnh",
        {
            "Nội dung đề nghị": "Giá thiết bị chế biến chè tăng",
            "Kinh phí hỗ trợ mới (đồng)": "300.000.000",
            "Ngày đề nghị": "01/04/2024",
        },
    )
    assert "Bộ trưởng Bộ Công Thương" in so.page.locator("#cho-dieu-chinh").inner_text()
    assert "Quyết định điều chỉnh" not in links(so.page)  # the Minister's, not the Sở's

    planning = system.api("bo", "planning", "cuc")

    def nghe_an_in_the_national_view() -> dict[str, int]:
        view = planning.get("/views/national", params={"year": 2024}).json()
        return dict(next(r for r in view["by_province_now"] if r["province_now"] == "40"))

    def contract_in_the_view() -> bool:
        return nghe_an_in_the_national_view()["contracted_vnd"] >= 280_000_000

    eventually(contract_in_the_view, "the contract in the national view")
    before = nghe_an_in_the_national_view()
    minister = officer("lanhdao.bo", "bo")

    def the_minister_may_decide() -> bool:
        minister.go(path)
        return "Quyết định điều chỉnh" in links(minister.page)

    eventually(the_minister_may_decide, "the request on the ministry's record")
    cuc.go(path)
    assert "Quyết định điều chỉnh" not in links(cuc.page)
    minister.page.get_by_role("link", name="Quyết định điều chỉnh", exact=True).click()
    assert (
        "Thẩm quyền quyết định: Bộ trưởng Bộ Công Thương" in minister.page.locator("#de-nghi-dieu-chinh").inner_text()
    )
    axe(minister.page, "the Minister's adjustment decision")
    send(
        minister.page,
        "Quyết định điều chỉnh",
        {"Số quyết định": "1234/QĐ-BCT", "Ngày quyết định": "10/04/2024"},
        checks=("Đồng ý điều chỉnh",),
    )
    assert "trên hệ thống của Bộ" in minister.main_text()

    def raised_at_the_province() -> bool:
        so.go(path)
        return "Ba trăm triệu đồng" in so.page.locator("#h-approval + p").inner_text()

    eventually(raised_at_the_province, "the approved support raised by the Minister's decision")
    assert "1234/QĐ-BCT" in so.page.locator("#dieu-chinh").inner_text()

    # the national plan's line and the national view take the new amount

    def plan_amended() -> bool:
        plan = planning.get("/plans/quoc_gia/2024").json()
        return any(a["decision_number"] == "1234/QĐ-BCT" for a in plan["amendments"])

    eventually(plan_amended, "plan.amended from the Minister's decision")
    lines = planning.get("/plans/quoc_gia/2024").json()["lines"]
    assert next(v for v in lines.values() if v["proposal"]["code"] == CODE)["approved_support_vnd"] == 300_000_000
    minister.go("/ke-hoach?cap=quoc_gia&nam=2024")
    assert "1234/QĐ-BCT" in minister.main_text()

    def national_view_raised() -> bool:  # Nghệ An's national money, this đề án 20.000.000 đồng more
        row = nghe_an_in_the_national_view()
        return all(row[k] == before[k] + 20_000_000 for k in ("quoc_gia", "approved_vnd", "contracted_vnd"))

    eventually(national_view_raised, "the national view's approved and contracted amounts")

    # the province completes and accepts; the Cục settles on the ministry's console
    appraisal = system.api("tinh-40", "appraisal")
    for action, body in (
        ("progress", {"month": "2024-09", "percent": 100}),
        ("complete", {"on": "2024-10-30"}),
        ("acceptance", {"accepted_on": "2024-11-15", "accepted_support_vnd": 295_000_000}),
    ):
        done = appraisal.post(f"/de-an/{de_an_id(system)}/{action}", json=body)
        assert done.status_code == 200, done.text

    def settlement_offered() -> bool:
        cuc.go(path)
        return links(cuc.page) == ["Quyết toán"]

    eventually(settlement_offered, "the acceptance on the ministry's record")
    cuc.page.get_by_role("link", name="Quyết toán", exact=True).click()
    assert cuc.page.get_by_label("Kinh phí quyết toán (đồng)", exact=True).input_value() == "295.000.000"
    send(cuc.page, "Quyết toán", {"Ngày quyết toán": "20/12/2024", "Ngày nộp hồ sơ quyết toán": "25/11/2024"})

    def settled_at_the_province() -> bool:
        so.go(path)
        return state_text(so.page) == "Đã quyết toán"

    eventually(settled_at_the_province, "the province's đề án settled by the Cục's decision")
    assert "295.000.000" in so.page.locator("#quyet-toan").inner_text()
    axe(so.page, "a settled national đề án at the province")
    cuc.go(path)
    decisions = cuc.page.locator("#quyet-dinh-cua-bo").inner_text()
    assert "15/2024/HĐ-KCQG" in decisions and "1234/QĐ-BCT" in decisions and "Quyết toán" in decisions

    # the national report: the state support by status, approved beside contracted, advanced, accepted, settled
    def settled_in_the_report() -> bool:
        cuc.go("/bao-cao?nam=2024")
        rows = cuc.page.locator("#theo-buoc tbody tr").filter(has_text="Đã quyết toán")
        return rows.count() == 1 and "295.000.000" in rows.inner_text()

    eventually(settled_in_the_report, "the settlement in the national report")
    axe(cuc.page, "the national report with the money by step")
