"""The đề án's lifecycle, as tables: which action is allowed in which state, and where it leads.

Every command checks its action here (anything else is refused with the list of what *is* allowed,
also in every đề án's ``allowed_actions``); every event says which action it records, and the
status it leads to is read from ``LEADS_TO`` — by the aggregate and by the list view alike. Action
codes are Vietnamese, as officers name the steps (labels: ``de_an_action`` in the vocabulary).
"""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    national = "quoc_gia"
    local = "dia_phuong"


class DeAnType(StrEnum):
    flagship = "kcqg_diem"  # đề án điểm: ≥ 2 linked contents, large, multi-year
    group = "kcqg_nhom"  # theo nhóm: beneficiaries fixed after approval by the Sở
    named = "kcqg_thu_huong"  # for a named beneficiary
    local = "kcdp"
    task = "nhiem_vu"


class Status(StrEnum):
    draft = "du_thao"
    submitted = "da_nop"
    base_rejected = "khong_dat_co_so"
    base_passed = "dat_co_so"
    forwarded = "da_gui_bo"
    ministry_rejected = "khong_dat_cap_bo"
    ministry_passed = "dat_cap_bo"
    proposed = "de_xuat"
    not_funded = "khong_bo_tri"
    approved = "da_phe_duyet"
    contracted = "da_ky_hop_dong"
    stopped = "dung_thuc_hien"
    completed = "hoan_thanh"
    accepted = "da_nghiem_thu"
    settled = "da_quyet_toan"
    closed = "da_dong"


class Conclusion(StrEnum):
    agree = "dong_y"
    agree_with_changes = "dong_y_co_chinh_sua"
    reject = "khong_dong_y"


S = Status
EVERY_LEVEL = frozenset(Level)
# action -> (states it is allowed in, levels it applies to)
LIFECYCLE: dict[str, tuple[frozenset[Status], frozenset[Level]]] = {
    "sua_du_thao": (frozenset({S.draft}), EVERY_LEVEL),
    "gia_han_nop": (frozenset({S.draft}), EVERY_LEVEL),
    "nop": (frozenset({S.draft}), EVERY_LEVEL),
    "tra_lai": (frozenset({S.submitted, S.forwarded}), EVERY_LEVEL),
    "tham_dinh_co_so": (frozenset({S.submitted}), EVERY_LEVEL),
    "gui_bo": (frozenset({S.base_passed}), frozenset({Level.national})),
    "tham_dinh_cap_bo": (frozenset({S.forwarded}), frozenset({Level.national})),
    "de_xuat_ke_hoach": (frozenset({S.ministry_passed}), frozenset({Level.national})),
    "de_xuat_ke_hoach_dia_phuong": (frozenset({S.base_passed}), frozenset({Level.local})),
    "phe_duyet": (frozenset({S.proposed}), EVERY_LEVEL),
    "khong_bo_tri": (frozenset({S.proposed}), EVERY_LEVEL),
    "ky_hop_dong": (frozenset({S.approved}), EVERY_LEVEL),
    "bao_cao_tien_do": (frozenset({S.contracted}), EVERY_LEVEL),
    "tam_ung": (frozenset({S.contracted}), EVERY_LEVEL),
    "de_nghi_dieu_chinh": (frozenset({S.approved, S.contracted}), EVERY_LEVEL),
    "quyet_dinh_dieu_chinh": (frozenset({S.approved, S.contracted}), EVERY_LEVEL),
    "hoan_thanh": (frozenset({S.contracted}), EVERY_LEVEL),
    "nghiem_thu": (frozenset({S.completed, S.stopped}), EVERY_LEVEL),
    "quyet_toan": (frozenset({S.accepted}), EVERY_LEVEL),
    "dong": (frozenset({S.settled}), EVERY_LEVEL),
}
DRAFTING = "lap_du_thao"  # the first event: no state before it
# action -> the status it leads to (an action not listed leaves the status as it is; an approved
# adjustment that stops the đề án is decided by its request, see ``AdjustmentDecided``)
LEADS_TO: dict[str, Status] = {
    DRAFTING: S.draft,
    "nop": S.submitted,
    "tra_lai": S.draft,
    "tham_dinh_co_so": S.base_passed,
    "gui_bo": S.forwarded,
    "tham_dinh_cap_bo": S.ministry_passed,
    "de_xuat_ke_hoach": S.proposed,
    "de_xuat_ke_hoach_dia_phuong": S.proposed,
    "phe_duyet": S.approved,
    "khong_bo_tri": S.not_funded,
    "ky_hop_dong": S.contracted,
    "hoan_thanh": S.completed,
    "nghiem_thu": S.accepted,
    "quyet_toan": S.settled,
    "dong": S.closed,
}
# an appraisal that concludes khong_dong_y leads here instead
REJECTED_TO: dict[str, Status] = {"tham_dinh_co_so": S.base_rejected, "tham_dinh_cap_bo": S.ministry_rejected}
TERMINAL = {S.base_rejected, S.ministry_rejected, S.not_funded, S.closed}

# The ministry decides on its own instance: on a national đề án, the Cục's appraisal, the contract it
# signs and the settlement it approves are recorded by the ministry's officers on ``bo`` and reach the
# province as events (the province applies them; nobody records them on the province's instance).
MINISTRY = "bo"
MINISTRY_DECIDES: dict[str, str] = {"tham_dinh_cap_bo": "cuc", "ky_hop_dong": "cuc", "quyet_toan": "cuc"}
# the authorities of the ministry (TT 36/2013 Art. 11: the Minister, the Cục): their adjustment decisions
# too are recorded on ``bo``; the Sở's and UBND tỉnh's on the province's instance
MINISTRY_AUTHORITIES = frozenset({"bo_truong", "cuc"})


def allowed_actions(status: Status, level: Level) -> list[str]:
    return [a for a, (states, levels) in LIFECYCLE.items() if status in states and level in levels]


def leads_to(action: str | None, *, rejected: bool = False) -> Status | None:
    """The status an action leads to (None: it stays)."""
    if action is None:
        return None
    return REJECTED_TO[action] if rejected and action in REJECTED_TO else LEADS_TO.get(action)
