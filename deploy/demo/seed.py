"""The demo scenario, built from the project's seed articles, loaded through the public HTTP APIs.

- Nghệ An (tinh-40): establishments, recognitions and OCOP; the 2024 local plan calendar
  (registrations before 15/7/2023, dossiers before 30/10/2023); a registration on time and one late
  under an extension; a local đề án through appraisal to the approved local plan; one dossier
  refused after the deadline.
- Hải Phòng (tinh-31): Công ty TNHH Cơ khí Đúc Thành Phương's metal-casting demonstration model in
  the 2023 plan, through to settlement.
- National registration 2024: a unit registers with each Sở, which accepts it and files the province's
  national registration with the Cục before 20/6/2023 (the ministry lists both).
- National 2024 (bo): registrations before 20/6/2023, dossiers before 30/9/2023, both appraisals,
  and the national plan approved by the ministry → plan.approved.v1.

Usage: seed.py var/run.json (written by the supervisor).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from kc_runtime.keys import key_file, load_signer
from kc_runtime.web.auth import issue_token


def role_for(instance: str, path: str) -> tuple[str, str]:
    """Who does this step in real life: (role, scope)."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if last == "ministry-appraisal":
        return "cuc", "bo"
    if instance == "bo":
        return ("lanh_dao_bo" if last in ("approvals", "amendments") else "cuc"), "bo"
    return ("ubnd_tinh" if last in ("approvals", "amendments", "approve") else "so_ct"), instance


