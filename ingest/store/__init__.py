"""The readings store: the port, its columnar batch, and the adapters."""

from ingest.store.batch import ReadingBatch
from ingest.store.duckdb_store import DuckDBStore
from ingest.store.factory import open_store
from ingest.store.port import (
    Aggregate,
    BucketStats,
    EventRow,
    Fill,
    LatestValue,
    ReadingsStore,
    RejectedRow,
    Series,
    Span,
    StoreSettings,
    Summary,
    bucket_grid,
    bucket_stats_by_window,
    check_window,
    rejected_id,
)
from ingest.store.questdb_store import QuestDBStore
from ingest.store.shape import align, fill_grid

__all__ = [
    "Aggregate",
    "BucketStats",
    "DuckDBStore",
    "EventRow",
    "Fill",
    "LatestValue",
    "QuestDBStore",
    "ReadingBatch",
    "ReadingsStore",
    "RejectedRow",
    "Series",
    "Span",
    "StoreSettings",
    "Summary",
    "align",
    "bucket_grid",
    "bucket_stats_by_window",
    "check_window",
    "rejected_id",
    "fill_grid",
    "open_store",
]
