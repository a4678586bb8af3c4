"""Officers walk the console as they would: in Chromium, against the whole system `make run` starts.

``KC_CONSOLE_SCREENSHOTS=docs/console`` also saves the main screens there (the README shows them).
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(900)
SHOTS = os.environ.get("KC_CONSOLE_SCREENSHOTS")
WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)


def tax_codes() -> tuple[str, str]:
    """(a valid 10-digit tax code, the same with a wrong check digit)."""
    while True:
        nine = f"01{random.randrange(10**6, 10**7)}"
        check = 10 - sum(int(d) * w for d, w in zip(nine, WEIGHTS, strict=True)) % 11
        if check < 10:
            return f"{nine}{check}", f"{nine}{(check + 1) % 10}"


def suffix() -> str:
    return f"{random.randrange(100, 999)}"


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=False)


def eventually(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.5)


def select(page: Any, label: str, value: str) -> None:
    page.get_by_label(label, exact=True).select_option(value)


def draft(
    page: Any,
    *,
    code: str,
    title: str,
    level: str,
    kind: str,
    year: int,
    unit: str | None,
    content: str,
    line: tuple[str, str, str, str, str],
) -> None:
    """Fill and send the draft form (page already on /de-an/moi)."""
    page.get_by_label("Mã đề án", exact=True).fill(code)
    select(page, "Cấp chương trình", level)
    select(page, "Loại đề án", kind)
    page.get_by_label("Năm kế hoạch", exact=True).fill(str(year))
    page.get_by_label("Tên đề án", exact=True).fill(title)
    if unit is not None:
        page.get_by_label("Đơn vị thực hiện", exact=True).fill(unit)
    select(page, "Nội dung hoạt động", content)
    cost, item, total, support, counterpart = line
    page.get_by_label("Dòng 1: hạng mục chi", exact=True).fill(cost)
    select(page, "Dòng 1: mục hỗ trợ", item)
    page.get_by_label("Dòng 1: tổng chi phí (đồng)", exact=True).fill(total)
    page.get_by_label("Dòng 1: kinh phí khuyến công đề nghị (đồng)", exact=True).fill(support)
    page.get_by_label("Dòng 1: vốn đối ứng (đồng)", exact=True).fill(counterpart)
    page.get_by_role("button", name="Lập dự thảo").click()
    page.wait_for_load_state()


def act(page: Any, action: str, fields: dict[str, str], selects: dict[str, str] | None = None) -> None:
    """Press an action button on a đề án page, fill its form, send it."""
    page.get_by_role("link", name=action, exact=True).click()
    for name, value in (selects or {}).items():
        select(page, name, value)
    for name, value in fields.items():
        page.get_by_label(name, exact=True).fill(value)
    page.get_by_role("button", name=action, exact=True).click()
    page.wait_for_load_state()


def state_text(page: Any) -> str:
    return str(page.locator("#trang-thai").inner_text())


# -- a Sở officer: establishment, dossier --------------------------------------------------------------
def test_so_officer_registers_an_establishment_uploads_and_verifies_a_document(officer, system, axe) -> None:
    so = officer("so.nghean", "tinh-40")
    page = so.page
    shot(page, "01-viec-can-lam")
    axe(page, "work queue")
    valid, wrong = tax_codes()
    name = f"Cơ sở rèn Đông Hà {suffix()}"

    so.go("/co-so/moi")
    axe(page, "register form")
    page.get_by_label("Tên cơ sở", exact=True).fill(name)
    select(page, "Loại hình", "ho_kinh_doanh")
    page.get_by_label("Mã số thuế", exact=True).fill(wrong)
    select(page, "Danh mục đơn vị hành chính của mã xã", "tu_2025")
    page.get_by_label("Mã xã, phường (5 chữ số)", exact=True).fill("17419")
    page.get_by_role("button", name="Đăng ký").click()
    # the registry's refusal, in Vietnamese, beside the field it names; nothing written
    error = page.locator("#e-f-tax_code")
    assert "sai số kiểm tra" in error.inner_text()
    assert page.get_by_label("Mã số thuế", exact=True).get_attribute("aria-invalid") == "true"
    shot(page, "05-loi-ma-so-thue")
    axe(page, "register form with errors")
    with system.api("tinh-40", "registry") as api:
        assert api.get("/establishments", params={"q": name}).json()["total"] == 0

    # an over-long name: said plainly, nothing written
    page.get_by_label("Tên cơ sở", exact=True).fill("Cơ sở " + "rất dài " * 60)
    page.get_by_label("Mã số thuế", exact=True).fill(valid)
    page.get_by_role("button", name="Đăng ký").click()
    assert "Quá dài" in page.locator("#e-f-name").inner_text()
    with system.api("tinh-40", "registry") as api:
        assert api.get("/establishments", params={"q": valid}).json()["total"] == 0

    page.get_by_label("Tên cơ sở", exact=True).fill(name)
    page.get_by_label("Mã số thuế", exact=True).fill(valid)
    page.get_by_role("button", name="Đăng ký").click()
    page.wait_for_url(re.compile(r"/co-so/[0-9a-f-]{36}"))
    assert f"Đã đăng ký cơ sở {name}" in so.main_text()

    # a dossier document: upload, then it waits in the work queue, then verified
    select(page, "Loại tài liệu", "giay_dang_ky_kinh_doanh")
    page.get_by_label("Tệp (tối đa 10 MB)").set_input_files(
        {
            "name": "giay-dang-ky.pdf",
            "mimeType": "application/pdf",
            "buffer": b"%PDF-1.4 giay dang ky " + os.urandom(16),
        }
    )
    page.get_by_role("button", name="Nộp tài liệu").click()
    assert "Đã nộp tài liệu" in so.main_text()
    assert page.locator("#ho-so td.doc-status").first.inner_text() == "Chờ xác minh"
    establishment = page.url.split("#")[0]
    shot(page, "04-co-so")
    axe(page, "establishment page")

    so.go("/")
    assert name in page.locator("main").inner_text()
    page.get_by_role("link", name=name).click()
    page.get_by_role("button", name="Xác minh", exact=True).click()
    assert "Đã xác minh tài liệu." in so.main_text()
    assert page.locator("#ho-so td.doc-status").first.inner_text() == "Đã xác minh"
    assert page.url.split("#")[0] == establishment
    so.go("/")  # the registry's list of documents to verify (GET /documents) no longer has it
    assert name not in page.locator("main").inner_text()

    # the search finds it without accents
    so.go("/co-so?q=" + "co so ren dong ha")
    assert name in so.main_text()


# -- a Sở officer: a đề án, a late submission refused -----------------------------------------------------
def test_so_officer_drafts_submits_and_sees_a_late_submission_refused_beside_the_field(officer, system, axe) -> None:
    so = officer("so.nghean", "tinh-40")
    page = so.page
    code = f"KCĐP-40-2024-T{suffix()}"
    so.go("/de-an/moi")
    axe(page, "draft form")
    draft(
        page,
        code=code,
        title="Đào tạo nghề đan lát cho phụ nữ",
        level="dia_phuong",
        kind="kcdp",
        year=2024,
        unit="Trung tâm Khuyến công Nghệ An",
        content="1",
        line=("Lớp đào tạo nghề", "dao_tao_nghe", "60.000.000", "60.000.000", "0"),
    )
    assert f"Đã lập dự thảo đề án {code}" in so.main_text()
    assert state_text(page) == "Dự thảo"
    de_an = page.url

    # the Nghệ An 2024 calendar closes dossiers on 30/10/2023: a submission on 02/11/2023 is refused
    act(page, "Nộp hồ sơ", {"Ngày nộp hồ sơ": "02/11/2023"})
    refusal = page.locator("#e-f-submitted_on").inner_text()
    assert "30/10/2023" in refusal, refusal
    assert page.get_by_label("Ngày nộp hồ sơ", exact=True).get_attribute("aria-invalid") == "true"
    shot(page, "06-nop-muon-bi-tu-choi")
    axe(page, "late submission refused")
    de_an_id = de_an.rsplit("/", 1)[1]
    with system.api("tinh-40", "appraisal") as api:
        assert api.get(f"/de-an/{de_an_id}").json()["status"] == "du_thao"

    page.get_by_label("Ngày nộp hồ sơ", exact=True).fill("20/10/2023")
    page.get_by_role("button", name="Nộp hồ sơ", exact=True).click()
    page.wait_for_url(de_an)
    assert state_text(page) == "Đã nộp hồ sơ"
    timeline = page.locator("#lich-su").inner_text()
    assert "Nộp hồ sơ" in timeline and "Lập dự thảo" in timeline
    assert "calendar@planning:tinh-40:2024" in timeline  # the rule version the deadline came from
    shot(page, "02-de-an")
    axe(page, "đề án page")


# -- the ministry approves a national batch; the province sees it approved --------------------------------
def test_the_ministry_approves_a_national_batch_and_the_province_sees_it_approved(officer, system, axe) -> None:
    so = officer("so.nghean", "tinh-40")
    page = so.page
    code = f"KCQG-2024-40-T{suffix()}"
    so.go("/de-an/moi")
    draft(
        page,
        code=code,
        title="Hỗ trợ máy sấy chè cho nhóm cơ sở",
        level="quoc_gia",
        kind="kcqg_nhom",
        year=2024,
        unit="Trung tâm Khuyến công Nghệ An",
        content="3",
        line=("Máy sấy chè", "may_moc_thiet_bi", "600.000.000", "200.000.000", "400.000.000"),
    )
    de_an = page.url
    path = de_an.removeprefix(so.base)
    act(page, "Nộp hồ sơ", {"Ngày nộp hồ sơ": "25/09/2023"})
    assert state_text(page) == "Đã nộp hồ sơ"
    act(
        page,
        "Thẩm định cơ sở",
        {"Ngày thẩm định": "05/10/2023"},
        selects={"Hình thức thẩm định": "can_bo", "Kết luận": "dong_y"},
    )
    assert state_text(page) == "Đạt thẩm định cơ sở"
    act(page, "Gửi Bộ Công Thương", {"Ngày gửi Bộ": "06/10/2023"})
    assert state_text(page) == "Đã gửi Bộ Công Thương"

    # the ministry's officer appraises it from the ministry's console, on the ministry's record of it
    # (made when the province's đề án reached the ministry); the province receives the decision
    cuc = officer("cuc.bo", "bo")

    def ministry_may_appraise() -> bool:
        cuc.go(path)
        return cuc.page.get_by_role("link", name="Thẩm định cấp Bộ", exact=True).count() == 1

    eventually(ministry_may_appraise, "the ministry's record of the forwarded đề án")
    act(
        cuc.page,
        "Thẩm định cấp Bộ",
        {"Ngày thẩm định": "20/11/2023"},
        selects={"Hình thức thẩm định": "can_bo", "Kết luận": "dong_y"},
    )
    assert "trên hệ thống của Bộ" in cuc.main_text()

    def appraised_at_the_province() -> bool:
        page.goto(de_an)
        return state_text(page) == "Đạt thẩm định cấp Bộ" or "cấp Bộ" in state_text(page)

    eventually(appraised_at_the_province, "the province's đề án appraised by the ministry's decision")

    act(page, "Đề xuất vào kế hoạch khuyến công quốc gia", {"Ngày đề xuất": "25/11/2023"})
    assert state_text(page) == "Đề xuất vào kế hoạch"

    # the minister's office approves the batch
    leader = officer("lanhdao.bo", "bo")
    lp = leader.page

    def line_waits() -> bool:
        leader.go("/ke-hoach?cap=quoc_gia&nam=2024")
        return lp.locator("#phe-duyet").count() == 1 and code in lp.locator("#phe-duyet").inner_text()

    eventually(line_waits, "the đề án as a line of the national plan")
    axe(lp, "plan page")
    form = lp.locator("#phe-duyet")
    form.get_by_label("Số quyết định", exact=True).fill("3999/QĐ-BCT")
    form.get_by_label("Ngày quyết định", exact=True).fill("15/03/2024")
    form.get_by_label("Người ký", exact=True).fill("Bộ trưởng Bộ Công Thương")
    assert "Hai trăm triệu đồng" in form.inner_text()  # the amount in words
    shot(lp, "03-phe-duyet-ke-hoach")
    form.get_by_role("button", name="Phê duyệt đợt").click()
    assert "Đã phê duyệt đợt 2 theo quyết định 3999/QĐ-BCT" in leader.main_text()
    assert "3999/QĐ-BCT" in lp.locator("#dot-phe-duyet").inner_text()

    def approved() -> bool:
        page.goto(de_an)
        return state_text(page) == "Đã phê duyệt"

    eventually(approved, "the province's đề án approved by plan.approved.v1")
    assert "3999/QĐ-BCT" in so.main_text() and "Hai trăm triệu đồng" in so.main_text()

    # the minister's office amends the approved line: a decision with its number, date, signer and reason
    leader.go("/ke-hoach?cap=quoc_gia&nam=2024")
    lp.get_by_text("Điều chỉnh kế hoạch đã phê duyệt").click()
    amend = lp.locator("form[action$='/dieu-chinh']")
    amend.get_by_label("Số quyết định điều chỉnh").fill("4100/QĐ-BCT")
    amend.get_by_label("Ngày quyết định điều chỉnh").fill("20/06/2024")
    amend.get_by_label("Người ký quyết định điều chỉnh").fill("Thứ trưởng Bộ Công Thương")
    amend.get_by_label(re.compile(rf"^{re.escape(code)} — ")).fill("150.000.000")
    amend.get_by_role("button", name="Ghi điều chỉnh").click()  # no reason: refused beside it, nothing sent
    assert lp.locator("form[action$='/dieu-chinh'] .field.invalid").count() == 1
    assert "Vui lòng nhập trường này" in lp.locator("form[action$='/dieu-chinh'] .field.invalid").inner_text()
    assert "4100/QĐ-BCT" not in lp.locator("#dieu-chinh").all_inner_texts().__str__()
    axe(lp, "plan amendment refused")
    amend = lp.locator("form[action$='/dieu-chinh']")
    amend.get_by_label("Lý do điều chỉnh").fill("Đơn vị giảm quy mô thiết bị")
    amend.get_by_role("button", name="Ghi điều chỉnh").click()
    assert "Đã điều chỉnh kế hoạch theo quyết định 4100/QĐ-BCT: 1 đề án." in leader.main_text()
    amended = lp.locator("#dieu-chinh").inner_text()
    assert "4100/QĐ-BCT" in amended and "20/06/2024" in amended and "Thứ trưởng Bộ Công Thương" in amended
    assert f"{code}: 150.000.000 đồng (Một trăm năm mươi triệu đồng)" in amended

    # the ministry signs the contract on its record of the đề án; the province carries it out: a monthly
    # progress report, a photo of the work on it
    def ministry_may_contract() -> bool:
        cuc.go(path)
        return cuc.page.get_by_role("link", name="Ký hợp đồng", exact=True).count() == 1

    eventually(ministry_may_contract, "the ministry's record of the approved đề án")
    act(
        cuc.page,
        "Ký hợp đồng",
        {
            "Số hợp đồng": "15/2024/HĐ-KCQG",
            "Ngày ký": "01/07/2024",
            "Kinh phí hỗ trợ theo hợp đồng (đồng)": "150.000.000",
        },
    )

    def contracted_at_the_province() -> bool:
        page.goto(de_an)
        return page.get_by_role("link", name="Báo cáo tiến độ", exact=True).count() == 1

    eventually(contracted_at_the_province, "the province's đề án contracted by the ministry's decision")
    act(
        page,
        "Báo cáo tiến độ",
        {"Tháng báo cáo": "2024-08", "Tiến độ (%)": "40", "Nội dung đã thực hiện": "Đã lắp máy sấy"},
    )
    assert "Tháng 2024-08: 40%" in page.locator("#tien-do").inner_text()
    report = page.locator("#tien-do-2024-08")
    report.get_by_label("Ảnh tháng 2024-08 (JPEG, PNG; tối đa 10 MB)").set_input_files(
        {"name": "lap-may.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff\xe0" + os.urandom(64)}
    )
    report.get_by_label("Chú thích ảnh tháng 2024-08").fill("Máy sấy chè đã lắp")
    report.get_by_role("button", name="Thêm ảnh tháng 2024-08").click()
    assert "Đã thêm ảnh vào báo cáo tiến độ tháng 2024-08." in so.main_text()
    photos = page.locator("#tien-do-2024-08 ul.photos").inner_text()
    assert "Máy sấy chè đã lắp" in photos and "Ảnh JPEG" in photos
    axe(page, "đề án page with a progress photo")
    shot(page, "12-de-an-tien-do")

    with system.api("bo", "planning", "lanh_dao_bo") as api:
        line = next(
            line
            for line in api.get("/plans/quoc_gia/2024").json()["lines"].values()
            if (line.get("proposal") or {}).get("code") == code
        )
        assert line["approved_support_vnd"] == 150_000_000


# -- the plan page lists its registrations (planning's GET /registrations) ------------------------------------
def test_the_plan_page_lists_the_registrations_filed_for_the_plan(officer, system, axe) -> None:
    so = officer("so.nghean", "tinh-40")
    page = so.page
    so.go("/ke-hoach?cap=dia_phuong&nam=2024")
    counts = page.locator("#dang-ky-theo-trang-thai").inner_text()
    assert re.fullmatch(r"Đã đăng ký: \d+; Sở đã chấp nhận vào tổng hợp: \d+; Sở đã trả lại: \d+\.", counts), counts
    listed = page.locator("#dang-ky-ke-hoach").inner_text()
    assert "UBND xã Thông Thụ" in listed and "muộn hạn, gia hạn 77/QĐ-SCT" in listed, listed
    assert "Đào tạo nghề chế biến chè" in listed and "60.000.000 đồng" in listed
    assert "Trung tâm Khuyến công Nghệ An" not in listed  # a national registration, not this plan's
    axe(page, "plan page with registrations")
    page.get_by_role("link", name="Lọc, chấp nhận hoặc trả lại các bản đăng ký").click()
    page.wait_for_url(re.compile(r"/dang-ky-ke-hoach\?nam=2024&level=dia_phuong"))
    assert "UBND xã Thông Thụ" in page.locator("#ban-dang-ky").inner_text()


# -- an auditor reads, and acts on nothing ------------------------------------------------------------------
def test_an_auditor_sees_the_timeline_but_no_action_button(officer, system, axe) -> None:
    auditor = officer("kiemtoan.nghean", "tinh-40")
    page = auditor.page
    auditor.go("/de-an?q=KCĐP-40-2024-07")
    page.get_by_role("link", name="KCĐP-40-2024-07").click()
    assert state_text(page) == "Đã phê duyệt"
    assert page.locator("#lich-su tbody tr").count() >= 4
    assert "Phê duyệt" in page.locator("#lich-su").inner_text()
    assert page.locator("#khong-thao-tac").count() == 1
    assert page.locator("ul.actions a").count() == 0
    axe(page, "auditor's đề án page")
    # and the form of an action, reached by its address, offers nothing to send
    auditor.go(page.url.removeprefix(auditor.base) + "/hanh-dong/ky_hop_dong")
    assert page.get_by_role("button", name="Ký hợp đồng").count() == 0

    # the rebuild digest beside the live one, read-only
    auditor.go("/kiem-toan")
    page.get_by_role("button", name="Dựng lại và so sánh").click()
    page.wait_for_load_state()
    assert page.locator("#ket-qua-doi-chieu").count() == 1, auditor.main_text()
    assert page.locator("#ket-qua-doi-chieu").inner_text() == "Bằng nhau"
    live, rebuilt = page.locator("#ma-bam-dang-dung").inner_text(), page.locator("#ma-bam-dung-lai").inner_text()
    assert live == rebuilt and len(live) >= 32
    assert page.locator("main form[method=post]").count() == 0  # nothing on this page writes
    axe(page, "audit page (rebuild)")

    # the stream's verification, as kc audit verify prints it: signatures, chains, the publishers' heads
    page.get_by_role("button", name="Kiểm tra chữ ký và chuỗi băm").click()
    page.wait_for_load_state()
    assert page.locator("#ket-qua-kiem-tra").count() == 1, auditor.main_text()
    assert page.locator("#ket-qua-kiem-tra").inner_text().startswith("Đã xác minh toàn bộ"), auditor.main_text()
    chains = page.locator("#chuoi-bam").inner_text()
    assert "Cơ sở dữ liệu cơ sở CNNT" in chains and "Thẩm định đề án" in chains, chains
    assert page.locator("#loi-xac-minh").count() == 0
    assert "Thẩm định đề án #" in auditor.main_text()  # compared with the head the service reports
    assert page.locator("main form[method=post]").count() == 0
    shot(page, "10-kiem-toan")
    axe(page, "audit page (verification)")


def test_reports_draw_a_vendored_chart_and_show_the_rebuild_digest_beside_the_live_one(officer, system, axe) -> None:
    ministry = officer("cuc.bo", "bo")
    page = ministry.page
    ministry.go("/bao-cao?nam=2024")
    assert "Theo tỉnh (sau sáp nhập 2025)" in ministry.main_text() and "Tỉnh Nghệ An" in ministry.main_text()
    # Chart.js (vendored) drew the chart: the canvas has pixels, and no script came from elsewhere
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('bieu-do'))")
    page.get_by_role("link", name="Dựng lại từ nhật ký và so sánh").click()
    page.wait_for_load_state()
    assert page.locator("#ket-qua-doi-chieu").count() == 1, ministry.main_text()
    print("rebuild:", page.locator("#ma-bam-dung-lai").locator("xpath=..").inner_text())
    assert page.locator("#ket-qua-doi-chieu").inner_text() == "Bằng nhau"
    shot(page, "11-bao-cao")
    axe(page, "national report")
    ministry.go("/bao-cao?nam=2024&ngay=31/12/2023")
    assert "Báo cáo như đã ghi nhận đến cuối ngày 31/12/2023" in ministry.main_text()
    province = officer("so.nghean", "tinh-40")
    province.go("/bao-cao?nam=2024")
    assert "Theo nội dung hoạt động" in province.main_text()
    axe(province.page, "provincial report")


def test_webhook_subscriptions_are_created_rotated_disabled_and_deleted(officer, system, axe) -> None:
    so = officer("so.nghean", "tinh-40")
    page = so.page
    so.go("/thong-bao")
    axe(page, "notifications")
    page.get_by_label("Địa chỉ nhận (https://…)").fill("http://127.0.0.1:9/nhan-su-kien")
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    assert "whsec_" in page.locator(".flash").inner_text()
    sub_id = page.locator(".flash code").inner_text().split(":")[0]
    row = page.locator("tr", has=page.get_by_role("link", name=sub_id))
    row.get_by_role("button", name=f"Đổi khóa {sub_id}").click()
    assert "whsec_" in page.locator(".flash").inner_text()
    page.locator("tr", has=page.get_by_role("link", name=sub_id)).get_by_role(
        "button", name=f"Tạm ngừng {sub_id}"
    ).click()
    assert "Đã tạm ngừng" in so.main_text()
    assert "Tạm ngừng" in page.locator("tr", has=page.get_by_role("link", name=sub_id)).inner_text()
    page.get_by_role("link", name=sub_id).click()
    axe(page, "webhook deliveries")
    so.go("/thong-bao")
    page.locator("tr", has=page.get_by_role("link", name=sub_id)).get_by_role("button", name=f"Xóa {sub_id}").click()
    assert "Đã xóa" in so.main_text() and page.get_by_role("link", name=sub_id).count() == 0


# -- a province officer cannot open another province's records ----------------------------------------------
def test_a_province_officer_cannot_open_another_provinces_records(officer, system) -> None:
    with system.api("tinh-31", "appraisal") as api:
        hp = api.get("/de-an", params={"q": "KCĐP-31-2023-04"}).json()["items"][0]
    so = officer("so.nghean", "tinh-40")
    response = so.go(f"/de-an/tinh-31/{hp['de_an_id']}")
    assert response.status == 403
    assert "Không có quyền" in so.page.locator("h1").inner_text()
    assert hp["title"] not in so.main_text()
    # and the list offers no other province to look into
    so.go("/de-an")
    options = so.page.locator("#noi option").all_inner_texts() if so.page.locator("#noi").count() else []
    assert not any("Hải Phòng" in o for o in options)


# -- an implementing unit: its own đề án only ----------------------------------------------------------------
def test_an_implementing_unit_drafts_and_submits_its_own_and_cannot_see_another_units(officer, system, axe) -> None:
    unit = officer("donvi.nghean", "tinh-40")
    page = unit.page
    axe(page, "unit's work queue")
    unit.go("/cong-don-vi")
    axe(page, "unit portal")
    shot(page, "07-cong-don-vi")
    page.get_by_role("link", name="Lập đề án mới").click()
    assert page.get_by_label("Đơn vị thực hiện", exact=True).count() == 0  # its own unit, not a choice
    code = f"KCĐP-40-2024-U{suffix()}"
    draft(
        page,
        code=code,
        title="Truyền nghề mây tre đan",
        level="dia_phuong",
        kind="kcdp",
        year=2024,
        unit=None,
        content="1",
        line=("Lớp truyền nghề", "dao_tao_nghe", "40.000.000", "40.000.000", "0"),
    )
    assert "Trung tâm Khuyến công Nghệ An" in unit.main_text()
    act(page, "Nộp hồ sơ", {"Ngày nộp hồ sơ": "25/10/2023"})
    assert state_text(page) == "Đã nộp hồ sơ"
    mine = page.url.removeprefix(unit.base)

    # its own documents: kept at the province, what a file is read from its bytes, downloaded as an attachment
    files = page.locator("#tai-lieu")
    select(page, "Loại tài liệu", "thuyet_minh")
    files.get_by_label(re.compile("^Tệp")).set_input_files(
        {"name": "trang.pdf", "mimeType": "application/pdf", "buffer": b"<html><script>alert(1)</script></html>"}
    )
    files.get_by_role("button", name="Nộp tài liệu").click()
    assert "Chưa nộp: Loại tệp không được nhận" in unit.main_text()  # HTML sent as a PDF
    assert page.locator("#tai-lieu-de-an").count() == 0
    pdf = b"%PDF-1.4 thuyet minh " + os.urandom(16)
    select(page, "Loại tài liệu", "thuyet_minh")
    page.locator("#tai-lieu").get_by_label(re.compile("^Tệp")).set_input_files(
        {"name": "thuyet-minh.pdf", "mimeType": "application/pdf", "buffer": pdf}
    )
    page.locator("#tai-lieu").get_by_role("button", name="Nộp tài liệu").click()
    assert "Đã nộp tài liệu: Thuyết minh đề án." in unit.main_text()
    row = page.locator("#tai-lieu-de-an tbody tr").first.inner_text()
    assert "Thuyết minh đề án" in row and "PDF" in row
    axe(page, "unit's đề án page with its documents")
    link = page.locator("#tai-lieu-de-an a").first.get_attribute("href")
    assert link
    got = page.request.get(unit.base + link)
    assert got.status == 200 and got.body() == pdf
    assert (
        got.headers["content-disposition"].startswith("attachment;")
        and got.headers["x-content-type-options"] == "nosniff"
    )

    other = officer("donvi2.nghean", "tinh-40")
    other.go("/cong-don-vi")
    assert code not in other.main_text()
    response = other.go(mine)
    assert response.status in (403, 404)
    assert code not in other.main_text()
    assert other.page.request.get(other.base + link).status in (403, 404)  # nor its documents


# -- the public: a status by code, nothing personal -----------------------------------------------------------
def test_the_public_lookup_shows_a_status_by_code_and_nothing_personal(officer, system, axe) -> None:
    visitor = officer("khach", "tinh-40", sign_in=False)
    page = visitor.page
    visitor.go("/tra-cuu")
    page.get_by_label("Mã đề án hoặc mã tra cứu").fill("KCĐP-40-2024-07")
    page.get_by_role("button", name="Tra cứu").click()
    result = page.locator(".ket-qua-tra-cuu").inner_text()
    assert "Đã phê duyệt" in result and "Tỉnh Nghệ An" in result
    shot(page, "08-tra-cuu-cong-khai")
    axe(page, "public lookup")
    text = visitor.main_text()
    for personal in ("0100109106", "Sở Công Thương (demo)", "Người thực hiện", "ttkc@nghean.gov.vn", "Đăng xuất"):
        assert personal not in text
    visitor.go("/tra-cuu?ma=KHONG-CO-MA")
    assert "Không tìm thấy đề án có mã KHONG-CO-MA" in visitor.main_text()


# -- bad input: an expired session, a forged CSRF token --------------------------------------------------------
def test_an_expired_session_and_a_forged_csrf_token_write_nothing(officer, system, axe) -> None:
    so = officer("so.nghean", "tinh-40")
    page = so.page
    name = f"Cơ sở thử phiên {suffix()}"
    valid, _ = tax_codes()

    def fill() -> None:
        so.go("/co-so/moi")
        page.get_by_label("Tên cơ sở", exact=True).fill(name)
        select(page, "Loại hình", "ho_kinh_doanh")
        page.get_by_label("Mã số thuế", exact=True).fill(valid)
        page.get_by_label("Mã xã, phường (5 chữ số)", exact=True).fill("17419")

    fill()
    system.age_sessions("tinh-40", "so.nghean", 3 * 3600)
    page.get_by_role("button", name="Đăng ký").click()
    assert "Phiên làm việc đã hết hạn" in so.main_text() and "Chưa có gì được ghi" in so.main_text()
    axe(page, "expired session")
    with system.api("tinh-40", "registry") as api:
        assert api.get("/establishments", params={"q": valid}).json()["total"] == 0

    so.sign_in()
    fill()
    page.evaluate("document.querySelector('main form.card input[name=csrf_token]').value = 'gia-mao-tu-trang-khac'")
    page.get_by_role("button", name="Đăng ký").click()
    assert "Mã bảo vệ biểu mẫu (CSRF) không khớp" in so.main_text()
    axe(page, "forged csrf")
    with system.api("tinh-40", "registry") as api:
        assert api.get("/establishments", params={"q": valid}).json()["total"] == 0


# -- accessibility: every screen of every role ---------------------------------------------------------------
SCREENS = {
    ("so.nghean", "tinh-40"): [
        "/",
        "/de-an",
        "/co-so",
        "/co-so-nhap",
        "/ke-hoach",
        "/ke-hoach?cap=quoc_gia&nam=2024",
        "/cong-don-vi/yeu-cau",
        "/de-an/moi",
    ],
    ("ubnd.nghean", "tinh-40"): ["/", "/ke-hoach?cap=dia_phuong&nam=2024"],
    ("kiemtoan.bo", "bo"): ["/", "/de-an", "/ke-hoach?cap=quoc_gia&nam=2024", "/bao-cao", "/kiem-toan"],
    ("cuc.bo", "bo"): ["/", "/thong-bao", "/bao-cao"],
    ("quantri.nghean", "tinh-40"): ["/quan-tri", "/quan-tri/so.nghean"],
}


def test_every_screen_passes_axe_with_no_serious_or_critical_violation(officer, system, axe) -> None:
    visitor = officer("khach", "tinh-40", sign_in=False)
    for path in ("/dang-nhap", "/tra-cuu", "/cong-don-vi/dang-ky", "/khong-co-trang"):
        visitor.go(path)
        axe(visitor.page, path)
    for (username, instance), paths in SCREENS.items():
        person = officer(username, instance)
        for path in paths:
            person.go(path)
            axe(person.page, f"{username} {path}")
        if username == "so.nghean":
            person.go("/co-so")
            person.page.locator("main table a").first.click()
            axe(person.page, "establishment page")
        if username == "quantri.nghean":
            shot(person.page, "09-quan-tri")
