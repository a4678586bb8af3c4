"""`make run` as documented: the ministry and two provinces, the demo scenario, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from kc_runtime.keys import key_file, load_signer
from kc_runtime.web.auth import issue_token

ROOT = Path(__file__).resolve().parents[2]


# the start waits up to 240 s for the banner (eleven services and the seed on a loaded machine): pytest's
# default 120 s must not cut it first
@pytest.mark.timeout(360)
def test_the_system_starts_loads_the_seed_scenario_and_stops_cleanly(tmp_path: Path) -> None:
    var = tmp_path / "var"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kc_ops.supervisor",
            "deploy/local/system.toml",
            "--var-dir",
            str(var),
            "--auto-ports",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1", "DEMO": "1"},
    )
    lines: list[str] = []
    deadline = time.monotonic() + 240
    assert proc.stdout is not None
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("Ctrl-C to stop."):
                break
        output = "\n".join(lines)
        assert "Ctrl-C to stop." in output, output
        assert "national 2024: 2 đề án from Nghệ An and Hải Phòng approved by 3208/QĐ-BCT" in output
        urls = json.loads((var / "run.json").read_text())["services"]
        assert len(urls) == 14  # 11 services and a console per instance
        auditor = issue_token(load_signer(key_file(var / "keys", "bo"), "bo"), sub="kiem-toan", role="kiem_toan")
        officer = issue_token(load_signer(key_file(var / "keys", "tinh-40"), "tinh-40"), sub="so", role="so_ct")
        with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {auditor}"}) as http:
            plan = http.get(f"{urls['bo/planning']}/plans/quoc_gia/2024").json()
            assert plan["approved_total_vnd"] == 580_000_000 and len(plan["batches"]) == 1
            casting = http.get(f"{urls['tinh-31/appraisal']}/de-an", params={"status": "da_dong"}).json()
            assert [d["code"] for d in casting["items"]] == ["KCĐP-31-2023-04"]
            # the demo's data: the Hải Phòng casting model supports a Hải Phòng establishment of Hải Phòng's
            # registry, and no two establishments of the demo share a tax code
            so = {}
            for inst in ("tinh-40", "tinh-31"):
                token = issue_token(load_signer(key_file(var / "keys", inst), inst), sub="so", role="so_ct")
                so[inst] = {"Authorization": f"Bearer {token}"}
            model = http.get(
                f"{urls['tinh-31/appraisal']}/de-an/{casting['items'][0]['de_an_id']}", headers=so["tinh-31"]
            )
            [beneficiary] = model.json()["details"]["beneficiary_ids"]
            company = http.get(f"{urls['tinh-31/registry']}/establishments/{beneficiary}", headers=so["tinh-31"])
            assert (company.json()["details"]["name"], company.json()["details"]["province_code"]) == (
                "Công ty TNHH Cơ khí Đúc Thành Phương",
                "31",
            ), company.text
            tax_codes = [
                e["tax_code"]
                for inst in ("tinh-40", "tinh-31")
                for e in http.get(
                    f"{urls[inst + '/registry']}/establishments", params={"limit": 500}, headers=so[inst]
                ).json()["items"]
            ]
            assert len(tax_codes) == 3 and len(set(tax_codes)) == len(tax_codes), tax_codes
            # the national auditor reads every province, but not the Sở's mailbox
            assert http.get(f"{urls['tinh-40/notifications']}/mail").status_code == 403
            mail = http.get(
                f"{urls['tinh-40/notifications']}/mail", headers={"Authorization": f"Bearer {officer}"}
            ).json()
            assert any("được phê duyệt trong kế hoạch" in m["subject"] for m in mail)
        # a person follows it from the terminal
        kc = str(Path(sys.executable).parent / "kc")
        shown = subprocess.run(
            [kc, "plan", "show", "2024", "--run-file", str(var / "run.json")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=os.environ | {"COLUMNS": "200"},
        )
        assert shown.returncode == 0, shown.stderr
        assert "KCQG-2024-31-01" in shown.stdout and "Tổng phê duyệt: 580.000.000 đồng" in shown.stdout
        assert "Kế hoạch khuyến công quốc gia năm 2024 (Bộ Công Thương)" in shown.stdout
        assert "Thành phố Hải Phòng" in shown.stdout and "quoc_gia" not in shown.stdout
        listed = subprocess.run(
            [kc, "de-an", "list", "tinh-31", "--status", "da_dong", "--run-file", str(var / "run.json")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=os.environ | {"COLUMNS": "200"},
        )
        assert "KCĐP-31-2023-04" in listed.stdout
        assert "Đã đóng" in listed.stdout and "da_dong" not in listed.stdout  # labels, not codes
        national = subprocess.run(
            [kc, "national", "2024", "--run-file", str(var / "run.json")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=os.environ | {"COLUMNS": "200"},
        )
        assert national.returncode == 0 and "Toàn quốc năm 2024" in national.stdout
        assert "Tỉnh Nghệ An" in national.stdout and "Thành phố Hải Phòng" in national.stdout

        # an auditor: the province's log verifies, the ministry's view equals its rebuild, a timeline
        def audit(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [kc, "audit", *args, "--run-file", str(var / "run.json")],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                env=os.environ | {"COLUMNS": "200"},
            )

        verified = audit("verify", "--instance", "tinh-31")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "verified" in verified.stdout and "lỗi / failures             │ 0" in verified.stdout
        rebuilt = audit("rebuild", "--instance", "bo")
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        assert "bằng nhau / equal" in rebuilt.stdout
        closed_id = casting["items"][0]["de_an_id"]
        timeline = audit("timeline", closed_id, "--instance", "tinh-31")
        assert timeline.returncode == 0, timeline.stdout + timeline.stderr
        assert "Quyết toán" in timeline.stdout and "Đóng đề án" in timeline.stdout
        assert "Settled" not in timeline.stdout and "Closed" not in timeline.stdout
        # the README's integrator example, run as written with the integrator's connection make run printed
        (integrator,) = [line for line in lines if line.startswith("integrator ")]
        nats_url = integrator.split()[1]
        example = subprocess.run(
            [sys.executable, "docs/integrator_example.py", nats_url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert example.returncode == 0, example.stderr
        assert example.stdout.splitlines()[0] == "3208/QĐ-BCT (2023-12-28), đợt 1, năm 2024:"
        assert "  KCQG-2024-40-01  tỉnh 40  280.000.000 đồng" in example.stdout
        assert "  KCQG-2024-31-01  tỉnh 31  300.000.000 đồng" in example.stdout
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out
    assert "stopped." in out
