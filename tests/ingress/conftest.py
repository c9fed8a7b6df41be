from collections.abc import Iterator
from pathlib import Path

import pytest

from receiver.devstack import Broker, run_mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A real Mosquitto on a free loopback port, for this test only."""
    with run_mosquitto(tmp_path / "broker") as running:
        yield running
