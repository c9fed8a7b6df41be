from collections.abc import Iterator
from pathlib import Path

import pytest

from ._stack import Collector, Receiver, run_collector, run_receiver


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    with run_collector(tmp_path_factory.mktemp("collector")) as running:
        yield running


@pytest.fixture(scope="session")
def receiver(collector: Collector, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    with run_receiver(tmp_path_factory.mktemp("receiver"), collector.otlp_endpoint) as running:
        yield running


@pytest.fixture
def serial(request: pytest.FixtureRequest) -> str:
    """A device serial unique to the test, so each test reads only its own rows from the shared sink."""
    return "SN-" + request.node.name.replace("[", "-").replace("]", "")[:60]


def sink_dir(collector: Collector) -> Path:
    return collector.sink_dir
