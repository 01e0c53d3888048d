"""Domain types of health results stored in the graph: assessments and anomaly models.

``HealthAssessment`` is one health figure set of an asset computed from data up to
``as_of``: a health index (1 = as new, 0 = at a failure limit), an anomaly score in
[0, 1] with per-sensor contributions, and a remaining useful life in hours with an
interval at a stated confidence; each with the method and the data window behind it.
Where the RUL cannot be computed, ``rul_hours`` is None and ``unknown_reason`` says why.
``AnomalyModel`` records a trained anomaly detector: its version (1, 2, ... per asset),
training window, metrics and the artifact's path relative to the data directory.

Frozen, slotted, validated in ``__post_init__``; no I/O (the Bolt adapter persists them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

from graph.errors import ValidationError
from graph.model import check_id

__all__ = ["AnomalyModel", "HealthAssessment"]


def _aware(value: object, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationError(f"{what} must be a timezone-aware datetime")


def _number(value: float | None, what: str, lo: float | None = None, hi: float | None = None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"{what} must be a finite number, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValidationError(f"{what} must be within [{lo}, {hi}], got {value}")


@dataclass(frozen=True, slots=True)
class HealthAssessment:
    id: str
    asset_id: str
    at: datetime  # when it was computed
    as_of: datetime  # the data it used ends here
    method: str
    health_index: float | None = None
    anomaly_score: float | None = None
    rul_hours: float | None = None
    rul_low: float | None = None
    rul_high: float | None = None
    confidence: float | None = None  # of [rul_low, rul_high], in (0, 1)
    window_from: datetime | None = None
    window_to: datetime | None = None
    unknown_reason: str | None = None
    contributions: dict[str, float] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        check_id(self.id, "assessment id")
        check_id(self.asset_id, "asset id")
        _aware(self.at, "assessment 'at'")
        _aware(self.as_of, "assessment asOf")
        _aware(self.window_from, "assessment windowFrom", optional=True)
        _aware(self.window_to, "assessment windowTo", optional=True)
        if not isinstance(self.method, str) or not self.method.strip() or len(self.method) > 256:
            raise ValidationError("assessment method must be a non-empty string (<= 256 chars)")
        _number(self.health_index, "healthIndex", 0.0, 1.0)
        _number(self.anomaly_score, "anomalyScore", 0.0, 1.0)
        _number(self.rul_hours, "rulHours", 0.0)
        _number(self.rul_low, "rulLow", 0.0)
        _number(self.rul_high, "rulHigh", 0.0)
        _number(self.confidence, "confidence", 0.0, 1.0)
        if self.rul_hours is None:
            if self.rul_low is not None or self.rul_high is not None:
                raise ValidationError("an RUL interval needs rulHours")
            if not self.unknown_reason:
                raise ValidationError("an assessment without rulHours needs an unknownReason")
        elif self.rul_low is not None and self.rul_high is not None:
            if not self.rul_low <= self.rul_hours <= self.rul_high:
                raise ValidationError(
                    f"rulHours {self.rul_hours} must lie in [rulLow, rulHigh] = "
                    f"[{self.rul_low}, {self.rul_high}]"
                )
        if self.confidence is not None and (self.rul_low is None or self.rul_high is None):
            raise ValidationError("confidence is that of the RUL interval: give rulLow and rulHigh")
        if self.unknown_reason is not None and len(self.unknown_reason) > 1000:
            raise ValidationError("unknownReason is at most 1000 characters")
        if self.window_from and self.window_to and self.window_from > self.window_to:
            raise ValidationError("windowFrom is after windowTo")
        if self.window_to and self.window_to > self.as_of:
            raise ValidationError("windowTo is after asOf: an assessment uses data up to asOf")
        for key, value in self.contributions.items():
            if not isinstance(key, str) or not key:
                raise ValidationError("contributions are keyed by sensor id")
            _number(value, f"contribution of {key}")


@dataclass(frozen=True, slots=True)
class AnomalyModel:
    id: str
    asset_id: str
    version: int
    trained_from: datetime
    trained_to: datetime
    created_at: datetime
    artifact: str  # relative to the data directory, '/'-separated
    metrics: dict[str, object] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        check_id(self.id, "anomaly model id")
        check_id(self.asset_id, "asset id")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ValidationError("anomaly model version must be a whole number >= 1")
        _aware(self.trained_from, "trainedFrom")
        _aware(self.trained_to, "trainedTo")
        _aware(self.created_at, "createdAt")
        if self.trained_from >= self.trained_to:
            raise ValidationError("trainedFrom must be before trainedTo")
        path = PurePosixPath(self.artifact) if isinstance(self.artifact, str) else None
        if (
            path is None
            or not self.artifact
            or path.is_absolute()
            or ".." in path.parts
            or "\\" in self.artifact
        ):
            raise ValidationError(
                f"anomaly model artifact must be a relative '/'-separated path inside the "
                f"data directory, got {self.artifact!r}"
            )
