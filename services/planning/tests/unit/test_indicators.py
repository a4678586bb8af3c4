"""The ministry's indicators per province line up: every province shows every indicator (issue 15.6)."""

from __future__ import annotations

import json
from typing import Any

from kc_planning.projections.programme import ProgrammeQueries


class Queries(ProgrammeQueries):
    def __init__(self) -> None:  # no store: the beneficiaries are given
        pass

    def supported(self, table: str = "supported") -> dict[tuple[str, str], list[str]]:
        return {("tinh-31", "a"): ["foundry"], ("tinh-40", "b"): ["tea"]}


def row(instance: str, province: str, de_an_id: str, outputs: dict[str, int]) -> dict[str, Any]:
    return {
        "instance": instance,
        "province_now": province,
        "de_an_id": de_an_id,
        "status": "da_nghiem_thu",
        "outputs": json.dumps(outputs),
    }


def test_a_province_without_a_typed_result_shows_it_as_zero_like_the_totals() -> None:
    rows = [row("tinh-31", "31", "a", {"lop_dao_tao": 1, "hoc_vien": 30}), row("tinh-40", "40", "b", {"may_moc": 1})]
    by = {p["province"]: p for p in Queries().indicators_by_province(rows, {"40": {"san_pham_quoc_gia": 1}})}
    assert by["40"]["values"]["lop_dao_tao"] == 0
    assert by["40"]["labels"]["lop_dao_tao"] == "Lớp đào tạo nghề, truyền nghề"
    assert by["31"]["values"]["lop_dao_tao"] == 1
    assert by["40"]["values"].keys() == by["31"]["values"].keys()
    assert (by["40"]["values"]["co_so_duoc_ho_tro"], by["40"]["values"]["san_pham_quoc_gia"]) == (1, 1)