class Demo:
    def __init__(self, run_file: Path) -> None:
        self.urls: dict[str, str] = json.loads(run_file.read_text())["services"]
        self.keys = run_file.parent / "keys"  # the demo runs beside the instances, with their keys
        self.http = httpx.Client(timeout=30)
        self._tokens: dict[tuple[str, str], str] = {}

    def token(self, role: str, scope: str) -> str:
        if (role, scope) not in self._tokens:
            signer = load_signer(key_file(self.keys, scope), scope)
            name = {"so_ct": "Sở Công Thương (demo)", "ubnd_tinh": "UBND tỉnh (demo)"}.get(role, f"{role} (demo)")
            self._tokens[role, scope] = issue_token(signer, sub=f"demo.{role}", role=role, scope=scope, name=name)
        return self._tokens[role, scope]

    def request(self, method: str, where: str, path: str, body: Any = None) -> httpx.Response:
        role, scope = role_for(where.split("/", 1)[0], path)
        headers = {"Authorization": f"Bearer {self.token(role, scope)}"}
        return self.http.request(method, self.urls[where] + path, json=body, headers=headers)

    def call(self, method: str, where: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201)) -> Any:
        response = self.request(method, where, path, body)
        if response.status_code not in ok:
            raise SystemExit(f"{method} {where}{path} → {response.status_code}: {response.text[:400]}")
        return response.json()

    def wait(self, what: str, check: Any, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            time.sleep(0.2)

    # -- building blocks ---------------------------------------------------------------------------
    def establishment(self, inst: str, **details: Any) -> str:
        return str(self.call("POST", f"{inst}/registry", "/establishments", details)["id"])

    def de_an(self, inst: str, steps: list[tuple[str, dict[str, Any]]], **details: Any) -> str:
        d = self.call("POST", f"{inst}/appraisal", "/de-an", details)
        for action, body in steps:
            self.call("POST", f"{inst}/appraisal", f"/de-an/{d['id']}/{action}", body)
        return str(d["id"])

    def line(self, support: int, total: int, item: str, cost: str) -> list[dict[str, Any]]:
        return [
            {
                "cost_item": cost,
                "support_item": item,
                "content": "3",
                "total_cost_vnd": total,
                "support_requested_vnd": support,
                "counterpart_vnd": total - support,
            }
        ]

    def plan_lines(self, inst: str, level: str, year: int) -> int:
        r = self.request("GET", f"{inst}/planning", f"/plans/{level}/{year}")
        return len(r.json()["lines"]) if r.status_code == 200 else 0

    def status(self, inst: str, de_an_id: str) -> str:
        return str(self.call("GET", f"{inst}/appraisal", f"/de-an/{de_an_id}")["status"])


COUNCIL = [
    {"name": n, "role": r, "opinion": "dong_y", "declaration_signed": True}
    for n, r in (
        ("Phó Giám đốc Sở Công Thương", "chủ tịch"),
        ("Trưởng phòng Quản lý công nghiệp", "ủy viên"),
        ("Đại diện Sở Tài chính", "ủy viên"),
    )
]


def main(run_file: str) -> int:
    demo = Demo(Path(run_file))

    # -- calendars (owning authorities) -------------------------------------------------------------
    demo.call(
        "PUT",
        "bo/planning",
        "/calendars/quoc_gia/2024",
        {
            "registration_deadline": "2023-06-20",
            "dossier_deadline": "2023-09-30",
            "legal_basis": "Cục Công Thương địa phương: đăng ký KCQG 2024 trước 20/6/2023, hồ sơ trước 30/9/2023",
        },
    )
    demo.call(
        "PUT",
        "tinh-40/planning",
        "/calendars/dia_phuong/2024",
        {
            "registration_deadline": "2023-07-15",
            "dossier_deadline": "2023-10-30",
            "legal_basis": "Sở Công Thương Nghệ An: đăng ký KCĐP 2024 trước 15/7/2023, hồ sơ trước 30/10/2023",
        },
    )
    demo.call(
        "PUT",
        "tinh-31/planning",
        "/calendars/dia_phuong/2023",
        {
            "registration_deadline": "2022-07-15",
            "dossier_deadline": "2022-10-30",
            "legal_basis": "Sở Công Thương Hải Phòng: kế hoạch khuyến công năm 2023",
        },
    )

    # -- Nghệ An: establishments, recognitions, registrations ---------------------------------------
    may_tre = demo.establishment(
        "tinh-40",
        name="Hợp tác xã mây tre đan Diễn Kim",
        tax_code="0100109106",
        legal_form="hop_tac_xa",
        unit_system="truoc_2025",
        commune_code="17431",
        sectors=["thu_cong_my_nghe"],
        employees=60,
        women_owned=True,
    )
    che = demo.establishment(
        "tinh-40",
        name="Cơ sở chế biến chè Thông Thụ",
        tax_code="0100112437",
        legal_form="ho_kinh_doanh",
        unit_system="truoc_2025",
        commune_code="16741",
        sectors=["che_bien_nong_lam_thuy_san"],
        employees=12,
        ethnic_minority_owned=True,
    )
    demo.call(
        "POST",
        "tinh-40/registry",
        f"/establishments/{may_tre}/recognitions",
        {
            "scheme": "san_pham_cnnt_tieu_bieu",
            "product_name": "Bình hoa mây tre đan",
            "level": "huyen",
            "decision_number": "1205/QĐ-UBND",
            "decision_date": "2022-09-15",
            "issuer": "UBND huyện Diễn Châu",
        },
    )
    demo.call(
        "POST",
        "tinh-40/registry",
        f"/establishments/{may_tre}/recognitions",
        {
            "scheme": "san_pham_cnnt_tieu_bieu",
            "product_name": "Bình hoa mây tre đan",
            "level": "tinh",
            "decision_number": "3120/QĐ-UBND",
            "decision_date": "2023-08-20",
            "issuer": "UBND tỉnh Nghệ An",
        },
    )
    demo.call(
        "POST",
        "tinh-40/registry",
        f"/establishments/{che}/recognitions",
        {
            "scheme": "ocop",
            "product_name": "Chè xanh Thông Thụ",
            "stars": 4,
            "decision_number": "2290/QĐ-UBND",
            "decision_date": "2023-06-30",
            "issuer": "UBND tỉnh Nghệ An",
        },
    )
    demo.call(
        "POST",
        "tinh-40/planning",
        "/registrations",
        {
            "level": "dia_phuong",
            "year": 2024,
            "registrant": "UBND xã Diễn Kim",
            "filed_on": "2023-07-10",
            "items": [{"title": "Hỗ trợ máy chẻ nan tự động", "content": "3", "support_vnd": 150_000_000}],
        },
    )
    # late: only under the extension the Sở (which set the deadline) decided and recorded
    demo.call(
        "POST",
        "tinh-40/planning",
        "/extensions",
        {
            "level": "dia_phuong",
            "year": 2024,
            "milestone": "registration_deadline",
            "decision_number": "77/QĐ-SCT",
            "decision_date": "2023-07-16",
            "signer": "Giám đốc Sở Công Thương Nghệ An",
            "grantee": "UBND xã Thông Thụ",
            "new_deadline": "2023-07-25",
            "reason": "Xã đề nghị gia hạn do mưa lũ",
        },
    )
    demo.call(
        "POST",
        "tinh-40/planning",
        "/registrations",
        {
            "level": "dia_phuong",
            "year": 2024,
            "registrant": "UBND xã Thông Thụ",
            "filed_on": "2023-07-20",
            "extension": "77/QĐ-SCT",
            "items": [{"title": "Đào tạo nghề chế biến chè", "content": "1", "support_vnd": 60_000_000}],
        },
    )
    for key, name, email, role, scope in (
        (
            "don-vi:trung-tam-khuyen-cong-nghe-an",
            "Trung tâm Khuyến công Nghệ An",
            "ttkc@nghean.gov.vn",
            "don_vi_thuc_hien",
            "tinh-40",
        ),
        (
            "don-vi:trung-tam-khuyen-cong-hai-phong",
            "Trung tâm Khuyến công Hải Phòng",
            "ttkc@haiphong.gov.vn",
            "don_vi_thuc_hien",
            "tinh-31",
        ),
    ):
        demo.call(
            "PUT",
            f"{scope}/notifications",
            f"/recipients/{key}",
            {"name": name, "email": email, "role": role, "scope": scope},
        )

    demo.wait(
        "Nghệ An beneficiaries",
        lambda: demo.request("GET", "tinh-40/appraisal", f"/beneficiaries/{may_tre}").status_code == 200,
    )
    demo.wait("Nghệ An calendar", lambda: True)
    time.sleep(1.0)  # the calendar event reaches appraisal

    # -- Nghệ An local plan 2024 --------------------------------------------------------------------
    local = demo.de_an(
        "tinh-40",
        [
            ("submit", {"submitted_on": "2023-10-25"}),
            (
                "base-appraisal",
                {
                    "mode": "hoi_dong",
                    "members": COUNCIL,
                    "conclusion": "dong_y",
                    "recommended_support_vnd": 140_000_000,
                    "appraised_on": "2023-11-20",
                },
            ),
            ("propose", {"on": "2023-11-25"}),
        ],
        code="KCĐP-40-2024-07",
        title="Hỗ trợ máy chẻ nan tự động cho HTX mây tre đan Diễn Kim",
        level="dia_phuong",
        de_an_type="kcdp",
        plan_year=2024,
        implementing_unit="Trung tâm Khuyến công Nghệ An",
        activity_contents=["3"],
        beneficiary_ids=[may_tre],
        budget_lines=demo.line(140_000_000, 300_000_000, "may_moc_thiet_bi", "Máy chẻ nan tự động"),
    )
    late = demo.call(
        "POST",
        "tinh-40/appraisal",
        "/de-an",
        {
            "code": "KCĐP-40-2024-12",
            "title": "Đào tạo nghề chế biến chè (nộp muộn)",
            "level": "dia_phuong",
            "de_an_type": "kcdp",
            "plan_year": 2024,
            "implementing_unit": "Trung tâm Khuyến công Nghệ An",
            "activity_contents": ["1"],
            "budget_lines": [
                {
                    "cost_item": "Lớp đào tạo",
                    "support_item": "dao_tao_nghe",
                    "total_cost_vnd": 60_000_000,
                    "support_requested_vnd": 60_000_000,
                }
            ],
        },
    )
    refused = demo.request("POST", "tinh-40/appraisal", f"/de-an/{late['id']}/submit", {"submitted_on": "2023-11-02"})
    demo.wait("Nghệ An local plan line", lambda: demo.plan_lines("tinh-40", "dia_phuong", 2024) == 1)
    demo.call(
        "POST",
        "tinh-40/planning",
        "/plans/dia_phuong/2024/approvals",
        {"decision_number": "4567/QĐ-UBND", "decision_date": "2023-12-25", "signer": "Chủ tịch UBND tỉnh Nghệ An"},
    )

    # -- national registration 2024: units register with the Sở, which files with the Cục by 20/6/2023 --
    for inst, registrant, title, commune, support in (
        ("tinh-40", "Trung tâm Khuyến công Nghệ An", "Hỗ trợ ứng dụng máy móc chế biến chè", "16741", 280_000_000),
        ("tinh-31", "Trung tâm Khuyến công Hải Phòng", "Hỗ trợ ứng dụng máy móc cơ khí", "10507", 300_000_000),
    ):
        registration = demo.call(
            "POST",
            f"{inst}/planning",
            "/registrations",
            {
                "level": "quoc_gia",
                "year": 2024,
                "registrant": registrant,
                "registrant_kind": "to_chuc_dich_vu",
                "filed_on": "2023-05-15",
                "items": [{"title": title, "content": "3", "support_vnd": support, "commune_code": commune}],
            },
        )
        demo.call("POST", f"{inst}/planning", f"/registrations/{registration['id']}/accept", {"on": "2023-06-05"})
        demo.call("POST", f"{inst}/planning", "/national-registrations", {"year": 2024, "filed_on": "2023-06-16"})

    # -- national 2024: both provinces, both appraisals, the ministry's plan --------------------------
    def national(inst: str, code: str, title: str, unit: str, support: int) -> str:
        de_an = demo.de_an(
            inst,
            [
                ("submit", {"submitted_on": "2023-09-25"}),
                (
                    "base-appraisal",
                    {
                        "mode": "hoi_dong",
                        "members": COUNCIL,
                        "conclusion": "dong_y",
                        "recommended_support_vnd": support,
                        "appraised_on": "2023-10-05",
                    },
                ),
                ("forward", {"on": "2023-10-06"}),
            ],
            code=code,
            title=title,
            level="quoc_gia",
            de_an_type="kcqg_nhom",
            plan_year=2024,
            implementing_unit=unit,
            activity_contents=["3", "4"],
            budget_lines=demo.line(support, 3 * support, "may_moc_thiet_bi", "Máy móc thiết bị tiên tiến"),
        )
        # the Cục appraises on the ministry's instance (its record of the province's đề án); the province
        # receives the decision as an event, then proposes the đề án for the national plan
        record = f"/national-de-an/{inst}/{de_an}"
        demo.wait(
            f"the ministry's record of {code}",
            lambda: demo.request("GET", "bo/appraisal", record).json().get("status") == "da_gui_bo",
        )
        demo.call(
            "POST",
            "bo/appraisal",
            f"{record}/ministry-appraisal",
            {
                "mode": "can_bo",
                "conclusion": "dong_y",
                "recommended_support_vnd": support,
                "appraised_on": "2023-11-20",
            },
        )
        demo.wait(f"{code} appraised by the ministry", lambda: demo.status(inst, de_an) == "dat_cap_bo")
        demo.call("POST", f"{inst}/appraisal", f"/de-an/{de_an}/propose", {"on": "2023-11-25"})
        return de_an

    national(
        "tinh-40",
        "KCQG-2024-40-01",
        "Hỗ trợ ứng dụng máy móc chế biến chè cho nhóm cơ sở Nghệ An",
        "Trung tâm Khuyến công Nghệ An",
        280_000_000,
    )
    national(
        "tinh-31",
        "KCQG-2024-31-01",
        "Hỗ trợ ứng dụng máy móc cơ khí cho nhóm cơ sở Hải Phòng",
        "Trung tâm Khuyến công Hải Phòng",
        300_000_000,
    )
    demo.wait("national plan lines", lambda: demo.plan_lines("bo", "quoc_gia", 2024) == 2)
    demo.call(
        "PUT",
        "bo/planning",
        "/plans/quoc_gia/2024/envelope",
        {"envelope": {"quoc_gia": 100_000_000_000}, "decision_number": "Dự toán KCQG 2024"},
    )
    demo.call(
        "POST",
        "bo/planning",
        "/plans/quoc_gia/2024/approvals",
        {"decision_number": "3208/QĐ-BCT", "decision_date": "2023-12-28", "signer": "Bộ trưởng Bộ Công Thương"},
    )

    # -- Hải Phòng 2023: the metal-casting demonstration model, to settlement ---------------------------
    thanh_phuong = demo.establishment(
        "tinh-31",
        name="Công ty TNHH Cơ khí Đúc Thành Phương",
        tax_code="0200456784",  # its own: a code registered in two provinces would be two records
        legal_form="doanh_nghiep_nho_va_vua",
        unit_system="truoc_2025",
        commune_code="11770",
        sectors=["co_khi_che_tao"],
        employees=45,
        revenue_vnd=30_000_000_000,
    )
    demo.wait(
        "Hải Phòng beneficiary",
        lambda: demo.request("GET", "tinh-31/appraisal", f"/beneficiaries/{thanh_phuong}").status_code == 200,
    )
    casting = demo.de_an(
        "tinh-31",
        [
            ("submit", {"submitted_on": "2022-10-20"}),
            (
                "base-appraisal",
                {
                    "mode": "hoi_dong",
                    "members": COUNCIL,
                    "conclusion": "dong_y_co_chinh_sua",
                    "recommended_support_vnd": 800_000_000,
                    "appraised_on": "2022-11-15",
                },
            ),
            ("propose", {"on": "2022-11-25"}),
        ],
        code="KCĐP-31-2023-04",
        title="Xây dựng mô hình trình diễn kỹ thuật sản xuất đúc kim loại",
        level="dia_phuong",
        de_an_type="kcdp",
        plan_year=2023,
        implementing_unit="Trung tâm Khuyến công Hải Phòng",
        activity_contents=["3"],
        beneficiary_ids=[thanh_phuong],
        budget_lines=demo.line(850_000_000, 3_200_000_000, "mo_hinh_trinh_dien", "Dây chuyền đúc áp lực thấp"),
        expected_outputs={"mo_hinh": 1},
    )
    demo.wait("Hải Phòng plan line", lambda: demo.plan_lines("tinh-31", "dia_phuong", 2023) == 1)
    demo.call(
        "POST",
        "tinh-31/planning",
        "/plans/dia_phuong/2023/approvals",
        {
            "decision_number": "3456/QĐ-UBND",
            "decision_date": "2022-12-20",
            "signer": "Chủ tịch UBND thành phố Hải Phòng",
        },
    )
    demo.wait("casting model approved", lambda: demo.status("tinh-31", casting) == "da_phe_duyet")
    for action, body in [
        (
            "contract",
            {"contract_number": "12/2023/HĐ-KCĐP", "signed_on": "2023-02-10", "contracted_support_vnd": 800_000_000},
        ),
        ("progress", {"month": "2023-06", "percent": 75, "note": "Đã lắp đặt lò nấu và máy đúc"}),
        ("advances", {"amount_vnd": 560_000_000, "paid_on": "2023-06-28"}),
        ("complete", {"on": "2023-10-30"}),
        ("acceptance", {"accepted_on": "2023-11-15", "outputs": {"mo_hinh": 1, "may_moc": 1}}),
        ("settlement", {"settled_on": "2024-01-10", "dossier_on": "2023-11-28", "settled_support_vnd": 795_000_000}),
        ("close", {"on": "2024-01-20"}),
    ]:
        demo.call("POST", "tinh-31/appraisal", f"/de-an/{casting}/{action}", body)
    demo.wait("Nghệ An local đề án approved", lambda: demo.status("tinh-40", local) == "da_phe_duyet")

    # -- Nghệ An: an appraisal council of three (the console's hoidong accounts), a field trip March 2024 --
    training = demo.de_an(
        "tinh-40",
        [("submit", {"submitted_on": "2023-10-26"})],
        code="KCĐP-40-2024-09",
        title="Đào tạo nghề mây tre đan cho lao động xã Diễn Kim",
        level="dia_phuong",
        de_an_type="kcdp",
        plan_year=2024,
        implementing_unit="Trung tâm Khuyến công Nghệ An",
        activity_contents=["1"],
        beneficiary_ids=[may_tre],
        budget_lines=[
            {
                "cost_item": "Lớp đào tạo nghề mây tre đan (35 học viên)",
                "support_item": "dao_tao_nghe",
                "total_cost_vnd": 95_000_000,
                "support_requested_vnd": 95_000_000,
            }
        ],
    )
    for subject, person, title in (
        ("hoidong.nghean", "Chủ tịch hội đồng thẩm định Nghệ An", "Phó Giám đốc Sở Công Thương"),
        ("hoidong2.nghean", "Thư ký hội đồng thẩm định Nghệ An", "Chuyên viên phòng Quản lý công nghiệp"),
        ("hoidong3.nghean", "Ủy viên hội đồng thẩm định Nghệ An", "Phó Giám đốc Trung tâm Khuyến công"),
    ):
        demo.call(
            "POST",
            "tinh-40/appraisal",
            "/roster",
            {"subject": subject, "name": person, "title": title, "organisation": "Tỉnh Nghệ An"},
        )
    demo.call(
        "POST",
        "tinh-40/appraisal",
        "/councils",
        {
            "name": "Hội đồng thẩm định đề án khuyến công địa phương năm 2024",
            "stage": "co_so",
            "decision_number": "215/QĐ-SCT",
            "decided_on": "2023-11-01",
            "signer": "Giám đốc Sở Công Thương Nghệ An",
            "chair": "hoidong.nghean",
            "secretary": "hoidong2.nghean",
            "members": ["hoidong3.nghean"],
            "de_an_ids": [training],
        },
    )
    demo.call(
        "POST",
        "tinh-40/appraisal",
        "/field-trips",
        {
            "name": "Đoàn thẩm định thực tế tại cơ sở, tháng 3/2024",
            "decision_number": "30/QĐ-SCT",
            "starts_on": "2024-03-11",
            "ends_on": "2024-03-15",
            "team": ["Chủ tịch hội đồng thẩm định Nghệ An", "Thư ký hội đồng thẩm định Nghệ An"],
            "visits": [
                {"de_an_id": local, "on": "2024-03-12", "place": "HTX mây tre đan Diễn Kim, xã Diễn Kim"},
                {"de_an_id": training, "on": "2024-03-14", "place": "Nhà văn hóa xã Diễn Kim"},
            ],
        },
    )

    print("demo loaded:")
    print(
        f"  Nghệ An: 2 establishments, 3 certificates, 2 registrations (1 late, extended), local plan 2024 "
        f"approved; a late dossier refused ({refused.status_code})"
    )
    print("  national registration 2024: Nghệ An and Hải Phòng filed with the Cục by 20/6/2023")
    print("  national 2024: 2 đề án from Nghệ An and Hải Phòng approved by 3208/QĐ-BCT (plan.approved.v1)")
    print("  Hải Phòng 2023: Cơ khí Đúc Thành Phương casting model contracted, accepted, settled, closed")
    print("  Nghệ An: appraisal council 215/QĐ-SCT (3 members) for KCĐP-40-2024-09; field trip 11–15/3/2024")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
