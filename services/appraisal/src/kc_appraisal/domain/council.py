"""Hội đồng thẩm định: an appraisal council as a record of its own (TT 36/2013 Art. 8: the Giám đốc Sở,
or the Cục trưởng for ministry-level appraisal, decides to found one and chooses its members).

- ``Roster``: the people of the instance who may sit on a council (their sign-in subject, name, title,
  organisation), one roster per instance;
- ``Council``: the founding decision (number, date, signer), the chair, the secretary and members from
  the roster, the đề án it appraises; each member — signed in as themself — signs the conflict-of-
  interest declaration for each đề án and records their own opinion (and score, where the council uses
  a scoresheet); a member who declared a conflict does not vote; the chair or the secretary records
  the minutes, whose result is computed from the opinions (``council_result``), never typed.

The rules (how many members, the majority, the quorum, the scoresheets) are dated data
(``rules/councils.toml``); the minutes record the versions they applied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from kc_kernel.dated import DatedRules
from kc_kernel.vocabulary import label
from pydantic import BaseModel, ConfigDict

from kc_appraisal.domain.de_an.lifecycle import Conclusion
from kc_appraisal.domain.de_an.values import By, text
from kc_appraisal.domain.errors import AppraisalError

STAGES = ("co_so", "cap_bo")  # thẩm định cấp cơ sở (the Sở), cấp Bộ (the Cục)


class CouncilRole(StrEnum):
    chair = "chu_tich"
    secretary = "thu_ky"
    member = "uy_vien"


class CouncilError(AppraisalError):
    """A council's rule refused the command."""


class NotAMemberError(CouncilError):
    """The signed-in person does not sit on this council (or not in the role the act needs)."""


class ConflictOfInterestError(CouncilError):
    """A member who declared a conflict of interest on a đề án may not vote on it."""


class CouncilRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    min_members: int
    majority_above_pct: int  # agreeing votes strictly above this share of the votes cast
    quorum_above_pct: int  # members present strictly above this share of the council


class Scoresheet(BaseModel):
    model_config = ConfigDict(frozen=True)
    max_points: int
    pass_points: int  # the average score passes from this many points up ("từ 70 điểm trở lên")


class Scoresheets(BaseModel):
    model_config = ConfigDict(frozen=True)
    sheets: dict[str, Scoresheet]


@dataclass(frozen=True)
class CouncilRules:
    council: DatedRules[CouncilRule]
    scoresheets: DatedRules[Scoresheets]


# -- the roster ------------------------------------------------------------------------------------------------------
def roster_id(instance: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"khuyencong:{instance}:roster")


class Roster(Aggregate):
    """The people of this instance who may sit on an appraisal council, by their sign-in subject."""

    class Event(Aggregate.Event):
        actor: str
        correlation_id: str | None

    class RosterOpened(Event, Aggregate.Created):
        instance: str

    class PersonEnrolled(Event):
        subject: str
        name: str
        title: str
        organisation: str

        def apply(self, roster: Any) -> None:
            roster.people[self.subject] = {
                "subject": self.subject,
                "name": self.name,
                "title": self.title,
                "organisation": self.organisation,
            }

    def __init__(self, instance: str, **_: Any) -> None:
        self.instance = instance
        self.people: dict[str, dict[str, str]] = {}

    @classmethod
    def open(cls, instance: str, by: By) -> Roster:
        return cls._create(cls.RosterOpened, id=roster_id(instance), instance=instance,
                           actor=by.actor, correlation_id=by.correlation_id)  # fmt: skip

    def enrol(self, *, subject: str, name: str, title: str = "", organisation: str = "", by: By) -> None:
        subject = text(subject, "subject")
        if subject in self.people:
            raise CouncilError(
                f"{self.people[subject]['name']} đã có trong danh sách / already on the roster", field="subject"
            )
        self.trigger_event(
            self.PersonEnrolled,
            subject=subject,
            name=text(name, "name"),
            title=text(title, "title", required=False),
            organisation=text(organisation, "organisation", required=False),
            actor=by.actor,
            correlation_id=by.correlation_id,
        )

    def state(self) -> dict[str, Any]:
        return {"people": sorted(self.people.values(), key=lambda p: p["name"])}


