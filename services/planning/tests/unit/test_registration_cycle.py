"""The registration cycle: registrations the Sở accepts or returns, extensions only from the authority
that set the deadline, the province's national registration by the Cục's deadline."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from kc_planning.domain.calendar import Registration
from kc_planning.domain.extension import Deadline, ExtensionDecision, deadline_authority
from kc_planning.domain.national_registration import NationalRegistration
from kc_planning.domain.plan import PlanError
from kc_planning.rulebook import national_calendar

LOCAL = Deadline("registration_deadline", date(2023, 7, 15), "calendar:dia_phuong:tinh-40:2024@v1", "tinh-40")
NATIONAL = Deadline("registration_deadline", date(2023, 6, 20), "calendar:quoc_gia:bo:2024@v1", "bo")


def details(unit: str = "ubnd-xa-dien-kim", level: str = "dia_phuong") -> dict[str, Any]:
    return {
        "level": level,
        "year": 2024,
        "registrant": "UBND xã Diễn Kim",
        "unit": unit,
        "items": [{"title": "Hỗ trợ máy chẻ nan", "content": "3", "support_vnd": 150_000_000, "commune_code": "17431"}],
    }


def extension(
    authority: str = "tinh-40",
    deadline: Deadline = LOCAL,
    grantee_key: str = "ubnd-xa-dien-kim",
    new_deadline: date = date(2023, 7, 25),
    level: str = "dia_phuong",
) -> ExtensionDecision:
    return ExtensionDecision.grant(
        authority=authority,
        level=level,
        year=2024,
        deadline=deadline,
        decision_number="77/QĐ-SCT",
        decision_date=date(2023, 7, 16),
        signer="Giám đốc Sở Công Thương",
        grantee="UBND xã Diễn Kim",
        grantee_key=grantee_key,
        new_deadline=new_deadline,
        reason="Xã sáp nhập, chậm tổng hợp",
        actor="so-40",
    )


def file(on: date, ext: ExtensionDecision | None = None, **kw: Any) -> Registration:
    return Registration.file(
        details(**kw), deadline=LOCAL, filed_on=on, extension=ext.extension if ext else None, actor="xa"
    )


def test_a_registration_on_the_deadline_day_is_on_time_and_the_day_after_is_refused_without_extension() -> None:
    assert file(date(2023, 7, 15)).on_time is True
    with pytest.raises(PlanError, match="cần quyết định gia hạn") as refused:
        file(date(2023, 7, 16))
    assert refused.value.field == "filed_on"


def test_a_late_registration_is_let_in_by_the_recorded_extension_up_to_its_new_deadline() -> None:
    ext = extension()
    late = file(date(2023, 7, 25), ext)
    assert (late.on_time, late.extension, late.details["extension_until"]) == (False, "77/QĐ-SCT", date(2023, 7, 25))
    with pytest.raises(PlanError, match="Quá hạn đã gia hạn") as refused:
        file(date(2023, 7, 26), ext)
    assert refused.value.field == "filed_on"


def test_an_extension_for_another_unit_does_not_let_a_registrant_in() -> None:
    with pytest.raises(PlanError, match="không gia hạn cho đơn vị này") as refused:
        file(date(2023, 7, 20), extension(grantee_key="ubnd-xa-thong-thu"))
    assert refused.value.field == "extension"


def test_an_extension_of_another_authority_or_deadline_does_not_count() -> None:
    dossier = Deadline("dossier_deadline", date(2023, 10, 30), "calendar", "tinh-40")
    with pytest.raises(PlanError, match="gia hạn «Hạn nộp hồ sơ đề án»"):
        file(date(2023, 7, 20), extension(deadline=dossier, new_deadline=date(2023, 11, 15)))


def test_only_the_authority_that_set_a_deadline_records_its_extension() -> None:
    assert deadline_authority("quoc_gia", "registration_deadline", "tinh-40") == "bo"
    assert deadline_authority("quoc_gia", "dossier_deadline", "tinh-40") == "bo"
    assert deadline_authority("quoc_gia", "unit_registration_deadline", "tinh-40") == "tinh-40"
    assert deadline_authority("dia_phuong", "registration_deadline", "tinh-40") == "tinh-40"
    with pytest.raises(PlanError, match="quy định và gia hạn") as refused:
        extension(authority="tinh-40", deadline=NATIONAL, level="quoc_gia")
    assert refused.value.field == "milestone"


def test_an_extension_must_move_the_deadline_later_within_the_year_before_the_plan() -> None:
    with pytest.raises(PlanError, match="Hạn mới phải sau"):
        extension(new_deadline=date(2023, 7, 15))
    assert extension(new_deadline=date(2023, 7, 16)).new_deadline == date(2023, 7, 16)
    assert extension(new_deadline=date(2023, 12, 31)).new_deadline == date(2023, 12, 31)
    with pytest.raises(PlanError, match="trước năm kế hoạch"):
        extension(new_deadline=date(2024, 1, 1))


def test_the_so_accepts_or_returns_a_registration_once_and_a_return_needs_a_reason() -> None:
    accepted = file(date(2023, 7, 10))
    accepted.accept(on=date(2023, 7, 20), note="Phù hợp định hướng", actor="so-40")
    assert accepted.status == "da_chap_nhan"
    with pytest.raises(PlanError, match="đã ở trạng thái «Sở đã chấp nhận vào tổng hợp»"):
        accepted.return_to_registrant(on=date(2023, 7, 21), reason="x", actor="so-40")
    returned = file(date(2023, 7, 10))
    with pytest.raises(PlanError, match="lý do") as refused:
        returned.return_to_registrant(on=date(2023, 7, 20), reason="  ", actor="so-40")
    assert refused.value.field == "reason"
    returned.return_to_registrant(on=date(2023, 7, 20), reason="Thiếu kinh phí đối ứng", actor="so-40")
    assert returned.status == "tra_lai" and returned.decision == {
        "on": date(2023, 7, 20),
        "reason": "Thiếu kinh phí đối ứng",
        "by": "so-40",
    }
    with pytest.raises(PlanError, match="trước ngày đăng ký"):
        file(date(2023, 7, 10)).accept(on=date(2023, 7, 9), note=None, actor="so-40")


PROPOSAL = {
    "registration_id": "5d1e5a48-6d8f-4a57-a3c4-9a1fa8c2d001",
    "registrant": "Trung tâm Khuyến công Nghệ An",
    "registrant_kind": "to_chuc_dich_vu",
    "unit": "trung-tam-khuyen-cong-nghe-an",
    "title": "Mô hình trình diễn chế biến chè",
    "content": "3",
    "support_vnd": 900_000_000,
    "commune_code": "16741",
}


def national() -> NationalRegistration:
    return NationalRegistration(instance="tinh-40", province_code="40", year=2024)


def cuc_extension(grantee: str = "tinh-40") -> ExtensionDecision:
    return ExtensionDecision.grant(
        authority="bo",
        level="quoc_gia",
        year=2024,
        deadline=NATIONAL,
        decision_number="15/CCT-KC",
        decision_date=date(2023, 6, 19),
        signer="Cục trưởng",
        grantee="Sở Công Thương Nghệ An",
        grantee_key=grantee,
        new_deadline=date(2023, 6, 30),
        reason="Bão lũ",
        actor="cuc",
    )


def test_the_national_registration_is_on_time_on_the_deadline_day_and_refused_the_day_after() -> None:
    on_time = national()
    on_time.file([PROPOSAL], deadline=NATIONAL, filed_on=date(2023, 6, 20), extension=None, actor="so-40")
    assert on_time.filings[-1]["on_time"] is True and on_time.filings[-1]["total_support_vnd"] == 900_000_000
    with pytest.raises(PlanError, match="Quá hạn gửi đăng ký kế hoạch khuyến công quốc gia \\(20/06/2023"):
        national().file([PROPOSAL], deadline=NATIONAL, filed_on=date(2023, 6, 21), extension=None, actor="so-40")


def test_a_late_national_registration_needs_the_cucs_extension_for_this_province() -> None:
    late = national()
    late.file(
        [PROPOSAL], deadline=NATIONAL, filed_on=date(2023, 6, 30), extension=cuc_extension().extension, actor="so"
    )
    assert (late.filings[-1]["on_time"], late.filings[-1]["extension"]) == (False, "15/CCT-KC")
    with pytest.raises(PlanError, match="không gia hạn cho đơn vị này"):
        national().file(
            [PROPOSAL],
            deadline=NATIONAL,
            filed_on=date(2023, 6, 25),
            extension=cuc_extension("tinh-31").extension,
            actor="so",
        )


def test_a_national_registration_lists_accepted_proposals_and_a_refiling_is_a_new_revision() -> None:
    with pytest.raises(PlanError, match="Chưa có đăng ký") as refused:
        national().file([], deadline=NATIONAL, filed_on=date(2023, 6, 1), extension=None, actor="so")
    assert refused.value.field == "registrations"
    reg = national()
    reg.file([PROPOSAL], deadline=NATIONAL, filed_on=date(2023, 6, 1), extension=None, actor="so")
    reg.file(
        [PROPOSAL, PROPOSAL | {"title": "Đào tạo nghề"}],
        deadline=NATIONAL,
        filed_on=date(2023, 6, 2),
        extension=None,
        actor="so",
    )
    assert [f["revision"] for f in reg.filings] == [1, 2] and len(reg.state()["latest"]["proposals"]) == 2


def test_the_default_national_calendar_is_dated_data_20_june_of_the_year_before() -> None:
    rules = national_calendar()
    rule = rules.on(date(2023, 1, 1))
    assert rule.params.on("registration_deadline", 2024) == date(2023, 6, 20)
    assert rule.params.on("unit_registration_deadline", 2024) == date(2023, 5, 20)
    assert "Thông tư 36/2013" in rules.on(date(2020, 1, 1)).legal_basis
    assert rules.on(date(2020, 1, 1)).params.on("registration_deadline", 2021) == date(2020, 6, 15)
