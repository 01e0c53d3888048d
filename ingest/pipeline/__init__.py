"""The ingest pipeline: parse, validate against the graph's sensors, batch into the
readings store (with store-and-forward), keep the latest values, publish live."""

from ingest.pipeline.bus import LiveBus, Missed, Subscription
from ingest.pipeline.catalog import CachedCatalog, SensorCatalog, StaticCatalog
from ingest.pipeline.facade import IngestPipeline, IngestResult
from ingest.pipeline.httpparse import ParsedBody, parse_body, parse_item
from ingest.pipeline.latest import LatestCache
from ingest.pipeline.settings import PipelineSettings
from ingest.pipeline.spill import SpillLog
from ingest.pipeline.validate import ItemError, Validated, normalise_unit, validate
from ingest.pipeline.writer import BatchWriter, WriterStats

__all__ = [
    "BatchWriter",
    "CachedCatalog",
    "IngestPipeline",
    "IngestResult",
    "ItemError",
    "LatestCache",
    "LiveBus",
    "Missed",
    "ParsedBody",
    "PipelineSettings",
    "SensorCatalog",
    "SpillLog",
    "StaticCatalog",
    "Subscription",
    "Validated",
    "WriterStats",
    "normalise_unit",
    "parse_body",
    "parse_item",
    "validate",
]
