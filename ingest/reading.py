"""The reading as it travels from a device or an HTTP client into the pipeline.

``RawReading`` is what connectors and HTTP parsers produce, before validation: the
pipeline checks it against the sensor registered in the graph and turns it into a
stored reading (or a rejected one with a reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = ["Quality", "RawReading"]


class Quality(StrEnum):
    GOOD = "good"
    SUSPECT = "suspect"
    BAD = "bad"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class RawReading:
    """One value as received. Nothing here is trusted yet.

    ``value`` is whatever arrived (number, string, None): validation decides.
    ``timestamp`` is the source timestamp when the device sent one, else None
    (the pipeline then uses ``received_at``).
    ``raw`` keeps the original payload text for dead letters.
    """

    sensor_id: str
    value: object
    timestamp: datetime | None = None
    asset_id: str | None = None
    unit: str | None = None
    quality: Quality | None = None
    metadata: dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    source: str = ""
    received_at: datetime | None = None
    raw: str | None = None