# -- the council -----------------------------------------------------------------------------------------------------
# (de_an id) → (code, title) of a đề án of this instance, or None
DeAnLookup = Callable[[str], "tuple[str, str] | None"]


@dataclass(frozen=True)
class Opinion:
    subject: str
    conclusion: Conclusion
    score: int | None


def council_result(opinions: Sequence[Opinion], *, rule: CouncilRule, sheet: Scoresheet | None) -> dict[str, Any]:
    """The result the minutes record, computed from the votes: with a scoresheet the average score
    against the pass mark, else the majority of the votes cast (members with a conflict cast none)."""
    votes = len(opinions)
    counts = {c.value: sum(1 for o in opinions if o.conclusion is c) for c in Conclusion}
    agree = counts[Conclusion.agree] + counts[Conclusion.agree_with_changes]
    result: dict[str, Any] = {"votes": votes, "counts": counts}
    if sheet is not None:
        scores = [int(o.score or 0) for o in opinions]
        total = sum(scores)
        # the average as a fraction compared exactly: total / votes ≥ pass  ⇔  total ≥ pass × votes
        passed = total >= sheet.pass_points * votes
        result |= {"average_score": round(total / votes, 2), "pass_points": sheet.pass_points}
    else:
        passed = agree * 100 > rule.majority_above_pct * votes
    if not passed:
        conclusion = Conclusion.reject
    elif counts[Conclusion.agree_with_changes]:
        conclusion = Conclusion.agree_with_changes
    else:
        conclusion = Conclusion.agree
    return result | {"passed": passed, "conclusion": conclusion.value}


