"""The readings store: the port, its columnar batch, and the adapters."""

from ingest.store.batch import ReadingBatch
from ingest.store.duckdb_store import DuckDBStore
from ingest.store.factory import open_store
from ingest.store.port import (
    Aggregate,
    EventRow,
    Fill,
    LatestValue,
    ReadingsStore,
    RejectedRow,
    Series,
    StoreSettings,
    Summary,
    bucket_grid,
    check_window,
)
from ingest.store.questdb_store import QuestDBStore
from ingest.store.shape import align, fill_grid

__all__ = [
    "Aggregate",
    "DuckDBStore",
    "EventRow",
    "Fill",
    "LatestValue",
    "QuestDBStore",
    "ReadingBatch",
    "ReadingsStore",
    "RejectedRow",
    "Series",
    "StoreSettings",
    "Summary",
    "align",
    "bucket_grid",
    "check_window",
    "fill_grid",
    "open_store",
]
