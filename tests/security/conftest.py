"""Fixtures of tests/security. The bus-side attacks start ``make run``'s supervisor (``bus_system.py``);
modules that need none of it stay self-contained."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bus_system import RunningSystem


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[Callable[[dict[str, list[str]]], RunningSystem]]:
    """``make_run({"tinh-40": ["registry"], "bo": []})``: started (bus, streams, keys, those services)."""
    started: list[RunningSystem] = []

    def start(services: dict[str, list[str]]) -> RunningSystem:
        system = RunningSystem(tmp_path / f"var{len(started)}", services)
        started.append(system)
        return system.start()

    yield start
    for system in started:
        system.stop()
