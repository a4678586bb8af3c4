"""Fixtures of the reliability suite; the machinery itself is in ``reliability_harness.py``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from reliability_harness import System


@pytest.fixture
def system(tmp_path: Path) -> Iterator[Callable[..., System]]:
    """``system(instances, peers=..., env=...)``: built, not started; stopped at teardown."""
    made: list[System] = []

    def make(instances: dict[str, list[str]], **kwargs: Any) -> System:
        s = System(tmp_path / f"system{len(made)}", instances, **kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


# What each scenario verified (its seed, the faults, the counts) is printed by the scenario; pytest keeps
# a passing test's output to itself, so it is repeated at the end of the run of the reliability suite.
_verified: list[tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed and "reliability" in report.keywords and report.capstdout:
        _verified.append((report.nodeid, report.capstdout))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _verified:
        return
    terminalreporter.section("reliability: what each scenario verified")
    for nodeid, out in _verified:
        terminalreporter.write_line(nodeid, bold=True)
        for line in out.strip().splitlines():
            terminalreporter.write_line(f"  {line}")
