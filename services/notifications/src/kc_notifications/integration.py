"""Inbound translation: a contract event another service published → the notifications service's command.

What a milestone means to the parties of a đề án (:func:`status_message`) is read here, from the
contract; the application never sees a contract class.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kc_contracts import ContractEvent, Envelope
from kc_contracts.appraisal_events import (
    BaseAppraisalRecordedV1,
    DeAnAcceptedV1,
    DeAnApprovedV1,
    DeAnContractedV1,
    DeAnNotFundedV1,
    DeAnReturnedV1,
    DeAnSettledV1,
    DeAnSubmittedV1,
    MinistryAppraisalRecordedV1,
)
from kc_contracts.planning_events import CalendarChangedV1, RegistrationFiledV1, plan_owner
from kc_kernel.vocabulary import format_date, format_money, label, money_in_words

from kc_notifications.commands import (
    Acted,
    CalendarDeadlines,
    News,
    Received,
    RecordDeAnMilestone,
    RecordPlanningEvent,
    Submission,
)


def dong(amount: int) -> str:
    """An amount as on a decision: ``1.250.000 đồng (Bằng chữ: Một triệu hai trăm năm mươi nghìn đồng)``."""
    return f"{format_money(amount)} (bằng chữ: {money_in_words(amount)})"


def status_message(e: Any) -> tuple[str, str, str] | None:
    """(headline, message, detail) for a milestone the parties must hear of; None for the others."""
    if isinstance(e, DeAnReturnedV1):
        return "trả lại để bổ sung", "Hồ sơ đề án được trả lại để bổ sung.", f"Lý do: {e.reason}"
    if isinstance(e, BaseAppraisalRecordedV1 | MinistryAppraisalRecordedV1):
        stage = label("appraisal_stage", "co_so" if isinstance(e, BaseAppraisalRecordedV1) else "cap_bo")
        return (
            f"kết quả {stage.lower()}",
            f"Kết quả {stage.lower()}: {label('appraisal_conclusion', e.conclusion)}.",
            f"Kinh phí đề nghị hỗ trợ: {dong(e.recommended_support_vnd)}.",
        )
    if isinstance(e, DeAnApprovedV1):
        return (
            "được phê duyệt trong kế hoạch",
            f"Đề án được phê duyệt trong kế hoạch (quyết định {e.plan_decision}, đợt {e.batch}).",
            f"Kinh phí hỗ trợ được duyệt: {dong(e.approved_support_vnd)}.",
        )
    if isinstance(e, DeAnNotFundedV1):
        return "không được bố trí kinh phí", "Đề án không được bố trí kinh phí trong kế hoạch.", f"Lý do: {e.reason}"
    if isinstance(e, DeAnContractedV1):
        return (
            "đã ký hợp đồng",
            f"Đã ký hợp đồng {e.contract_number} ngày {format_date(e.signed_on)}, kinh phí hỗ trợ "
            f"{dong(e.contracted_support_vnd)}.",
            "Đơn vị thực hiện báo cáo tiến độ hằng tháng trước ngày 25.",
        )
    if isinstance(e, DeAnAcceptedV1):
        due = e.accepted_on + timedelta(days=15)
        return (
            "đã nghiệm thu",
            f"Đề án đã được nghiệm thu ngày {format_date(e.accepted_on)}.",
            f"Hồ sơ quyết toán cần nộp trước ngày {format_date(due)}; quyết toán xong trước 22/01 năm sau.",
        )
    if isinstance(e, DeAnSettledV1):
        return (
            "đã quyết toán",
            f"Đề án đã được quyết toán ngày {format_date(e.settled_on)}.",
            f"Kinh phí quyết toán: {dong(e.settled_support_vnd)}.",
        )
    return None


def received(envelope: Envelope) -> Received:
    return Received(id=envelope.id, type=envelope.type, instance=envelope.kcinstance, body=envelope.to_json().decode())


def de_an_milestone(envelope: Envelope, event: ContractEvent) -> RecordDeAnMilestone:
    """``appraisal.de-an.*`` (every milestone carries the đề án's id, code, title and status)."""
    e: Any = event
    submission = None
    if isinstance(e, DeAnSubmittedV1):
        owner = plan_owner(e.level, e.province_code)
        submission = Submission(
            implementing_unit=e.implementing_unit,
            beneficiary_ids=tuple(str(b) for b in e.beneficiary_ids),
            acted=Acted(f"{e.level}:{owner}:{e.plan_year}", "dossier_deadline", e.implementing_unit, e.at.date()),
        )
    message = status_message(e)
    return RecordDeAnMilestone(
        received=received(envelope),
        de_an_id=str(e.de_an_id),
        code=e.code,
        title=e.title,
        status=e.status,
        implementing_unit=getattr(e, "implementing_unit", None),
        submission=submission,
        news=News(*message) if message else None,
    )


def planning_event(envelope: Envelope, event: ContractEvent) -> RecordPlanningEvent:
    """``planning.*``: a calendar's deadlines, or a unit that filed its registration; every one into the feed."""
    if isinstance(event, CalendarChangedV1):
        calendar = CalendarDeadlines(
            calendar=f"{event.level}:{event.owner}:{event.year}",
            level=event.level,
            owner=event.owner,
            year=event.year,
            registration_deadline=event.registration_deadline,
            dossier_deadline=event.dossier_deadline,
        )
        return RecordPlanningEvent(received(envelope), calendar=calendar)
    if isinstance(event, RegistrationFiledV1):
        acted = Acted(
            f"{event.level}:{event.owner}:{event.year}", "registration_deadline", event.registrant, event.filed_on
        )
        return RecordPlanningEvent(received(envelope), acted=acted)
    return RecordPlanningEvent(received(envelope))
