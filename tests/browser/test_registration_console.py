"""The registration cycle in the console, in Chromium against the whole `make run` system and its demo:
the Sở lists, returns (a reason is required, beside its field) and accepts registrations, filters them,
is refused a late national filing without the Cục's extension (beside the date), and the Cục sees every
province's national registration by province as recorded and as it is now."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.timeout(900)


def row(page: Any, registrant: str) -> Any:
    return page.locator("#ban-dang-ky tbody tr").filter(has_text=registrant)


def test_the_so_consolidates_registrations_and_the_cuc_sees_every_province(officer, system, axe) -> None:
    so = officer("so.nghean", "tinh-40")
    page = so.page
    so.go("/dang-ky-ke-hoach?nam=2024")
    axe(page, "registrations")
    text = so.main_text()
    assert "Đăng ký kế hoạch khuyến công năm 2024" in text
    assert "Hạn đơn vị đăng ký với Sở Công Thương" in text and "20/05/2023" in text and "20/06/2023" in text
    late = row(page, "UBND xã Thông Thụ")
    assert "quyết định gia hạn 77/QĐ-SCT" in late.inner_text()
    assert "Sở đã chấp nhận vào tổng hợp" in row(page, "Trung tâm Khuyến công Nghệ An").inner_text()
    assert "Đã gửi Cục lần 1 ngày 16/06/2023 (đúng hạn)" in page.locator("#da-gui-cuc").inner_text()
    assert "Quyết định 77/QĐ-SCT ngày 16/07/2023 của" in page.locator("#gia-han").inner_text()

    # returning without a reason: refused beside the reason, nothing written
    dien_kim = row(page, "UBND xã Diễn Kim")
    dien_kim.locator("summary", has_text="Trả lại").click()
    page.get_by_label("Ngày trả lại cho UBND xã Diễn Kim").fill("20/07/2023")
    page.get_by_role("button", name="Trả lại UBND xã Diễn Kim").click()
    page.wait_for_load_state()
    reason = page.get_by_label("Lý do trả lại UBND xã Diễn Kim")
    assert reason.get_attribute("aria-invalid") == "true"
    assert "Vui lòng nhập trường này" in page.locator(".field-error").first.inner_text()
    api = system.api("tinh-40", "planning")
    still = api.get("/registrations", params={"year": 2024, "unit": "UBND xã Diễn Kim"}).json()["items"]
    assert [r["status"] for r in still] == ["da_nop"]
    reason.fill("Nội dung trùng đề án đã hỗ trợ năm 2023")
    page.get_by_role("button", name="Trả lại UBND xã Diễn Kim").click()
    page.wait_for_load_state()
    assert "Đã trả lại bản đăng ký" in so.main_text()
    assert "Nội dung trùng đề án đã hỗ trợ năm 2023" in row(page, "UBND xã Diễn Kim").inner_text()

    # filters: only what was returned
    page.get_by_label("Trạng thái", exact=True).select_option("tra_lai")
    page.get_by_role("button", name="Xem").click()
    page.wait_for_load_state()
    assert page.locator("#ban-dang-ky tbody tr").count() == 1
    assert "UBND xã Diễn Kim" in page.locator("#ban-dang-ky").inner_text()

    # a national re-filing after 20/06/2023 without the Cục's extension: refused beside the date
    so.go("/dang-ky-ke-hoach?nam=2024")
    page.locator("summary", has_text="Gửi Cục các nội dung quốc gia").click()
    page.get_by_label("Ngày gửi Cục", exact=True).fill("21/06/2023")
    page.get_by_role("button", name="Gửi Cục", exact=True).click()
    page.wait_for_load_state()
    assert "Quá hạn gửi đăng ký kế hoạch khuyến công quốc gia (20/06/2023" in page.locator("#e-f-filed_on").inner_text()
    axe(page, "registrations with an error")
    filed = api.get("/national-registrations/2024").json()
    assert len(filed["filings"]) == 1

    # the Cục: every province's national registration, by province as recorded and now
    cuc = officer("cuc.bo", "bo")
    cuc.go("/dang-ky-ke-hoach?nam=2024")
    axe(cuc.page, "national registrations at the ministry")
    table = cuc.page.locator("#dang-ky-cac-tinh").inner_text()
    assert "Tỉnh Nghệ An" in table and "Thành phố Hải Phòng" in table and "Phía Bắc" in table
    assert "280.000.000" in table and "300.000.000" in table


def test_an_establishments_priority_reads_from_official_lists_and_regional_certificates(officer, system, axe) -> None:
    registry = system.api("tinh-40", "registry")
    found = registry.get("/establishments", params={"q": "may tre dan Dien Kim"}).json()["items"]
    assert found, "the demo's Diễn Kim cooperative"
    so = officer("so.nghean", "tinh-40")
    so.go(f"/co-so/{found[0]['id']}?ngay=01/06/2024")
    axe(so.page, "establishment with priority")
    priority = so.page.locator("#uu-tien").inner_text()
    # Nghệ An is northern (TT 26/2014 Art. 3); a district- and a province-level certificate give no priority
    assert "Phía Bắc" in priority
    assert "Sản phẩm tiêu biểu cấp khu vực, quốc gia còn hiệu lực\nKhông" in priority
    assert "Không có trong danh sách chính thức nào" in priority  # Diễn Châu is on no list on record
    text = so.main_text()
    assert "Từ 50 lao động trở lên" in text and "Điều 17 khoản 3" in text
