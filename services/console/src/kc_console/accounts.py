"""Officer accounts from a terminal: ``python -m kc_console.accounts --instance tinh-40 <command>``.

    create USERNAME --name "Nguyễn Văn A" --role so_ct [--unit "…"] [--password …]  (else one is generated)
    disable USERNAME | enable USERNAME | unlock USERNAME | password USERNAME [--password …]
    list | activity [USERNAME] | roles | demo (one account per role, passwords under var/)

Errors are one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from kc_contracts.subjects import check_instance
from kc_kernel.vocabulary import format_datetime

from kc_console.roles import ADMIN, roles_for
from kc_console.store import AccountError, ConsoleStore, activity_label, generate_password

DEMO_FILE = "console-demo-accounts.json"
CLI = "cli"


def store_path(var_dir: Path, instance: str) -> Path:
    return var_dir / instance / "console.sqlite"


def province_slug(instance: str) -> tuple[str, str]:
    """(slug, name): ``tinh-40`` → (``nghean``, ``Nghệ An``); ``bo`` → (``bo``, ``Bộ Công Thương``)."""
    if instance == "bo":
        return "bo", "Bộ Công Thương"
    from kc_runtime.adminunits import load_catalogue

    code = instance.split("-", 1)[1]
    cat = load_catalogue()
    province = cat.current_province(code) or cat.legacy_province(code)
    name = province.name if province else f"tỉnh {code}"
    for prefix in ("Thành phố ", "Tỉnh "):
        name = name.removeprefix(prefix)
    plain = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    slug = re.sub(r"[^a-z0-9]", "", "".join(ch for ch in plain if not unicodedata.combining(ch)).lower())
    return slug, name


def demo_accounts(instance: str) -> list[dict[str, str]]:
    """One account per role of the instance (and two implementing units in a province)."""
    slug, name = province_slug(instance)
    people: list[tuple[str, str, str, str | None]]
    if instance == "bo":
        people = [
            ("cuc", "cuc", "Cán bộ Cục Công Thương địa phương", None),
            ("lanhdao", "lanh_dao_bo", "Lãnh đạo Bộ Công Thương", None),
            ("kiemtoan", "kiem_toan", "Kiểm toán viên Nhà nước", None),
            ("tichhop", "tich_hop", "Bên tích hợp dữ liệu", None),
            ("hoidong", "hoi_dong_bo", "Thành viên hội đồng thẩm định cấp Bộ", None),
            ("quantri", ADMIN, "Quản trị hệ thống Bộ", None),
        ]
    else:
        people = [
            ("so", "so_ct", f"Cán bộ Sở Công Thương {name}", None),
            ("ubnd", "ubnd_tinh", f"Lãnh đạo UBND tỉnh {name}", None),
            ("xa", "xa", f"Cán bộ UBND xã ({name})", None),
            ("hoidong", "hoi_dong", f"Chủ tịch hội đồng thẩm định {name}", None),
            ("hoidong2", "hoi_dong", f"Thư ký hội đồng thẩm định {name}", None),
            ("hoidong3", "hoi_dong", f"Ủy viên hội đồng thẩm định {name}", None),
            ("kiemtoan", "kiem_toan_tinh", f"Thanh tra tỉnh {name}", None),
            ("donvi", "don_vi", f"Cán bộ Trung tâm Khuyến công {name}", f"Trung tâm Khuyến công {name}"),
            ("donvi2", "don_vi", f"Cán bộ Hợp tác xã công nghiệp {name}", f"Hợp tác xã công nghiệp {name}"),
            ("quantri", ADMIN, f"Quản trị hệ thống {name}", None),
        ]
    return [
        {"username": f"{prefix}.{slug}", "role": role, "name": display, "unit": unit or ""}
        for prefix, role, display, unit in people
    ]


def ensure_demo_accounts(store: ConsoleStore, var_dir: Path) -> list[dict[str, str]]:
    """Create the demo accounts that do not exist yet; their passwords are kept in
    ``var/<instance>/console-demo-accounts.json`` (readable by the owner only) and returned."""
    path = var_dir / store.instance / DEMO_FILE
    known: dict[str, dict[str, str]] = {}
    if path.exists():
        known = {a["username"]: a for a in json.loads(path.read_text("utf-8"))}
    out = []
    for spec in demo_accounts(store.instance):
        entry = known.get(spec["username"])
        if store.account(spec["username"]) is None:
            password = generate_password()
            store.create_account(
                spec["username"],
                display_name=spec["name"],
                role=spec["role"],
                password=password,
                unit=spec["unit"] or None,
                by="make run (demo)",
            )
            entry = spec | {"password": password, "instance": store.instance}
        if entry is not None:
            out.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kc_console.accounts", description=__doc__)
    parser.add_argument("--instance", default=os.environ.get("KC_INSTANCE", "tinh-40"))
    parser.add_argument("--var-dir", type=Path, default=Path(os.environ.get("KC_VAR_DIR", "var")))
    parser.add_argument(
        "command", choices=["create", "disable", "enable", "unlock", "password", "list", "activity", "roles", "demo"]
    )
    parser.add_argument("username", nargs="?")
    parser.add_argument("--name", help="họ tên / display name")
    parser.add_argument("--role")
    parser.add_argument("--unit", help="đơn vị thực hiện (role don_vi)")
    parser.add_argument("--email")
    parser.add_argument("--password", help="default: a generated one, printed once")
    args = parser.parse_args(argv)
    try:
        instance = check_instance(args.instance)
    except ValueError as exc:
        print(f"lỗi / error: {exc}", file=sys.stderr)
        return 2
    if args.command == "roles":
        for name, label in roles_for(instance).items():
            print(f"{name}\t{label}")
        return 0
    store = ConsoleStore(store_path(args.var_dir, instance), instance=instance)
    try:
        return _run(store, args)
    except AccountError as exc:
        print(f"lỗi / error: {exc}" + (f" ({exc.field})" if exc.field else ""), file=sys.stderr)
        return 1
    finally:
        store.close()


def _run(store: ConsoleStore, args: argparse.Namespace) -> int:
    needs_name = {"create", "disable", "enable", "unlock", "password"}
    if args.command in needs_name and not args.username:
        raise AccountError(f"{args.command}: cần tên đăng nhập / a username is required", field="username")
    if args.command == "create":
        if not args.role:
            raise AccountError("create: cần --role / --role is required", field="role")
        password = args.password or generate_password()
        account = store.create_account(
            args.username,
            display_name=args.name or args.username,
            role=args.role,
            password=password,
            unit=args.unit,
            email=args.email,
            by=CLI,
        )
        print(f"{account.username} / {password} ({account.role}, {store.instance})")
    elif args.command in ("disable", "enable"):
        account = store.set_status(args.username, "disabled" if args.command == "disable" else "active", by=CLI)
        print(f"{account.username}: {'đã vô hiệu hóa' if account.status == 'disabled' else 'đang hoạt động'}")
    elif args.command == "unlock":
        store.unlock(args.username, by=CLI)
        print(f"{args.username}: đã mở khóa")
    elif args.command == "password":
        password = args.password or generate_password()
        store.set_password(args.username, password, by=CLI)
        print(f"{args.username} / {password}")
    elif args.command == "list":
        for a in store.accounts():
            state = (
                "khóa tạm"
                if a.locked()
                else {"active": "hoạt động", "disabled": "vô hiệu", "pending": "chờ duyệt"}[a.status]
            )
            print(f"{a.username}\t{a.role}\t{state}\t{a.display_name}" + (f"\t{a.unit}" if a.unit else ""))
    elif args.command == "activity":
        for row in store.activity(args.username):
            mark = "" if row["ok"] else " (không thành công)"
            when = format_datetime(datetime.fromtimestamp(row["at"], UTC))
            print(f"{when}\t{row['username']}\t{activity_label(row['action'])}{mark}\t{row['detail']}")
    elif args.command == "demo":
        for demo in ensure_demo_accounts(store, args.var_dir):
            print(f"{demo['username']} / {demo['password']} ({demo['role']}, {store.instance})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
