"""The one vocabulary: labels, the fallback for a code without one, money, dates, amounts in words."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from kc_kernel import vocabulary
from kc_kernel.units import CurrentCommune, LegacyWard, Province, Succession, WardType
from kc_kernel.vocabulary import (
    UnknownKindError,
    describe,
    format_date,
    format_datetime,
    format_money,
    label,
    labels,
    money_in_words,
    number_in_words,
)


def test_status_level_role_and_item_codes_read_as_vietnamese_labels() -> None:
    assert label("de_an_status", "da_dong") == "Đã đóng"
    assert label("plan_level", "quoc_gia") == "Khuyến công quốc gia"
    assert label("authority", "bo_truong") == "Bộ trưởng Bộ Công Thương"
    assert label("support_item", "may_moc_thiet_bi") == "Ứng dụng máy móc thiết bị, chuyển giao công nghệ"
    assert label("role", "so_ct") == "Sở Công Thương"
    assert label("event", "Approved") == "Phê duyệt"
    assert label("activity_content", "3").startswith("Mô hình trình diễn")


def test_a_str_enum_member_reads_like_its_value() -> None:
    from enum import StrEnum

    class Status(StrEnum):
        closed = "da_dong"

    assert label("de_an_status", Status.closed) == "Đã đóng"
    assert describe("de_an_status", Status.closed) == {"code": "da_dong", "label": "Đã đóng"}


def test_provinces_and_instances_read_by_name() -> None:
    assert label("province", "40") == "Tỉnh Nghệ An"
    assert label("province", "31") == "Thành phố Hải Phòng"
    # the same code named another province before 1/7/2025
    assert label("province_truoc_2025", "24") == "Tỉnh Bắc Giang"
    assert label("province", "24") == "Tỉnh Bắc Ninh"
    assert label("instance", "tinh-40") == "Tỉnh Nghệ An"
    assert label("instance", "bo") == "Bộ Công Thương"
    assert len(labels("province")) == 34
    assert len(labels("province_truoc_2025")) == 63


def test_a_code_without_a_label_reads_as_the_code_marked_unnamed_and_none_as_a_dash() -> None:
    assert label("de_an_status", "khong_co") == "khong_co (chưa có tên)"
    assert label("de_an_status", None) == "—"
    assert label("instance", "tinh-99") == "tinh-99 (chưa có tên)"
    assert not vocabulary.has_label("de_an_status", "khong_co")
    assert vocabulary.has_label("de_an_status", "du_thao")


def test_an_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(UnknownKindError, match="de_an_statuses"):
        label("de_an_statuses", "da_dong")


def test_communes_are_named_through_the_admin_units_given() -> None:
    nghe_an = Province(code="40", name="Tỉnh Nghệ An", central_city=False)
    commune = CurrentCommune(code="16681", name="Xã Hưng Nguyên", type=WardType.xa, province=nghe_an)

    class Units:
        def current_commune(self, code: str) -> CurrentCommune | None:
            return commune if code == "16681" else None

        def legacy_ward(self, code: str) -> LegacyWard | None:
            return None

        def successor(self, legacy_code: str) -> Succession | None:
            return None

        def current_province(self, code: str) -> Province | None:
            return nghe_an if code == "40" else None

    previous = vocabulary._units_source
    try:
        vocabulary.use_admin_units(Units)
        assert label("commune", "16681") == "Xã Hưng Nguyên, Tỉnh Nghệ An"
        assert label("commune", "00000") == "00000 (chưa có tên)"
    finally:
        vocabulary._units_source = previous


def test_money_reads_with_dots_and_dong() -> None:
    assert format_money(1_234_567) == "1.234.567 đồng"
    assert format_money(0) == "0 đồng"
    assert format_money(None) == "—"


def test_dates_read_day_month_year() -> None:
    assert format_date(date(2024, 3, 5)) == "05/03/2024"
    assert format_date("2023-09-30") == "30/09/2023"
    assert format_date(None) == "—"
    # 20:30 UTC on 31/12 is already 1/1 in Viet Nam
    assert format_date(datetime(2023, 12, 31, 20, 30, tzinfo=UTC)) == "01/01/2024"
    assert format_datetime("2023-12-31T20:30:00+00:00") == "01/01/2024 03:30"
    assert format_datetime(datetime(2024, 1, 2, 1, 0)) == "02/01/2024 08:00"


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "không"),
        (5, "năm"),
        (10, "mười"),
        (11, "mười một"),
        (15, "mười lăm"),
        (21, "hai mươi mốt"),
        (25, "hai mươi lăm"),
        (101, "một trăm linh một"),
        (105, "một trăm linh năm"),
        (110, "một trăm mười"),
        (1_005, "một nghìn không trăm linh năm"),
        (1_000_015, "một triệu không trăm mười lăm"),
        (105_000, "một trăm linh năm nghìn"),
        (1_234_567, "một triệu hai trăm ba mươi bốn nghìn năm trăm sáu mươi bảy"),
        (300_000_000, "ba trăm triệu"),
        (1_500_000_000, "một tỷ năm trăm triệu"),
        (2_000_000_005, "hai tỷ không trăm linh năm"),
        (1_000_000_000_000, "một nghìn tỷ"),
        (12_345_000_000_000, "mười hai nghìn ba trăm bốn mươi lăm tỷ"),
    ],
)
def test_numbers_read_as_on_financial_documents(n: int, words: str) -> None:
    assert number_in_words(n) == words


def test_an_amount_in_words_starts_with_a_capital_and_ends_with_dong() -> None:
    assert money_in_words(1_250_000) == "Một triệu hai trăm năm mươi nghìn đồng"
    assert money_in_words(0) == "Không đồng"
    with pytest.raises(ValueError, match="non-negative"):
        money_in_words(-1)
