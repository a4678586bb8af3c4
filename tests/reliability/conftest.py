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
