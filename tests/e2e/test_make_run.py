"""`make run` as a person uses it: everything ready, a command flows across services, Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from kc_runtime.keys import key_file, load_signer
from kc_runtime.web.auth import issue_token

ROOT = Path(__file__).resolve().parents[2]


def start(var_dir: Path) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kc_ops.supervisor",
            "deploy/local/processes.toml",
            "--var-dir",
            str(var_dir),
            "--auto-ports",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
        start_new_session=True,  # its own process group, like a job in a terminal
    )
    lines: list[str] = []
    deadline = time.monotonic() + 90
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("Ctrl-C to stop."):
            return proc, lines
    proc.kill()
    raise AssertionError("make run did not become ready:\n" + "\n".join(lines))


def stop(proc: subprocess.Popen[str]) -> str:
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out


def urls(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        m = re.match(r"\s+(\w+)\s+(http://127\.0\.0\.1:\d+|nats://127\.0\.0\.1:\d+)", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def pids(lines: list[str]) -> list[int]:
    return [int(p) for p in re.findall(r"pid (\d+)", "\n".join(lines))]


def nats_connections(var: Path) -> list[dict[str, object]]:
    """The client connections of make run's nats-server, from its monitoring endpoint (/connz with the
    users they authenticated as); the server found by the configuration make run wrote under ``var``."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
            if not (argv and argv[0].endswith(b"nats-server") and any(str(var).encode() in a for a in argv)):
                continue
            environ = dict(
                item.split("=", 1) for item in (cmdline.parent / "environ").read_text().split("\0") if "=" in item
            )
        except OSError:
            continue
        port = environ["KC_NATS_HTTP_PORT"]
        connz = httpx.get(f"http://127.0.0.1:{port}/connz", params={"auth": "true", "limit": 1000}, timeout=5)
        return list(connz.json().get("connections") or [])
    raise AssertionError(f"no nats-server of {var} running")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def wait_for(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def officer(var: Path) -> str:
    """A Sở officer's token, signed with the instance key ``make run`` created under var/keys."""
    signer = load_signer(key_file(var / "keys", "tinh-40"), "tinh-40")
    return f"Bearer {issue_token(signer, sub='can-bo.so', role='so_ct')}"


def auditor(var: Path) -> str:
    """The province's auditor's token (``/metrics`` needs ``verify``), as Prometheus would send it."""
    signer = load_signer(key_file(var / "keys", "tinh-40"), "tinh-40")
    return f"Bearer {issue_token(signer, sub='prometheus', role='kiem_toan_tinh')}"


def test_make_run_serves_all_services_carries_a_command_across_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    proc, lines = start(tmp_path / "var")
    try:
        found = urls(lines)
        assert set(found) == {"NATS", "registry", "appraisal", "planning", "notifications"}
        assert found["NATS"].startswith("nats://127.0.0.1:")
        # the bus has accounts: the integrator's connection is printed, each service logs in as its instance
        (integrator,) = [line for line in lines if line.startswith("integrator ")]
        assert re.search(r"nats://integrator:[^@\s]+@127\.0\.0\.1:\d+", integrator), integrator
        # as the server sees them: every client connection of the running services is the instance's user
        # (the services are forked from the supervisor: /proc/<pid>/environ shows the supervisor's start)
        connections = nats_connections(tmp_path / "var")
        assert len(connections) >= 4, connections
        # the bus's monitoring port, printed in the banner, answers on loopback
        (monitor,) = [line for line in lines if line.strip().startswith("NATS monitor")]
        monitoring = re.search(r"http://127\.0\.0\.1:\d+", monitor)
        assert monitoring, monitor
        assert httpx.get(f"{monitoring.group(0)}/varz", timeout=5).json()["server_name"] == "kc-single"
        assert {c.get("authorized_user") for c in connections} == {"tinh-40"}, connections
        with httpx.Client(timeout=10) as http:
            for name in ("registry", "appraisal", "planning", "notifications"):
                assert http.get(f"{found[name]}/healthz").json() == {"status": "ok"}
                spec = http.get(f"{found[name]}/openapi.json")
                assert spec.status_code == 200 and spec.json()["info"]["title"] == f"khuyencong {name}"
                ready = http.get(f"{found[name]}/readyz")
                assert ready.status_code == 200 and ready.json()["ready"] is True
                # /metrics: the auditor's token (kiem_toan_tinh), the Prometheus text format
                metrics = http.get(f"{found[name]}/metrics", headers={"Authorization": auditor(tmp_path / "var")})
                assert metrics.status_code == 200 and f'service="{name}"' in metrics.text, metrics.text[:300]

            anonymous = http.post(f"{found['registry']}/establishments", json={})
            assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"
            http.headers["Authorization"] = officer(tmp_path / "var")
            created = http.post(
                f"{found['registry']}/establishments",
                json={
                    "name": "Hợp tác xã mây tre đan Đồng Thành",
                    "tax_code": "0100109106",
                    "commune_code": "17419",
                    "legal_form": "hop_tac_xa",
                    "sectors": ["thu_cong_my_nghe"],
                },
            )
            assert created.status_code == 201, created.text
            view = f"{found['planning']}/views/establishments"
            wait_for(
                lambda: http.get(view).json() == [{"province_code": "40", "commune_code": "17419", "establishments": 1}]
            )

            bad = http.post(f"{found['registry']}/establishments", json={"name": "x", "tax_code": "123"})
            assert bad.status_code == 422
            assert bad.headers["content-type"] == "application/problem+json"
            assert {e["field"] for e in bad.json()["errors"]} == {"commune_code", "legal_form"}
    finally:
        out = stop(proc)
    assert "stopped." in out
    children = pids(lines)
    assert len(children) == 4
    wait_for(lambda: not any(alive(p) for p in children), timeout=10)
    logs = tmp_path / "var" / "logs"
    # the services stopped before NATS: none saw its connection break
    for log in logs.glob("tinh-40-*.log"):
        assert "Connection broken" not in log.read_text(), log.name
    assert 'Trapped "interrupt"' not in (logs / "nats-server.log").read_text()

    # running it again resumes on the same data; a second run on the same data is refused
    proc, lines = start(tmp_path / "var")
    try:
        found = urls(lines)
        with httpx.Client(timeout=10, headers={"Authorization": officer(tmp_path / "var")}) as http:
            rows = http.get(f"{found['planning']}/views/establishments").json()
            assert rows == [{"province_code": "40", "commune_code": "17419", "establishments": 1}]
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "kc_ops.supervisor",
                "deploy/local/processes.toml",
                "--var-dir",
                str(tmp_path / "var"),
                "--auto-ports",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 1
        assert "đang chạy / already running" in second.stderr
    finally:
        stop(proc)


def test_killing_the_supervisor_leaves_no_orphan(tmp_path: Path) -> None:
    proc, lines = start(tmp_path / "var")
    children = pids(lines)
    var = str(tmp_path / "var").encode()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)

    def nats_alive() -> bool:
        for status in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                cmd = status.read_bytes().split(b"\0")
            except OSError:
                continue
            # started with the configuration make run wrote under its var dir
            if cmd and cmd[0].endswith(b"nats-server") and any(var in arg for arg in cmd):
                return True
        return False

    wait_for(lambda: not any(alive(p) for p in children) and not nats_alive(), timeout=15)
