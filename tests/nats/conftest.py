"""Fixtures of the deploy/nats tests: real nats-server processes started from the committed configurations."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kc_ops import natsconfig
from kc_ops.natsconfig import NatsDeployment

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def single_bus(tmp_path: Path) -> Iterator[NatsDeployment]:
    """``deploy/nats/single.conf``."""
    with natsconfig.single(tmp_path / "nats") as bus:
        yield bus


@pytest.fixture
def cluster_bus(tmp_path: Path) -> Iterator[NatsDeployment]:
    """``deploy/nats/cluster/n1.conf`` … ``n3.conf``."""
    with natsconfig.cluster(tmp_path / "nats") as bus:
        yield bus


@pytest.fixture
def hub_leaf(tmp_path: Path) -> Iterator[NatsDeployment]:
    """``deploy/nats/leaf/hub.conf`` and ``leaf/tinh-40.conf`` joined to it."""
    with natsconfig.hub_and_leaf(tmp_path / "nats") as bus:
        yield bus
