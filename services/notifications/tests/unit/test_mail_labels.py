"""E-mails speak to people: labels from the vocabulary, never codes; amounts also in words."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email.message import EmailMessage
from uuid import uuid4

from kc_contracts.appraisal_events import BaseAppraisalRecordedV1
from kc_kernel.vocabulary import label
from kc_notifications import mail
from kc_notifications.integration import status_message

CODES = ("dong_y_co_chinh_sua", "hoi_dong", "dia_phuong", "tinh-40", "quoc_gia", "co_so")


def _body(message: EmailMessage) -> str:
    """The text part without the footer's reference line (an identifier for support, not a label)."""
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    return re.sub(r"Mã (sự kiện|nhắc): .*", "", text.get_content())


def _html(message: EmailMessage) -> str:
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    return re.sub(r"Mã (sự kiện|nhắc): [^<]*", "", html.get_content())


def test_a_status_email_names_the_stage_the_conclusion_and_the_instance_and_writes_the_amount_in_words() -> None:
    event = BaseAppraisalRecordedV1(
        de_an_id=uuid4(),
        code="KCĐP-40-2024-07",
        title="Hỗ trợ máy chẻ nan tự động",
        level="dia_phuong",
        de_an_type="kcdp",
        plan_year=2024,
        province_code="40",
        status="dat_co_so",
        at=datetime(2023, 11, 2, 3, 0, tzinfo=UTC),
        actor="so-ct",
        conclusion="dong_y_co_chinh_sua",
        recommended_support_vnd=120_500_000,
        mode="hoi_dong",
        appraised_on=date(2023, 11, 1),
    )
    found = status_message(event)
    assert found is not None
    headline, message, detail = found
    context = {
        "code": event.code,
        "title": event.title,
        "headline": headline,
        "message": message,
        "detail": detail,
        "instance": "tinh-40",
        "source_key": "tinh-40:x:3",
        "recipient_name": "Trung tâm Khuyến công Nghệ An",
    }
    email = mail.render("status", context, sender="kc@localhost", to="a@b", message_key="k")
    text, html = _body(email), _html(email)
    for body in (text, html):
        assert "Kết quả thẩm định cơ sở: Đồng ý, có chỉnh sửa." in body
        assert "120.500.000 đồng (bằng chữ: Một trăm hai mươi triệu năm trăm nghìn đồng)" in body
        assert f"hệ thống khuyến công ({label('instance', 'tinh-40')})" in body
        assert "(Tỉnh Nghệ An)" in body
        assert not [code for code in CODES if code in body], body
    assert email["Subject"] == "[Khuyến công] Đề án KCĐP-40-2024-07: kết quả thẩm định cơ sở"


def test_a_reminder_names_the_plan_level_and_the_instance() -> None:
    context = {
        "kind_label": "nộp hồ sơ đề án",
        "action_label": "nộp hồ sơ",
        "year": "2024",
        "level_label": label("plan_level", "dia_phuong").lower(),
        "deadline": "30/10/2023",
        "lead": 7,
        "working_days": True,
        "instance": "tinh-40",
        "source_key": "nhac:dia_phuong:tinh-40:2024",
        "rule": "reminders@nhac-han-2023",
        "recipient_name": "UBND xã Diễn Kim",
    }
    email = mail.render("reminder", context, sender="kc@localhost", to="a@b", message_key="k")
    for body in (_body(email), _html(email)):
        assert "kế hoạch khuyến công địa phương năm 2024" in body
        assert "(Tỉnh Nghệ An)" in body
        assert not [code for code in CODES if code in body], body
