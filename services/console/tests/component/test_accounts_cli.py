"""``python -m kc_console.accounts``: create, list, disable, unlock, the demo accounts; one-line errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path


def kc(var: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kc_console.accounts", "--var-dir", str(var), "--instance", "tinh-40", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ | {"PYTHONIOENCODING": "utf-8"},
    )


def test_an_administrator_manages_accounts_from_the_terminal(tmp_path: Path) -> None:
    made = kc(tmp_path, "create", "nguyen.van.a", "--name", "Nguyễn Văn A", "--role", "so_ct")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("nguyen.van.a / ") and made.stdout.rstrip().endswith("(so_ct, tinh-40)")
    assert "nguyen.van.a\tso_ct\thoạt động" in kc(tmp_path, "list").stdout
    assert kc(tmp_path, "disable", "nguyen.van.a").returncode == 0
    assert "vô hiệu" in kc(tmp_path, "list").stdout
    assert "Tạo tài khoản" in kc(tmp_path, "activity", "cli").stdout


def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    for args in (
        ("create", "x", "--role", "so_ct"),  # too short a name
        ("create", "ok.name", "--role", "cuc"),  # a national role on a province
        ("create", "ok.name", "--role", "khong_co"),
        ("disable", "khong.co"),
    ):
        result = kc(tmp_path, *args)
        assert result.returncode == 1, args
        assert result.stderr.startswith("lỗi / error: ") and result.stderr.count("\n") == 1, result.stderr
        assert "Traceback" not in result.stderr


def test_demo_accounts_one_per_role_passwords_kept_for_the_owner_only(tmp_path: Path) -> None:
    first = kc(tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    assert "so.nghean / " in first.stdout and "(so_ct, tinh-40)" in first.stdout
    assert "donvi.nghean / " in first.stdout and "(quan_tri, tinh-40)" in first.stdout
    path = tmp_path / "tinh-40" / "console-demo-accounts.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = kc(tmp_path, "demo")
    assert again.stdout == first.stdout  # same accounts and passwords on a second start
    assert len(json.loads(path.read_text("utf-8"))) == 10  # three council members (hoi_dong) sign in as themselves
