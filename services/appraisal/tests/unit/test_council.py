"""Hội đồng thẩm định as a record of its own: founded from the roster, each member signs the conflict-of-
interest declaration and gives their own opinion (and score), a conflicted member cannot vote, the
chair or secretary records the minutes whose result is computed from the opinions. Field trips."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from kc_appraisal.domain.council import (
    ConflictOfInterestError,
    Council,
    CouncilError,
    NotAMemberError,
    Opinion,
    Roster,
    council_result,
)
from kc_appraisal.domain.de_an import By, Conclusion
from kc_appraisal.domain.field_trip import FieldTrip, FieldTripError
from kc_appraisal.rulebook import council_rules

RULES = council_rules()
DE_AN = "5d1c6a43-0000-4000-8000-000000000001"
OTHER_DE_AN = "5d1c6a43-0000-4000-8000-000000000002"
KNOWN = {DE_AN: ("KCĐP-19-2024-03", "Máy sấy chè"), OTHER_DE_AN: ("KCĐP-19-2024-05", "Lò nung gốm")}
FOUNDED = date(2024, 3, 1)


def roster() -> Roster:
    r = Roster.open("tinh-19", By("so"))
    for subject, name in (
        ("hd.chu.tich", "Ông Chủ Tịch"),
        ("hd.thu.ky", "Bà Thư Ký"),
        ("hd.uy.vien", "Ông Ủy Viên"),
        ("hd.du.bi", "Bà Dự Bị"),
    ):
        r.enrol(subject=subject, name=name, title="Chuyên viên", organisation="Sở Công Thương", by=By("so"))
    return r


def council(**overrides: Any) -> Council:
    args: dict[str, Any] = {
        "name": "Hội đồng thẩm định đề án KCĐP 2024",
        "stage": "co_so",
        "decision_number": "45/QĐ-SCT",
        "decided_on": FOUNDED,
        "signer": "Giám đốc Sở Công Thương",
        "chair": "hd.chu.tich",
        "secretary": "hd.thu.ky",
        "members": ["hd.uy.vien"],
        "de_an_ids": [DE_AN],
        "scoresheet": None,
        "roster": roster(),
        "de_an": KNOWN.get,
        "rules": RULES,
        "by": By("so"),
    }
    return Council.found(**(args | overrides))


def test_a_council_is_founded_from_the_roster_with_chair_secretary_and_members() -> None:
    c = council()
    assert [(m["subject"], m["role"]) for m in c.members] == [
        ("hd.chu.tich", "chu_tich"),
        ("hd.thu.ky", "thu_ky"),
        ("hd.uy.vien", "uy_vien"),
    ]
    assert c.decision == {"number": "45/QĐ-SCT", "decided_on": FOUNDED, "signer": "Giám đốc Sở Công Thương"}
    assert c.rule_versions == ["council@TT36/2013-Dieu8"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"members": ["nguoi.la"]}, "members.0"),  # not on the roster
        ({"members": []}, "members"),  # 2 < 3
        ({"members": ["hd.chu.tich"]}, "members.0"),  # twice
        ({"de_an_ids": ["khong-co"]}, "de_an_ids.0"),
        ({"stage": "khac"}, "stage"),
        ({"scoresheet": "khong_co"}, "scoresheet"),
    ],
)
def test_a_council_is_refused_when_its_members_or_de_an_are_wrong(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(CouncilError) as refused:
        council(**overrides)
    assert refused.value.field == field


def test_two_members_vote_and_one_with_a_conflict_cannot() -> None:
    c = council()
    c.sign_declaration(subject="hd.chu.tich", de_an_id=DE_AN, conflict=False, signed_on=FOUNDED, by=By("a"))
    c.sign_declaration(subject="hd.thu.ky", de_an_id=DE_AN, conflict=False, signed_on=FOUNDED, by=By("b"))
    c.sign_declaration(
        subject="hd.uy.vien",
        de_an_id=DE_AN,
        conflict=True,
        note="Người thân của chủ cơ sở",
        signed_on=FOUNDED,
        by=By("c"),
    )
    for subject in ("hd.chu.tich", "hd.thu.ky"):
        c.record_opinion(
            subject=subject, de_an_id=DE_AN, conclusion=Conclusion.agree, given_on=FOUNDED, rules=RULES, by=By(subject)
        )
    with pytest.raises(ConflictOfInterestError, match=r"xung đột lợi ích.*không được cho ý kiến") as refused:
        c.record_opinion(
            subject="hd.uy.vien",
            de_an_id=DE_AN,
            conclusion=Conclusion.reject,
            given_on=FOUNDED,
            rules=RULES,
            by=By("c"),
        )
    assert refused.value.codes["code"] == "conflict_of_interest"
    c.record_minutes(
        subject="hd.thu.ky", de_an_id=DE_AN, number="01/BB-HĐTĐ", held_on=date(2024, 3, 5), rules=RULES, by=By("b")
    )
    minutes = c.minutes[DE_AN]
    assert minutes["result"] == {
        "votes": 2,
        "counts": {"dong_y": 2, "dong_y_co_chinh_sua": 0, "khong_dong_y": 0},
        "passed": True,
        "conclusion": "dong_y",
    }
    conflicted = next(m for m in minutes["members"] if m["subject"] == "hd.uy.vien")
    assert (conflicted["conflict_declared"], conflicted["opinion"]) == (True, None)


def test_an_opinion_needs_the_declaration_first_and_only_from_a_member() -> None:
    c = council()
    with pytest.raises(CouncilError, match="chưa ký cam kết"):
        c.record_opinion(
            subject="hd.chu.tich", de_an_id=DE_AN, conclusion="dong_y", given_on=FOUNDED, rules=RULES, by=By("a")
        )
    with pytest.raises(NotAMemberError, match="không có tên trong hội đồng"):
        c.sign_declaration(subject="hd.du.bi", de_an_id=DE_AN, conflict=False, signed_on=FOUNDED, by=By("d"))
    with pytest.raises(CouncilError, match="không thẩm định đề án này"):
        c.sign_declaration(subject="hd.chu.tich", de_an_id=OTHER_DE_AN, conflict=False, signed_on=FOUNDED, by=By("a"))


def test_only_the_chair_or_secretary_records_the_minutes_once_everyone_has_acted() -> None:
    c = council()
    for s in ("hd.chu.tich", "hd.thu.ky", "hd.uy.vien"):
        c.sign_declaration(subject=s, de_an_id=DE_AN, conflict=False, signed_on=FOUNDED, by=By(s))
    c.record_opinion(
        subject="hd.chu.tich", de_an_id=DE_AN, conclusion="dong_y", given_on=FOUNDED, rules=RULES, by=By("a")
    )
    with pytest.raises(NotAMemberError, match="chủ tịch hoặc thư ký"):
        c.record_minutes(subject="hd.uy.vien", de_an_id=DE_AN, number="1", held_on=FOUNDED, rules=RULES, by=By("c"))
    with pytest.raises(CouncilError, match="Chưa cho ý kiến"):
        c.record_minutes(subject="hd.chu.tich", de_an_id=DE_AN, number="1", held_on=FOUNDED, rules=RULES, by=By("a"))
    # two absent of three: no quorum (more than half must be present)
    with pytest.raises(CouncilError, match="Không đủ số thành viên"):
        c.record_minutes(
            subject="hd.chu.tich",
            de_an_id=DE_AN,
            number="1",
            held_on=FOUNDED,
            rules=RULES,
            by=By("a"),
            absent=["hd.thu.ky", "hd.uy.vien"],
        )
    c.record_opinion(
        subject="hd.thu.ky", de_an_id=DE_AN, conclusion="khong_dong_y", given_on=FOUNDED, rules=RULES, by=By("b")
    )
    c.record_minutes(
        subject="hd.chu.tich",
        de_an_id=DE_AN,
        number="1",
        held_on=FOUNDED,
        rules=RULES,
        by=By("a"),
        absent=["hd.uy.vien"],
    )
    assert c.minutes[DE_AN]["result"]["votes"] == 2
    assert c.minutes[DE_AN]["result"]["conclusion"] == "khong_dong_y"  # 1 of 2 is not more than half
    with pytest.raises(CouncilError, match="đã lập biên bản"):
        c.record_opinion(
            subject="hd.uy.vien", de_an_id=DE_AN, conclusion="dong_y", given_on=FOUNDED, rules=RULES, by=By("c")
        )


def _rule() -> Any:
    return RULES.council.on(FOUNDED).params


def test_the_majority_is_strictly_more_than_half_of_the_votes() -> None:
    tie = [Opinion("a", Conclusion.agree, None), Opinion("b", Conclusion.reject, None)]
    assert council_result(tie, rule=_rule(), sheet=None)["conclusion"] == "khong_dong_y"
    two_of_three = [*tie, Opinion("c", Conclusion.agree_with_changes, None)]
    assert council_result(two_of_three, rule=_rule(), sheet=None)["conclusion"] == "dong_y_co_chinh_sua"


def test_a_scoresheet_passes_from_an_average_of_70_points() -> None:
    sheet = RULES.scoresheets.on(FOUNDED).params.sheets["san_pham_cnnt_tieu_bieu"]
    at_70 = [Opinion("a", Conclusion.agree, 70), Opinion("b", Conclusion.agree, 70)]
    assert council_result(at_70, rule=_rule(), sheet=sheet) | {} == {
        "votes": 2,
        "counts": {"dong_y": 2, "dong_y_co_chinh_sua": 0, "khong_dong_y": 0},
        "average_score": 70.0,
        "pass_points": 70,
        "passed": True,
        "conclusion": "dong_y",
    }
    below = [Opinion("a", Conclusion.agree, 70), Opinion("b", Conclusion.agree, 69)]  # 69.5
    assert council_result(below, rule=_rule(), sheet=sheet)["passed"] is False


def test_a_scoring_council_needs_a_score_within_the_sheet() -> None:
    c = council(scoresheet="san_pham_cnnt_tieu_bieu")
    c.sign_declaration(subject="hd.chu.tich", de_an_id=DE_AN, conflict=False, signed_on=FOUNDED, by=By("a"))
    for score in (None, 101, -1):
        with pytest.raises(CouncilError, match="Điểm theo") as refused:
            c.record_opinion(
                subject="hd.chu.tich",
                de_an_id=DE_AN,
                conclusion="dong_y",
                given_on=FOUNDED,
                rules=RULES,
                by=By("a"),
                score=score,
            )
        assert refused.value.field == "score"
    c.record_opinion(
        subject="hd.chu.tich", de_an_id=DE_AN, conclusion="dong_y", given_on=FOUNDED, rules=RULES, by=By("a"), score=100
    )


def test_a_field_trip_visits_de_an_on_set_dates_within_the_trip_and_records_findings() -> None:
    visits = [
        {"de_an_id": OTHER_DE_AN, "on": date(2024, 3, 14), "place": "Xã Tân Cương"},
        {"de_an_id": DE_AN, "on": date(2024, 3, 12), "place": "Phường Tích Lương"},
    ]
    trip = FieldTrip.schedule(
        name="Đoàn thẩm định thực tế tháng 3/2024",
        decision_number="12/QĐ-SCT",
        starts_on=date(2024, 3, 11),
        ends_on=date(2024, 3, 15),
        team=["Ông A", "Bà B"],
        visits=visits,
        de_an=KNOWN.get,
        by=By("so"),
    )
    assert [v["code"] for v in trip.visits] == ["KCĐP-19-2024-03", "KCĐP-19-2024-05"]  # by date
    with pytest.raises(FieldTripError, match="trước ngày thăm"):
        trip.record_findings(visit=0, findings="x", outcome="dat", recorded_on=date(2024, 3, 11), by=By("so"))
    trip.record_findings(
        visit=0, findings="Máy đã lắp đặt đúng đề án", outcome="dat", recorded_on=date(2024, 3, 12), by=By("so")
    )
    assert trip.state()["status"] == "da_len_lich"
    with pytest.raises(FieldTripError) as refused:
        FieldTrip.schedule(
            name="x",
            decision_number="1",
            starts_on=date(2024, 3, 11),
            ends_on=date(2024, 3, 15),
            team=["A"],
            visits=[visits[0] | {"on": date(2024, 3, 16)}],
            de_an=KNOWN.get,
            by=By("so"),
        )
    assert refused.value.field == "visits.0.on"
