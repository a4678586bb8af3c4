"""The actions on a đề án the console offers as forms: each action's API path, the permission it needs
and its fields; which of them an officer may take now; the API body a form becomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from kc_console.backend import ApiError
from kc_console.roles import Officer
from kc_console.web.forms import Field, nest, show_date
from kc_kernel import vocabulary as vocab

MEMBER_ROWS = 5


@dataclass(frozen=True)
class Action:
    path: str
    permission: str
    fields: tuple[Field, ...]
    method: str = "POST"
    intro: str = ""


def _d(name: str, label: str, **kw: Any) -> Field:
    return Field(name, label, "date", default=kw.pop("default", "today"), **kw)


CONCLUSIONS = tuple(
    (c, vocab.label("appraisal_conclusion", c)) for c in ("dong_y", "dong_y_co_chinh_sua", "khong_dong_y")
)
MODES = (("hoi_dong", "Hội đồng thẩm định"), ("can_bo", "Cán bộ thẩm định"))
# The ministry decides on its own instance: on a province's national đề án these are recorded by the
# ministry's officers on the ministry's record of it (appraisal on bo, ``/national-de-an/{instance}/{id}``),
# with the permission each needs there; the province receives them as events.
MINISTRY_ACTIONS: dict[str, str] = {
    "tham_dinh_cap_bo": "appraise_national",
    "ky_hop_dong": "implement_national",
    "quyet_dinh_dieu_chinh": "decide_adjustment",
    "quyet_toan": "implement_national",
}


def _appraisal_fields() -> tuple[Field, ...]:
    members: list[Field] = []
    for i in range(MEMBER_ROWS):
        members += [
            Field(f"members.{i}.name", f"Thành viên {i + 1}: họ tên", required=False, maxlength=200),
            Field(f"members.{i}.role", f"Thành viên {i + 1}: vai trò trong hội đồng", required=False, maxlength=100),
            Field(
                f"members.{i}.opinion",
                f"Thành viên {i + 1}: ý kiến",
                "select",
                required=False,
                options=(("", "—"), *CONCLUSIONS),
            ),
            Field(
                f"members.{i}.declaration_signed",
                f"Thành viên {i + 1}: đã ký cam kết không xung đột lợi ích",
                "checkbox",
                required=False,
            ),
        ]
    return (
        Field("mode", "Hình thức thẩm định", "select", options=MODES),
        Field("conclusion", "Kết luận", "select", options=CONCLUSIONS),
        Field("recommended_support_vnd", "Kinh phí hỗ trợ đề nghị (đồng)", "money"),
        _d("appraised_on", "Ngày thẩm định"),
        Field("notes", "Ghi chú", "textarea", required=False, maxlength=500),
        *members,
    )


ACTIONS: dict[str, Action] = {
    "gia_han_nop": Action(
        "submission-extension",
        "appraise",
        (
            Field("decision_number", "Số quyết định gia hạn", maxlength=100),
            _d("decided_on", "Ngày quyết định"),
            _d("new_deadline", "Hạn nộp mới", default=None),
        ),
    ),
    "nop": Action(
        "submit",
        "draft",
        (_d("submitted_on", "Ngày nộp hồ sơ"),),
        intro="Hạn nộp, điều kiện cơ sở thụ hưởng và mức hỗ trợ tối đa được kiểm tra theo quy định "
        "có hiệu lực vào ngày nộp.",
    ),
    "tra_lai": Action(
        "return", "appraise", (Field("reason", "Lý do trả lại (đơn vị sẽ thấy)", "textarea", maxlength=500),)
    ),
    "tham_dinh_co_so": Action("base-appraisal", "appraise", _appraisal_fields()),
    "gui_bo": Action("forward", "appraise", (_d("on", "Ngày gửi Bộ"),)),
    "tham_dinh_cap_bo": Action("ministry-appraisal", "appraise_national", _appraisal_fields()),
    "de_xuat_ke_hoach": Action("propose", "appraise", (_d("on", "Ngày đề xuất"),)),
    "de_xuat_ke_hoach_dia_phuong": Action("propose", "appraise", (_d("on", "Ngày đề xuất"),)),
    "phe_duyet": Action(
        "approve",
        "approve_plan",
        (
            Field("plan_decision", "Số quyết định phê duyệt kế hoạch", maxlength=100),
            Field("batch", "Đợt", "int", default="1", min=1),
            _d("decided_on", "Ngày quyết định"),
            Field("approved_support_vnd", "Kinh phí được duyệt (đồng)", "money"),
        ),
        intro="Thường được ghi tự động khi kế hoạch được phê duyệt (Kế hoạch → Phê duyệt đợt).",
    ),
    "khong_bo_tri": Action("not-funded", "appraise", (Field("reason", "Lý do", "textarea", maxlength=500),)),
    "ky_hop_dong": Action(
        "contract",
        "appraise",
        (
            Field("contract_number", "Số hợp đồng", maxlength=100),
            _d("signed_on", "Ngày ký"),
            Field("contracted_support_vnd", "Kinh phí hỗ trợ theo hợp đồng (đồng)", "money"),
        ),
    ),
    "bao_cao_tien_do": Action(
        "progress",
        "draft",
        (
            Field("month", "Tháng báo cáo", "month", default="this_month"),
            Field("percent", "Tiến độ (%)", "int", min=0, max=100),
            Field("note", "Nội dung đã thực hiện", "textarea", required=False, maxlength=500),
        ),
    ),
    "tam_ung": Action(
        "advances",
        "draft",
        (Field("amount_vnd", "Số tiền tạm ứng (đồng)", "money", min=1), _d("paid_on", "Ngày tạm ứng")),
        intro="Mức tạm ứng tối đa theo quy định được kiểm tra khi ghi.",
    ),
    "de_nghi_dieu_chinh": Action(
        "adjustments",
        "draft",
        (
            Field(
                "change_type",
                "Loại điều chỉnh",
                "select",
                options=(
                    ("tang_kinh_phi", "Tăng kinh phí"),
                    ("giam_kinh_phi", "Giảm kinh phí"),
                    ("thay_doi_noi_dung", "Thay đổi nội dung"),
                    ("thay_doi_dia_diem", "Thay đổi địa điểm"),
                    ("thay_doi_don_vi_thu_huong", "Thay đổi đơn vị thụ hưởng"),
                    ("thay_doi_don_vi_phoi_hop", "Thay đổi đơn vị phối hợp"),
                    ("thay_doi_thoi_gian_trong_nam", "Thay đổi thời gian trong năm"),
                    ("gia_han_sang_nam_sau", "Gia hạn sang năm sau"),
                    ("ngung_thuc_hien", "Ngừng thực hiện"),
                ),
            ),
            Field("description", "Nội dung đề nghị", "textarea", maxlength=500),
            Field(
                "changes.support_vnd",
                "Kinh phí hỗ trợ mới (đồng)",
                "money",
                required=False,
                hint="Khi tăng hoặc giảm kinh phí: kinh phí hỗ trợ sau điều chỉnh",
            ),
            _d("requested_on", "Ngày đề nghị"),
        ),
    ),
    "quyet_dinh_dieu_chinh": Action(
        "adjustments/decision",
        "decide_adjustment",
        (
            Field("approved", "Đồng ý điều chỉnh", "checkbox", required=False),
            Field("decision_number", "Số quyết định", maxlength=100),
            _d("decided_on", "Ngày quyết định"),
        ),
        intro="Quyết định theo thẩm quyền mà đề nghị điều chỉnh cần (Thông tư 36/2013, Điều 11): thẩm quyền "
        "của vai trò bạn được kiểm tra khi ghi.",
    ),
    "hoan_thanh": Action("complete", "draft", (_d("on", "Ngày hoàn thành"),)),
    "nghiem_thu": Action(
        "acceptance",
        "appraise",
        (
            _d("accepted_on", "Ngày nghiệm thu"),
            Field(
                "accepted_support_vnd",
                "Giá trị hỗ trợ được nghiệm thu (đồng)",
                "money",
                required=False,
                hint="Bỏ trống: bằng kinh phí hợp đồng",
            ),
            Field("report", "Biên bản, kết quả nghiệm thu", "textarea", required=False, maxlength=500),
        ),
    ),
    "quyet_toan": Action(
        "settlement",
        "appraise",
        (
            _d("settled_on", "Ngày quyết toán"),
            _d("dossier_on", "Ngày nộp hồ sơ quyết toán"),
            Field("settled_support_vnd", "Kinh phí quyết toán (đồng)", "money"),
        ),
    ),
    "dong": Action("close", "appraise", (_d("on", "Ngày đóng đề án"),)),
}
EDIT = "sua_du_thao"


def holds(rules: dict[str, Any], officer: Officer, authority: str | None, instance: str) -> bool:
    """Whether the officer's role holds ``authority`` where it acts (appraisal's dated rules: who decides
    which adjustment, on the ministry's instance or a province's)."""
    versions = ((rules.get("authority") or {}).get("versions")) or []
    deciders = ((versions[-1].get("params") or {}).get("deciders") or {}) if versions else {}
    decider = deciders.get(authority or "")
    if not decider:
        return False
    where = "bo" if instance == "bo" else "tinh"
    return bool(decider.get("role") == officer.role and decider.get("instance") == where)


def allowed(
    officer: Officer, state: dict[str, Any], instance: str, rules: dict[str, Any] | None = None
) -> list[tuple[str, str]]:
    """(action, label) of what this officer may do now on the đề án's own instance: its allowed actions,
    less those the role may not do, those the ministry records on its own instance (a national đề án's),
    and an adjustment decision whose authority the role does not hold (the service checks again)."""
    out = []
    ministry = set(state.get("ministry_actions") or [])
    for code in state.get("allowed_actions", []):
        if code == EDIT:
            if officer.may("draft", instance):
                out.append((code, vocab.label("de_an_action", code)))
            continue
        action = ACTIONS.get(code)
        if action is None or code in ministry or not officer.may(action.permission, instance):
            continue
        if code == "quyet_dinh_dieu_chinh":
            pending = state.get("pending_adjustment") or {}
            if not holds(rules or {}, officer, pending.get("authority"), instance):
                continue
        out.append((code, vocab.label("de_an_action", code)))
    return out


def ministry_allowed(officer: Officer, record: dict[str, Any] | None, rules: dict[str, Any]) -> list[tuple[str, str]]:
    """(action, label) of the ministry's decisions this officer may record now on its record of a
    province's national đề án (on bo): the record's allowed decisions, by the permission each needs
    there, an adjustment only for the role holding its authority."""
    if record is None or officer.instance != "bo":
        return []
    out = []
    for code in record.get("allowed_actions", []):
        permission = MINISTRY_ACTIONS.get(code)
        if permission is None or not officer.may(permission, "bo"):
            continue
        if code == "quyet_dinh_dieu_chinh" and not holds(rules, officer, record.get("required_authority"), "bo"):
            continue
        out.append((code, vocab.label("de_an_action", code)))
    return out


def defaults(fields: tuple[Field, ...] | list[Field]) -> dict[str, str]:
    today = date.today()
    out = {}
    for f in fields:
        if f.default == "today":
            out[f.name] = show_date(today)
        elif f.default == "this_month":
            out[f.name] = f"{today:%Y-%m}"
        elif f.default is not None:
            out[f.name] = str(f.default)
    return out


def action_of(code: str) -> Action:
    action = ACTIONS.get(code)
    if action is None:
        raise ApiError(404, "Không tìm thấy", "Không có thao tác này / no such action")
    return action


def result_fields(rules: dict[str, Any], state: dict[str, Any]) -> tuple[Field, ...]:
    """Nghiệm thu: one count per result the đề án's activity contents allow (appraisal's dated result
    catalogue); the establishments supported and recognised products are not typed."""
    versions = ((rules.get("results") or {}).get("versions")) or []
    today = date.today().isoformat()
    in_force = [v for v in versions if str(v.get("effective_from")) <= today] or versions
    catalogue = (in_force[-1].get("params") or {}).get("contents", {}) if in_force else {}
    keys = dict.fromkeys(k for c in state["details"].get("activity_contents", []) for k in catalogue.get(str(c), []))
    return tuple(
        Field(f"outputs.{k}", vocab.label("indicator", k), "int", required=False, min=0, max=1_000_000) for k in keys
    )


def council_field(councils: list[dict[str, Any]], de_an_id: str, stage: str) -> Field | None:
    """Thẩm định theo biên bản hội đồng: the councils of this stage with minutes for this đề án."""
    options = []
    for c in councils:
        minutes = next((d.get("minutes") for d in c.get("de_an", []) if d.get("id") == de_an_id), None)
        if c.get("stage") == stage and minutes:
            result = vocab.label("appraisal_conclusion", minutes["result"]["conclusion"])
            options.append((c["id"], f"{c['name']} — biên bản {minutes['number']} ({result})"))
    if not options:
        return None
    return Field(
        "council_id",
        "Theo biên bản của hội đồng thẩm định",
        "select",
        required=False,
        options=(("", "— (không: nhập thành viên bên dưới)"), *options),
        hint="Khi chọn, thành viên, ý kiến và kết luận lấy từ biên bản của hội đồng",
    )


def action_body(code: str, values: dict[str, Any]) -> dict[str, Any]:
    body = nest(values)
    if code in ("tham_dinh_co_so", "tham_dinh_cap_bo") and body.get("council_id"):
        body.pop("members", None)  # the council's minutes list them
        return body
    body.pop("council_id", None)
    if code in ("tham_dinh_co_so", "tham_dinh_cap_bo"):
        members = []
        for m in body.pop("members", []) or []:
            if isinstance(m, dict) and m.get("name"):
                members.append(
                    {
                        "name": m["name"],
                        **({"role": m["role"]} if m.get("role") else {}),
                        **({"opinion": m["opinion"]} if m.get("opinion") else {}),
                        "declaration_signed": bool(m.get("declaration_signed")),
                    }
                )
        body["members"] = members
    if code == "quyet_dinh_dieu_chinh":
        body["approved"] = bool(body.get("approved"))
    if code == "de_nghi_dieu_chinh":
        body["changes"] = {k: v for k, v in (body.get("changes") or {}).items() if v not in (None, "")}
    if code == "nghiem_thu" and body.get("accepted_support_vnd") in (None, ""):
        body.pop("accepted_support_vnd", None)
    return body