class Council(Aggregate):
    """One appraisal council, founded by a decision, with its members' declarations, opinions and minutes."""

    class Event(Aggregate.Event):
        actor: str
        correlation_id: str | None

    class Founded(Event, Aggregate.Created):
        name: str
        stage: str
        decision_number: str
        decided_on: date
        signer: str
        members: list[dict[str, Any]]
        de_an: list[dict[str, Any]]  # id, code, title
        scoresheet: str | None
        rule_versions: list[str]

    class DeclarationSigned(Event):
        subject: str
        de_an_id: str
        conflict: bool
        note: str
        signed_on: date

        def apply(self, council: Any) -> None:
            council.declarations.setdefault(self.de_an_id, {})[self.subject] = {
                "subject": self.subject,
                "conflict": self.conflict,
                "note": self.note,
                "signed_on": self.signed_on,
            }

    class OpinionRecorded(Event):
        subject: str
        de_an_id: str
        conclusion: str
        score: int | None
        comment: str
        given_on: date

        def apply(self, council: Any) -> None:
            council.opinions.setdefault(self.de_an_id, {})[self.subject] = {
                "subject": self.subject,
                "conclusion": self.conclusion,
                "score": self.score,
                "comment": self.comment,
                "given_on": self.given_on,
            }

    class MinutesRecorded(Event):
        subject: str
        de_an_id: str
        number: str
        held_on: date
        absent: list[str]
        result: dict[str, Any]
        members: list[dict[str, Any]]  # each member as the minutes record them: role, declaration, opinion
        rule_versions: list[str]

        def apply(self, council: Any) -> None:
            council.minutes[self.de_an_id] = {
                "number": self.number,
                "held_on": self.held_on,
                "recorded_by": self.subject,
                "absent": self.absent,
                "result": self.result,
                "members": self.members,
                "rule_versions": self.rule_versions,
            }

    def __init__(
        self,
        name: str,
        stage: str,
        decision_number: str,
        decided_on: date,
        signer: str,
        members: list[dict[str, Any]],
        de_an: list[dict[str, Any]],
        scoresheet: str | None,
        rule_versions: list[str],
        actor: str,
        correlation_id: str | None,
    ) -> None:
        self.name, self.stage, self.scoresheet = name, stage, scoresheet
        self.decided_on = decided_on
        self.decision: dict[str, Any] = {"number": decision_number, "decided_on": decided_on, "signer": signer}
        self.members = members
        self.de_an = de_an
        self.rule_versions = rule_versions
        self.declarations: dict[str, dict[str, dict[str, Any]]] = {}  # de_an_id → subject → declaration
        self.opinions: dict[str, dict[str, dict[str, Any]]] = {}  # de_an_id → subject → opinion
        self.minutes: dict[str, dict[str, Any]] = {}  # de_an_id → minutes

    # -- founding ------------------------------------------------------------------------------------------------
    @classmethod
    def found(
        cls,
        *,
        name: str,
        stage: str,
        decision_number: str,
        decided_on: date,
        signer: str,
        chair: str,
        secretary: str,
        members: Sequence[str],
        de_an_ids: Sequence[str],
        scoresheet: str | None,
        roster: Roster,
        de_an: DeAnLookup,
        rules: CouncilRules,
        by: By,
    ) -> Council:
        if stage not in STAGES:
            raise CouncilError(
                "Cấp thẩm định: «cấp cơ sở» (co_so) hoặc «cấp Bộ» (cap_bo) / stage must be co_so or cap_bo",
                field="stage",
            )
        rule = rules.council.on(decided_on)
        versions = [rules.council.reference(decided_on)]
        if scoresheet is not None:
            sheets = rules.scoresheets.on(decided_on).params.sheets
            if scoresheet not in sheets:
                raise CouncilError(
                    f"Phiếu chấm điểm «{scoresheet}» không có trong quy định; có: "
                    + ", ".join(f"«{label('scoresheet', s)}» ({s})" for s in sheets)
                    + " / unknown scoresheet",
                    field="scoresheet",
                )
            versions.append(rules.scoresheets.reference(decided_on))
        seats = [(chair, CouncilRole.chair, "chair"), (secretary, CouncilRole.secretary, "secretary")]
        seats += [(m, CouncilRole.member, f"members.{i}") for i, m in enumerate(members)]
        seated: list[dict[str, Any]] = []
        for subject, role, field in seats:
            person = roster.people.get(str(subject).strip())
            if person is None:
                raise CouncilError(
                    f"«{subject}» không có trong danh sách cán bộ, chuyên gia của hệ thống / not on the roster",
                    field=field,
                )
            if any(s["subject"] == person["subject"] for s in seated):
                raise CouncilError(
                    f"{person['name']} đã có tên trong hội đồng / a person sits on a council once", field=field
                )
            seated.append(person | {"role": role.value})
        if len(seated) < rule.params.min_members:
            raise CouncilError(
                f"Hội đồng thẩm định cần ít nhất {rule.params.min_members} thành viên (chủ tịch, thư ký và ủy viên)"
                f" ({versions[0]}) / a council needs at least {rule.params.min_members} members",
                field="members",
            )
        appraised = []
        for i, de_an_id in enumerate(dict.fromkeys(str(d) for d in de_an_ids)):
            found = de_an(de_an_id)
            if found is None:
                raise CouncilError(f"Không có đề án {de_an_id} trong hệ thống / unknown đề án", field=f"de_an_ids.{i}")
            appraised.append({"id": de_an_id, "code": found[0], "title": found[1]})
        if not appraised:
            raise CouncilError("Hội đồng cần ít nhất một đề án để thẩm định / no đề án", field="de_an_ids")
        return cls._create(
            cls.Founded,
            name=text(name, "name"),
            stage=stage,
            decision_number=text(decision_number, "decision_number"),
            decided_on=decided_on,
            signer=text(signer, "signer"),
            members=seated,
            de_an=appraised,
            scoresheet=scoresheet,
            rule_versions=versions,
            actor=by.actor,
            correlation_id=by.correlation_id,
        )

    # -- reading -------------------------------------------------------------------------------------------------
    def member(self, subject: str | None) -> dict[str, Any] | None:
        return next((m for m in self.members if m["subject"] == subject), None)

    def sits(self, subject: str | None) -> bool:
        return self.member(subject) is not None

    def _seat(self, subject: str | None, de_an_id: str) -> dict[str, Any]:
        seat = self.member(subject)
        if seat is None:
            raise NotAMemberError(
                f"Bạn không có tên trong hội đồng «{self.name}» ({self.decision['number']}) / you do not sit on "
                "this council",
                field="subject",
                code="not_a_member",
            )
        if de_an_id not in {d["id"] for d in self.de_an}:
            raise CouncilError(
                f"Hội đồng «{self.name}» không thẩm định đề án này / this council does not appraise this đề án",
                field="de_an_id",
            )
        if de_an_id in self.minutes:
            raise CouncilError(
                f"Hội đồng đã lập biên bản số {self.minutes[de_an_id]['number']} cho đề án này / the minutes are "
                "recorded: nothing more can be added",
                field="de_an_id",
                code="minutes_recorded",
            )
        return seat

    def _code(self, de_an_id: str) -> str:
        return next((str(d["code"]) for d in self.de_an if d["id"] == de_an_id), de_an_id)

    # -- a member's acts (as themself) -----------------------------------------------------------------------------
    def sign_declaration(
        self, *, subject: str | None, de_an_id: str, conflict: bool, signed_on: date, by: By, note: str = ""
    ) -> None:
        """Cam kết về xung đột lợi ích: each member, for each đề án, before any opinion."""
        seat = self._seat(subject, de_an_id)
        if seat["subject"] in self.declarations.get(de_an_id, {}):
            raise CouncilError(
                f"{seat['name']} đã ký cam kết cho đề án {self._code(de_an_id)} / declaration already signed",
                field="conflict",
            )
        if signed_on < self.decided_on:
            raise CouncilError(
                f"Ngày ký cam kết trước ngày quyết định thành lập hội đồng "
                f"({self.decision['decided_on']:%d/%m/%Y}) / signed before the council was founded",
                field="signed_on",
            )
        self.trigger_event(self.DeclarationSigned, subject=seat["subject"], de_an_id=de_an_id, conflict=bool(conflict),
                           note=text(note, "note", required=False), signed_on=signed_on, actor=by.actor,
                           correlation_id=by.correlation_id)  # fmt: skip

    def record_opinion(
        self,
        *,
        subject: str | None,
        de_an_id: str,
        conclusion: Conclusion | str,
        given_on: date,
        rules: CouncilRules,
        by: By,
        score: int | None = None,
        comment: str = "",
    ) -> None:
        """Ý kiến (and score) of a member who signed the declaration without a conflict."""
        seat = self._seat(subject, de_an_id)
        declared = self.declarations.get(de_an_id, {}).get(seat["subject"])
        if declared is None:
            raise CouncilError(
                f"{seat['name']} chưa ký cam kết về xung đột lợi ích cho đề án {self._code(de_an_id)}: ký cam kết "
                "trước khi cho ý kiến / sign the conflict-of-interest declaration first",
                field="declaration",
                code="declaration_missing",
            )
        if declared["conflict"]:
            raise ConflictOfInterestError(
                f"{seat['name']} đã khai có xung đột lợi ích với đề án {self._code(de_an_id)} nên không được cho ý "
                "kiến, chấm điểm hay biểu quyết / a member who declared a conflict of interest cannot vote",
                field="conclusion",
                code="conflict_of_interest",
            )
        if seat["subject"] in self.opinions.get(de_an_id, {}):
            raise CouncilError(
                f"{seat['name']} đã cho ý kiến về đề án {self._code(de_an_id)} / opinion already recorded",
                field="conclusion",
            )
        try:
            concluded = Conclusion(str(conclusion))
        except ValueError:
            raise CouncilError(
                "Ý kiến: "
                + ", ".join(f"«{label('appraisal_conclusion', c)}»" for c in Conclusion)
                + " / conclusion must be dong_y, dong_y_co_chinh_sua or khong_dong_y",
                field="conclusion",
            ) from None
        if self.scoresheet is not None:
            sheet = rules.scoresheets.on(self.decided_on).params.sheets[self.scoresheet]
            if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= sheet.max_points:
                raise CouncilError(
                    f"Điểm theo «{label('scoresheet', self.scoresheet)}»: số nguyên từ 0 đến {sheet.max_points}"
                    f" / score required, 0–{sheet.max_points}",
                    field="score",
                )
        elif score is not None:
            raise CouncilError(
                "Hội đồng này không chấm điểm (không có phiếu chấm điểm) / this council has no scoresheet",
                field="score",
            )
        if given_on < self.decided_on:
            raise CouncilError("Ngày cho ý kiến trước ngày thành lập hội đồng / before the council", field="given_on")
        self.trigger_event(self.OpinionRecorded, subject=seat["subject"], de_an_id=de_an_id,
                           conclusion=concluded.value, score=score, comment=text(comment, "comment", required=False),
                           given_on=given_on, actor=by.actor, correlation_id=by.correlation_id)  # fmt: skip

    def record_minutes(
        self,
        *,
        subject: str | None,
        de_an_id: str,
        number: str,
        held_on: date,
        rules: CouncilRules,
        by: By,
        absent: Sequence[str] = (),
    ) -> None:
        """Biên bản, by the chair or the secretary: who took part, who declared a conflict, each opinion,
        and the result computed from the opinions (never typed)."""
        seat = self._seat(subject, de_an_id)
        if seat["role"] not in (CouncilRole.chair, CouncilRole.secretary):
            raise NotAMemberError(
                f"Biên bản do chủ tịch hoặc thư ký hội đồng lập; {seat['name']} là "
                f"«{label('council_role', seat['role'])}» / only the chair or the secretary records the minutes",
                field="subject",
                code="not_chair_or_secretary",
            )
        version = rules.council.on(held_on)
        versions = [rules.council.reference(held_on)]
        away = set(absent)
        unknown = [a for a in away if not self.sits(a)]
        if unknown:
            raise CouncilError(f"Không phải thành viên: {', '.join(unknown)} / not members", field="absent")
        present = [m for m in self.members if m["subject"] not in away]
        if len(present) * 100 <= version.params.quorum_above_pct * len(self.members):
            raise CouncilError(
                f"Không đủ số thành viên dự họp: {len(present)}/{len(self.members)} (cần trên "
                f"{version.params.quorum_above_pct}%; {versions[0]}) / no quorum",
                field="absent",
            )
        declarations = self.declarations.get(de_an_id, {})
        opinions = self.opinions.get(de_an_id, {})
        missing = [m["name"] for m in present if m["subject"] not in declarations]
        if missing:
            raise CouncilError(
                f"Chưa ký cam kết về xung đột lợi ích: {', '.join(missing)} / declarations missing",
                field="declarations",
            )
        silent = [
            m["name"] for m in present if not declarations[m["subject"]]["conflict"] and m["subject"] not in opinions
        ]
        if silent:
            raise CouncilError(
                f"Chưa cho ý kiến: {', '.join(silent)} (hoặc ghi vắng mặt) / opinions missing", field="opinions"
            )
        votes = [Opinion(s, Conclusion(o["conclusion"]), o["score"]) for s, o in opinions.items() if s not in away]
        if not votes:
            raise CouncilError(
                "Không còn thành viên nào đủ điều kiện cho ý kiến / no member may vote", field="opinions"
            )
        sheet = None
        if self.scoresheet is not None:
            sheet = rules.scoresheets.on(self.decided_on).params.sheets[self.scoresheet]
            versions.append(rules.scoresheets.reference(self.decided_on))
        result = council_result(votes, rule=version.params, sheet=sheet)
        recorded = [
            {
                "subject": m["subject"],
                "name": m["name"],
                "role": m["role"],
                "absent": m["subject"] in away,
                "declaration_signed": m["subject"] in declarations,
                "conflict_declared": bool(declarations.get(m["subject"], {}).get("conflict")),
                "opinion": opinions.get(m["subject"], {}).get("conclusion"),
                "score": opinions.get(m["subject"], {}).get("score"),
            }
            for m in self.members
        ]
        self.trigger_event(self.MinutesRecorded, subject=seat["subject"], de_an_id=de_an_id,
                           number=text(number, "number"), held_on=held_on, absent=sorted(away), result=result,
                           members=recorded, rule_versions=versions, actor=by.actor,
                           correlation_id=by.correlation_id)  # fmt: skip

    # -- state ---------------------------------------------------------------------------------------------------
    def state(self, *, viewer: str | None = None) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "version": self.version,
            "name": self.name,
            "stage": self.stage,
            "decision": self.decision,
            "members": self.members,
            "de_an": [
                d
                | {
                    "declarations": list(self.declarations.get(d["id"], {}).values()),
                    "opinions": list(self.opinions.get(d["id"], {}).values()),
                    "minutes": self.minutes.get(d["id"]),
                }
                for d in self.de_an
            ],
            "scoresheet": self.scoresheet,
            "status": "da_co_bien_ban" if len(self.minutes) == len(self.de_an) else "dang_lam_viec",
            "rule_versions": self.rule_versions,
            "viewer": self.member(viewer),
        }
