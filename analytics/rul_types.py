"""The remaining-useful-life result shared by the trend, fleet and combined estimators.

``RulEstimate`` is either known (``hours`` with ``low`` <= ``hours`` <= ``high``, the
interval meant to hold the true RUL with probability ``confidence``) or unknown
(``hours`` None and ``reason`` one of ``REASONS``). Hours count from ``as_of_h``, the
end of the data the estimate saw; ``window_start_us``/``window_end_us`` name that data
where the caller gave timestamps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from graph.errors import ValidationError

__all__ = ["REASONS", "RulEstimate", "unknown"]

REASONS = (
    "too_little_history",  # fewer points (or less time) than a trend or a match needs
    "no_trend",  # the indicator moves, but no significant trend towards the limit
    "not_degrading",  # the trend points away from the failure limit
    "no_failure_limit",  # no sensor of the asset has a failure limit
    "no_fleet_history",  # no failures of the asset's type are recorded
)


@dataclass(frozen=True, slots=True)
class RulEstimate:
    hours: float | None
    low: float | None
    high: float | None
    confidence: float
    method: str
    reason: str | None = None
    window_start_us: int | None = None
    window_end_us: int | None = None

    def __post_init__(self) -> None:
        if self.hours is None:
            if self.reason not in REASONS:
                raise ValidationError(f"an unknown RUL needs a reason among {REASONS}")
            return
        lo, hi = self.low, self.high
        if lo is None or hi is None or not (0 <= lo <= self.hours <= hi):
            raise ValidationError(f"RUL interval must hold 0 <= low <= hours <= high: {self}")
        if not (math.isfinite(hi) and 0 < self.confidence < 1):
            raise ValidationError("RUL interval must be finite and confidence in (0, 1)")

    @property
    def known(self) -> bool:
        return self.hours is not None

    def with_window(self, start_us: int | None, end_us: int | None) -> RulEstimate:
        return replace(self, window_start_us=start_us, window_end_us=end_us)


def unknown(reason: str, method: str, confidence: float = 0.8) -> RulEstimate:
    return RulEstimate(None, None, None, confidence, method, reason)
