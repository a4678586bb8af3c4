"""Appraisal councils, field trips and the results form at acceptance in the console (issue 15 items 3, 6),
in Chromium against the whole `make run` system and its demo (Nghệ An's council 215/QĐ-SCT of three for
KCĐP-40-2024-09, its field trip of March 2024).

Each member signs in with their own account (role hoi_dong) and sees only their councils and their own
forms: the chair and the secretary sign their declarations and give opinions, the third member declares
a conflict of interest and is left with a notice (the service refuses their vote: 403, in Vietnamese);
the secretary's minutes are refused beside the number until one is given, then show the computed
result; the Sở's base appraisal follows the minutes. The Sở records a visit's findings (refused beside
the field when empty) and, at acceptance, is offered only the results the đề án's activity contents
allow; the page then lists them by name. axe-core on each screen."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from kc_runtime.keys import key_file, load_signer
from kc_runtime.web.auth import issue_token

pytestmark = pytest.mark.timeout(900)

COUNCIL = "Hội đồng thẩm định đề án khuyến công địa phương năm 2024"


def de_an_id(system: Any, code: str) -> str:
    found = system.api("tinh-40", "appraisal").get("/de-an", params={"q": code}).json()["items"]
    return str(next(d["de_an_id"] for d in found if d["code"] == code))


def section(page: Any, code: str) -> Any:
    return page.locator("section.card").filter(has_text=f"Đề án {code}")


def declare(person: Any, *, conflict: bool, on: str, note: str = "") -> None:
    page = person.page
    person.go("/hoi-dong")
    page.get_by_role("link", name=COUNCIL).click()
    page.wait_for_load_state()
    part = section(page, "KCĐP-40-2024-09")
    if conflict:
        part.get_by_label("Tôi có xung đột lợi ích với đề án này").check()
    part.get_by_label("Ngày ký cam kết").fill(on)
    if note:
        part.get_by_label("Ghi chú").fill(note)
    part.get_by_role("button", name="Ký cam kết cho đề án KCĐP-40-2024-09").click()
    page.wait_for_load_state()
    assert "Đã ký cam kết." in person.main_text()


def give_opinion(person: Any, conclusion: str, on: str, comment: str) -> None:
    part = section(person.page, "KCĐP-40-2024-09")
    part.get_by_label("Ý kiến", exact=True).select_option(label=conclusion)
    part.get_by_label("Ngày cho ý kiến").fill(on)
    part.get_by_label("Nhận xét").fill(comment)
    part.get_by_role("button", name="Gửi ý kiến về đề án KCĐP-40-2024-09").click()
    person.page.wait_for_load_state()
    assert "Đã ghi ý kiến của bạn." in person.main_text()


def test_a_council_of_three_signs_in_two_vote_one_conflicted_and_the_minutes_decide(officer, system, axe) -> None:
    so = officer("so.nghean", "tinh-40")
    so.go("/hoi-dong")
    axe(so.page, "councils (Sở)")
    listed = so.page.locator("#hoi-dong").inner_text()
    assert COUNCIL in listed and "215/QĐ-SCT ngày 01/11/2023" in listed and "KCĐP-40-2024-09" in listed
    assert "Chủ tịch hội đồng thẩm định Nghệ An" in so.page.locator("#danh-sach").inner_text()
    assert "Đoàn thẩm định thực tế tại cơ sở, tháng 3/2024" in so.page.locator("#doan").inner_text()

    chair = officer("hoidong.nghean", "tinh-40")
    chair.go("/hoi-dong")
    mine = chair.page.locator("#hoi-dong").inner_text()
    assert COUNCIL in mine and "Bạn là chủ tịch hội đồng" in mine
    assert chair.page.locator("#danh-sach").count() == 0  # a member founds nothing
    declare(chair, conflict=False, on="05/11/2023")
    axe(chair.page, "council page (member)")
    assert (
        "Chủ tịch hội đồng thẩm định Nghệ An — Chủ tịch hội đồng" in chair.page.locator("#vai-tro-cua-ban").inner_text()
    )
    give_opinion(chair, "Đồng ý", "06/11/2023", "Đề án cần thiết cho lao động nông thôn")

    third = officer("hoidong3.nghean", "tinh-40")
    declare(third, conflict=True, on="05/11/2023", note="Người thân của chủ nhiệm HTX")
    notice = third.page.locator("#xung-dot-1").inner_text()
    assert "Bạn đã khai có xung đột lợi ích với đề án này nên không cho ý kiến" in notice
    assert third.page.get_by_role("button", name="Gửi ý kiến về đề án KCĐP-40-2024-09").count() == 0
    # the service refuses the vote whatever the page shows: the member's own token, as themself
    signer = load_signer(key_file(system.var / "keys", "tinh-40"), "tinh-40")
    token = issue_token(signer, sub="hoidong3.nghean", role="hoi_dong", scope="tinh-40", name="Ủy viên")
    council_id = third.page.url.rsplit("/", 1)[-1]
    vote = httpx.post(
        f"{system.services['tinh-40/appraisal']}/councils/{council_id}/opinions",
        json={"de_an_id": de_an_id(system, "KCĐP-40-2024-09"), "conclusion": "khong_dong_y", "given_on": "2023-11-06"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert vote.status_code == 403 and vote.json()["code"] == "conflict_of_interest"
    assert "xung đột lợi ích" in vote.json()["detail"] and "không được cho ý kiến" in vote.json()["detail"]

    secretary = officer("hoidong2.nghean", "tinh-40")
    declare(secretary, conflict=False, on="05/11/2023")
    give_opinion(secretary, "Đồng ý, có chỉnh sửa", "06/11/2023", "Bổ sung danh sách học viên")
    part = section(secretary.page, "KCĐP-40-2024-09")
    part.get_by_label("Ngày họp").fill("07/11/2023")
    part.get_by_role("button", name="Lập biên bản cho đề án KCĐP-40-2024-09").click()
    secretary.page.wait_for_load_state()
    number = section(secretary.page, "KCĐP-40-2024-09").get_by_label("Số biên bản")
    assert number.get_attribute("aria-invalid") == "true"  # refused beside the field, nothing written
    axe(secretary.page, "minutes refused beside the number")
    number.fill("01/BB-HĐTĐ")
    section(secretary.page, "KCĐP-40-2024-09").get_by_role(
        "button", name="Lập biên bản cho đề án KCĐP-40-2024-09"
    ).click()
    secretary.page.wait_for_load_state()
    minutes = secretary.page.locator("#bien-ban-1").inner_text()
    assert "Biên bản 01/BB-HĐTĐ ngày 07/11/2023" in minutes
    assert "Kết luận: Đồng ý, có chỉnh sửa — 2 phiếu" in minutes
    table = secretary.page.locator("table.y-kien").inner_text()
    assert "có xung đột lợi ích, không biểu quyết (Người thân của chủ nhiệm HTX)" in table
    axe(secretary.page, "council with minutes")

    # the Sở's base appraisal follows the minutes: members, opinions and conclusion from them
    training = de_an_id(system, "KCĐP-40-2024-09")
    so.go(f"/de-an/tinh-40/{training}/hanh-dong/tham_dinh_co_so")
    axe(so.page, "base appraisal offering the council's minutes")
    so.page.get_by_label("Theo biên bản của hội đồng thẩm định").select_option(index=1)
    so.page.get_by_label("Hình thức thẩm định").select_option("hoi_dong")
    so.page.get_by_label("Kết luận", exact=True).select_option(label="Đồng ý, có chỉnh sửa")
    so.page.get_by_label("Ngày thẩm định").fill("08/11/2023")
    so.page.get_by_role("button", name="Thẩm định cơ sở").click()
    so.page.wait_for_load_state()
    page_text = so.main_text()
    assert "Theo biên bản 01/BB-HĐTĐ ngày 07/11/2023 của" in page_text, page_text[:2000]
    appraisal = system.api("tinh-40", "appraisal").get(f"/de-an/{training}").json()["appraisals"][-1]
    assert [(m["name"], m["opinion"], m["conflict_declared"]) for m in appraisal["members"]] == [
        ("Chủ tịch hội đồng thẩm định Nghệ An", "dong_y", False),
        ("Thư ký hội đồng thẩm định Nghệ An", "dong_y_co_chinh_sua", False),
        ("Ủy viên hội đồng thẩm định Nghệ An", None, True),
    ]


def test_field_trip_findings_and_the_results_form_at_acceptance(officer, system, axe) -> None:
    so = officer("so.nghean", "tinh-40")
    so.go("/hoi-dong")
    so.page.get_by_role("link", name="Đoàn thẩm định thực tế tại cơ sở, tháng 3/2024").click()
    so.page.wait_for_load_state()
    axe(so.page, "field trip")
    visit = so.page.locator("#lich-tham tbody tr").filter(has_text="KCĐP-40-2024-07")
    assert "12/03/2024" in visit.inner_text()
    visit.locator("summary").click()
    visit.get_by_label("Ngày ghi").fill("12/03/2024")
    visit.get_by_role("button", name="Ghi kết quả KCĐP-40-2024-07").click()
    so.page.wait_for_load_state()
    visit = so.page.locator("#lich-tham tbody tr").filter(has_text="KCĐP-40-2024-07")
    assert visit.get_by_label("Kết quả thẩm định thực tế").get_attribute("aria-invalid") == "true"
    visit.get_by_label("Kết quả thẩm định thực tế").fill("Máy chẻ nan đã lắp đặt, chạy thử đạt công suất")
    visit.get_by_label("Đánh giá").select_option(label="Đạt")
    visit.get_by_label("Ngày ghi").fill("12/03/2024")
    visit.get_by_role("button", name="Ghi kết quả KCĐP-40-2024-07").click()
    so.page.wait_for_load_state()
    row = so.page.locator("#lich-tham tbody tr").filter(has_text="KCĐP-40-2024-07").inner_text()
    assert "Đạt: Máy chẻ nan đã lắp đặt, chạy thử đạt công suất" in row

    # the results form at acceptance: only what the đề án's activity content (3: machinery, models) allows
    machinery = de_an_id(system, "KCĐP-40-2024-07")
    api = system.api("tinh-40", "appraisal")
    for action, body in (
        (
            "contract",
            {"contract_number": "07/2024/HĐ-KCĐP", "signed_on": "2024-02-01", "contracted_support_vnd": 140_000_000},
        ),
        ("progress", {"month": "2024-09", "percent": 100}),
        ("complete", {"on": "2024-10-01"}),
    ):
        done = api.post(f"/de-an/{machinery}/{action}", json=body)
        assert done.status_code == 200, done.text
    so.go(f"/de-an/tinh-40/{machinery}/hanh-dong/nghiem_thu")
    axe(so.page, "acceptance results form")
    results = so.page.locator("#ket-qua").inner_text()
    assert "Cơ sở được hỗ trợ máy móc thiết bị" in results and "Mô hình trình diễn kỹ thuật" in results
    assert "Lao động được đào tạo" not in results  # not a training đề án
    assert "tính từ 1 cơ sở thụ hưởng của đề án" in " ".join(results.split())
    field = so.page.get_by_label("Cơ sở được hỗ trợ máy móc thiết bị")
    field.fill("-1")
    so.page.get_by_role("button", name="Nghiệm thu").click()
    so.page.wait_for_load_state()
    field = so.page.get_by_label("Cơ sở được hỗ trợ máy móc thiết bị")
    assert field.get_attribute("aria-invalid") == "true"
    assert api.get(f"/de-an/{machinery}").json()["status"] == "hoan_thanh"  # nothing written
    field.fill("1")
    so.page.get_by_label("Ngày nghiệm thu").fill("15/10/2024")
    so.page.get_by_role("button", name="Nghiệm thu").click()
    so.page.wait_for_load_state()
    assert "Cơ sở được hỗ trợ máy móc thiết bị: 1" in so.page.locator("#ket-qua-nghiem-thu").inner_text()
    assert api.get(f"/de-an/{machinery}").json()["acceptance"]["outputs"] == {"may_moc": 1}
    axe(so.page, "đề án after acceptance")
