"""batch: accumulate mapped reports column-wise (pyarrow) and seal them by size or age."""

from ._batch import LOG_SCHEMA, METRIC_SCHEMA, SealedBatch, histogram_points, merge_batches
from ._batcher import Batcher, BatcherClosed, Overloaded

__all__ = [
    "LOG_SCHEMA",
    "METRIC_SCHEMA",
    "Batcher",
    "BatcherClosed",
    "Overloaded",
    "SealedBatch",
    "histogram_points",
    "merge_batches",
]
