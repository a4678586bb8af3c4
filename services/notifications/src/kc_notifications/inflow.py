"""What arrives from the bus and what it causes, in one transaction with the inbox tracking:
the pull feed, webhook deliveries, plan calendars and who has acted, and status notifications to
implementing units and beneficiaries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from eventsourcing.persistence import Tracking
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
from kc_runtime.text import fold
from kc_runtime.views import ViewCursor, ViewStore

from kc_notifications import feed
from kc_notifications.store import queue_deliveries, queue_notification


def unit_key(name: str) -> str:
    """The recipient key of a unit known by its name (implementing unit, registrant)."""
    return "don-vi:" + "-".join(fold(name).split())


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


class Inflow:
    def __init__(self, store: ViewStore, instance: str) -> None:
        self.store = store
        self.instance = instance

    def _public(self, cur: ViewCursor, envelope: Envelope, implementing_unit: str | None = None) -> None:
        body = envelope.to_json().decode()
        feed.record(cur, envelope, body, implementing_unit)
        queue_deliveries(cur, envelope.type, envelope.id, body)

    def appraisal(self, envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        e: Any = event
        with self.store.transaction() as cur:
            if isinstance(e, DeAnSubmittedV1):
                cur.execute(
                    "INSERT INTO parties VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (de_an_id) DO UPDATE SET"
                    " implementing_unit = excluded.implementing_unit, beneficiaries = excluded.beneficiaries,"
                    " status = excluded.status",
                    (
                        str(e.de_an_id),
                        e.code,
                        e.title,
                        e.implementing_unit,
                        ",".join(str(b) for b in e.beneficiary_ids),
                        e.status,
                    ),
                )
                owner = plan_owner(e.level, e.province_code)
                cur.execute(
                    "INSERT INTO acted VALUES (?, ?, ?, ?) ON CONFLICT (calendar, kind, recipient) DO NOTHING",
                    (
                        f"{e.level}:{owner}:{e.plan_year}",
                        "dossier_deadline",
                        unit_key(e.implementing_unit),
                        e.at.date().isoformat(),
                    ),
                )
            party = cur.execute("SELECT * FROM parties WHERE de_an_id = ?", (str(e.de_an_id),)).fetchone()
            self._public(cur, envelope, getattr(e, "implementing_unit", None) or (party or {}).get("implementing_unit"))
            if party:
                cur.execute("UPDATE parties SET status = ? WHERE de_an_id = ?", (e.status, str(e.de_an_id)))
            message = status_message(e)
            if message and party:
                headline, text, detail = message
                recipients = [unit_key(party["implementing_unit"])] + [
                    f"co-so:{b}" for b in party["beneficiaries"].split(",") if b
                ]
                for who in recipients:
                    queue_notification(
                        cur,
                        source_key=envelope.id,
                        recipient=who,
                        channel="email",
                        template="status",
                        context={
                            "code": e.code,
                            "title": e.title,
                            "headline": headline,
                            "message": text,
                            "detail": detail,
                            "instance": self.instance,
                            "source_key": envelope.id,
                        },
                    )
            self.store.track(cur, tracking)

    def planning(self, envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        e: Any = event
        with self.store.transaction() as cur:
            self._public(cur, envelope)
            if isinstance(e, CalendarChangedV1):
                cur.execute(
                    "INSERT INTO calendars VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (calendar) DO UPDATE SET"
                    " registration_deadline = excluded.registration_deadline,"
                    " dossier_deadline = excluded.dossier_deadline",
                    (
                        f"{e.level}:{e.owner}:{e.year}",
                        e.level,
                        e.owner,
                        e.year,
                        e.registration_deadline.isoformat(),
                        e.dossier_deadline.isoformat(),
                    ),
                )
            elif isinstance(e, RegistrationFiledV1):
                cur.execute(
                    "INSERT INTO acted VALUES (?, ?, ?, ?) ON CONFLICT (calendar, kind, recipient) DO NOTHING",
                    (
                        f"{e.level}:{e.owner}:{e.year}",
                        "registration_deadline",
                        unit_key(e.registrant),
                        e.filed_on.isoformat(),
                    ),
                )
            self.store.track(cur, tracking)
