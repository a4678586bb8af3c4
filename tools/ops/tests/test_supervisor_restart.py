"""The supervisor starts a crashed service again with backoff and says so; one that keeps crashing is given up.

Real processes: a registry on a real nats-server (make run's bus) SIGKILLed and brought back; a service whose
module cannot even start given up after ``max_crashes`` within the window, the others left running."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from kc_ops.supervisor import RestartPolicy, Supervisor, _ready


def config(services: list[str], **restart: Any) -> dict[str, Any]:
    return {
        "nats": {"store": "nats"},
        "restart": restart,
        "instance": [{"id": "tinh-40", "services": services, "port_offset": 0}],
        "service": [
            {"name": "registry", "module": "kc_registry.main"},
            {"name": "broken", "module": "kc_ops.no_such_module_here"},  # python -m exits 1 at once
        ],
    }


def supervise_until(supervisor: Supervisor, done: Any, timeout: float = 60.0) -> bool:
    """Run the supervisor's watch as ``main`` does until ``done()``; what ``supervise`` last answered."""
    deadline = time.monotonic() + timeout
    going = True
    while time.monotonic() < deadline:
        going = supervisor.supervise()
        if done():
            return going
        time.sleep(0.1)
    raise AssertionError(f"not done within {timeout}s")


def metric(var: Path, name: str, service: str) -> float:
    for line in (var / "supervisor.prom").read_text().splitlines():
        if line.startswith(name + "{") and f'service="{service}"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} for {service} not in supervisor.prom")


def test_backoff_doubles_up_to_its_ceiling() -> None:
    policy = RestartPolicy(backoff_s=1, max_backoff_s=30)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 4, 8, 16, 30, 30]
    assert RestartPolicy.of({"restart": {"max_crashes": "3", "window_s": 10}}).max_crashes == 3


def test_a_service_killed_by_sigkill_is_started_again_and_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    var = tmp_path / "var"
    supervisor = Supervisor(config(["registry"], backoff_s=0.5), var, auto_ports=True)
    try:
        supervisor.start()
        supervisor.wait_ready()
        registry = supervisor.services[0]
        assert registry.process is not None
        first = registry.process.pid
        os.kill(first, signal.SIGKILL)

        def back() -> bool:
            return bool(registry.process and registry.process.pid != first and _ready(registry.url))

        assert supervise_until(supervisor, back) is True
        err = capsys.readouterr().err
        assert "tinh-40/registry dừng bất thường (tín hiệu SIGKILL / signal SIGKILL)" in err, err
        assert "khởi động lại sau 0.5 s (lần 1/5 trong 60 s)" in err
        assert "tinh-40/registry đã khởi động lại / restarted" in err
        assert metric(var, "kc_supervisor_restarts_total", "registry") == 1
        assert metric(var, "kc_supervisor_given_up", "registry") == 0
        # the bus too: nats-server killed is started again on its port and store
        nats = next(iter(supervisor.nats.nodes.values()))
        assert nats.process is not None
        nats.process.send_signal(signal.SIGKILL)
        nats.process.wait()
        assert supervise_until(supervisor, lambda: supervisor.nats_restarts == 1 and nats.healthy()) is True
        assert "nats-server đã khởi động lại / restarted" in capsys.readouterr().err
        assert metric(var, "kc_supervisor_restarts_total", "nats-server") == 1
    finally:
        supervisor.stop()


def test_a_service_that_keeps_crashing_is_given_up_and_the_others_go_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    var = tmp_path / "var"
    supervisor = Supervisor(
        config(["registry", "broken"], backoff_s=0.1, max_crashes=3, window_s=60), var, auto_ports=True
    )
    broken = supervisor.services[1]
    try:
        supervisor.start()
        assert supervise_until(supervisor, lambda: broken.given_up) is True  # the registry still runs
        err = capsys.readouterr().err
        assert err.count("tinh-40/broken dừng bất thường (mã thoát 1 / exit code 1)") == 2, err
        assert (
            "lỗi / error: tinh-40/broken dừng 3 lần trong 60 s, không khởi động lại nữa / crashed 3 times within 60 s,"
            " given up" in err
        )
        assert metric(var, "kc_supervisor_restarts_total", "broken") == 2
        assert metric(var, "kc_supervisor_given_up", "broken") == 1
        registry = supervisor.services[0]
        assert registry.process is not None and registry.process.poll() is None and not registry.given_up
        # no more starts once given up
        time.sleep(0.5)
        assert supervisor.supervise() is True and broken.restarts == 2
        # everything given up: the run ends
        registry.process.send_signal(signal.SIGKILL)
        registry.process.wait()
        supervisor.restart_policy = RestartPolicy(backoff_s=0.1, max_crashes=1)
        assert supervise_until(supervisor, lambda: registry.given_up) is False
    finally:
        supervisor.stop()
