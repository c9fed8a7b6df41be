"""Sealed batches for the encoder tests: reports through a real Batcher, one batch; and random ones
(hypothesis) with every value and attribute type the encoders must keep exact."""

import asyncio
import math

from hypothesis import strategies as st

from receiver.batch import Batcher, SealedBatch
from receiver.config import BatchConfig
from receiver.signals import Attributes, AttrValue, MappedReport, MetricSeries, SeriesRegistry

LONG = "Device.X_VENDOR-COM_Ünïcødé.Ŝtats." + "Lóng" * 40  # > 127 bytes: multi-byte length varints
# Every attribute value type at its edges: the encoders must keep each exactly.
EXTREME_ATTRIBUTES: Attributes = (
    ("bool.false", False),
    ("bool.true", True),
    ("", ""),
    ("int.min", -(2**63)),
    ("int.max", 2**63 - 1),
    ("int.negative", -1),
    ("float.negative.zero", -0.0),
    ("float.nan", math.nan),
    ("float.inf", -math.inf),
    ("unicode", "Ωmega ✓ 𝄞"),
    (LONG, LONG * 3),
)
# (time_ns, value) at the edges of what a point can hold.
EXTREME_POINTS: tuple[tuple[int, int | float], ...] = (
    (2**63 - 1, -(2**63)),
    (1, 2**63 - 1),
    (2, -0.0),
    (3, math.nan),
    (4, math.inf),
    (5, -1),
    (6, 0.0),
    (7, 5e-324),
)


async def _seal(reports: list[MappedReport]) -> SealedBatch:
    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(max_points=10**9, max_age_s=60, max_pending_points=10**9), sealed.append)
    for report in reports:
        batcher.add(report)
    batcher.flush()
    return sealed[0]


def sealed_batch(reports: list[MappedReport]) -> SealedBatch:
    return asyncio.run(_seal(reports))


def _intern(registry: SeriesRegistry, series: MetricSeries) -> int:
    series_id = registry.intern(series)
    assert series_id is not None
    return series_id


_attr_values: st.SearchStrategy[AttrValue] = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, -1, 127, 128, -(2**63), 2**63 - 1]),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["", LONG]),
)
_attributes = st.dictionaries(st.text(max_size=8) | st.just(LONG), _attr_values, max_size=4).map(
    lambda d: tuple(sorted(d.items()))
)
_series_strategy = st.builds(
    MetricSeries,
    name=st.sampled_from(["a", "b", "Device.Cellular.Interface.{i}.RSRP", LONG]),
    unit=st.sampled_from(["", "By", "°C"]),
    kind=st.sampled_from(["gauge", "sum"]),
    monotonic=st.booleans(),
    attributes=_attributes,
    description=st.sampled_from(["", "desc", LONG]),
    temporality=st.sampled_from(["cumulative", "delta"]),
)
_values = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(2**63, 2**70),  # become doubles
    st.floats(),
    st.sampled_from([0, 0.0, -0.0, math.nan, 2**63 - 1, -(2**63)]),
)
_times = st.one_of(st.integers(0, 2**63 - 1), st.just(0))


@st.composite
def random_batches(draw: st.DrawFn) -> tuple[SeriesRegistry, SealedBatch]:
    registry = SeriesRegistry()
    ids = [_intern(registry, s) for s in draw(st.lists(_series_strategy, min_size=1, max_size=12))]
    resources = draw(st.lists(_attributes, min_size=1, max_size=4))
    reports = []
    for _ in range(draw(st.integers(1, 6))):
        report = MappedReport(resource=draw(st.sampled_from(resources)))
        for series_id, time_ns, value in draw(
            st.lists(st.tuples(st.sampled_from(ids), _times, _values), min_size=1, max_size=25)
        ):
            report.metrics.append(series_id, time_ns, value)
        reports.append(report)
    return registry, sealed_batch(reports)
