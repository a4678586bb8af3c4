"""kc: a person's errors are one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from kc_cli.main import app
from typer.testing import CliRunner


def test_no_running_system_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plan", "show", "2024", "--run-file", str(tmp_path / "run.json")])
    assert result.exit_code == 1
    assert result.output.strip().startswith("lỗi / error: không đọc được")
    assert "Traceback" not in result.output


def test_an_unknown_service_names_the_ones_there_are(tmp_path: Path) -> None:
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"nats": "nats://x", "services": {"tinh-40/planning": "http://127.0.0.1:9"}}))
    result = CliRunner().invoke(app, ["plan", "show", "2024", "--run-file", str(run)])
    assert result.exit_code == 1
    assert "không có dịch vụ bo/planning; có: tinh-40/planning" in result.output
