"""The alert rules' value types: rules and their tuning, events, rule states and the
store that keeps them between batches (re-exported by ``analytics.alerts``)."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from graph.errors import ValidationError

__all__ = [
    "AlertEvent",
    "AlertRules",
    "AlertStateStore",
    "EventKind",
    "Rule",
    "RuleState",
    "Severity",
    "new_alert_id",
]


class Rule(StrEnum):
    LIMIT = "limit"
    WARNING = "warning"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class EventKind(StrEnum):
    RAISED = "raised"
    CLEARED = "cleared"


def new_alert_id() -> str:
    return f"alert-{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class AlertRules:
    """Tuning of the rules (defaults suit a noisy industrial signal)."""

    warning_fraction: float | None = None  # opt-in band for sensors without levels
    hysteresis_fraction: float = 0.02
    min_readings: int = 3
    min_duration_s: float = 0.0
    critical_fraction: float = 0.1
    rules: tuple[Rule, ...] = (Rule.LIMIT, Rule.WARNING)

    def __post_init__(self) -> None:
        f = self.warning_fraction
        if f is not None and not 0.5 < f < 1.0:
            raise ValidationError("warning_fraction must be unset or lie in (0.5, 1)")
        if not 0.0 <= self.hysteresis_fraction < (0.5 if f is None else 1.0 - f):
            raise ValidationError(
                "hysteresis_fraction must lie in [0, 1 - warning_fraction) (0.5 when unset)"
            )
        if isinstance(self.min_readings, bool) or self.min_readings < 1:
            raise ValidationError("min_readings must be at least 1")
        if not (math.isfinite(self.min_duration_s) and self.min_duration_s >= 0):
            raise ValidationError("min_duration_s must be a finite number >= 0")
        if not self.critical_fraction >= 0:
            raise ValidationError("critical_fraction must be >= 0")
        object.__setattr__(self, "rules", tuple(Rule(r) for r in self.rules))


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A rule changed state for a sensor: ``raised`` (a new alert) or ``cleared``."""

    kind: EventKind
    alert_id: str
    rule: Rule
    sensor_id: str
    asset_id: str
    severity: Severity
    at_us: int
    value: float
    threshold: float
    message: str


@dataclass(slots=True)
class RuleState:
    """Where one (sensor, rule) stands: active or not, and the run towards a change."""

    active: bool = False
    run: int = 0
    run_start_us: int = 0
    alert_id: str | None = None
    severity: Severity = Severity.WARNING
    threshold: float = math.nan


@dataclass(slots=True)
class AlertStateStore:
    """Rule states by (sensor, rule), and the newest reading time seen per sensor."""

    states: dict[tuple[str, Rule], RuleState] = field(default_factory=dict)
    last_us: dict[str, int] = field(default_factory=dict)

    def get(self, sensor_id: str, rule: Rule) -> RuleState:
        return self.states.get((sensor_id, rule)) or RuleState()

    def put(self, sensor_id: str, rule: Rule, state: RuleState) -> None:
        if state.active or state.run:
            self.states[(sensor_id, rule)] = state
        else:
            self.states.pop((sensor_id, rule), None)

    def seed_active(
        self, sensor_id: str, rule: Rule, alert_id: str, severity: Severity, threshold: float
    ) -> None:
        """An alert already active (after a restart): the rule may clear it later."""
        self.states[(sensor_id, Rule(rule))] = RuleState(
            active=True, alert_id=alert_id, severity=Severity(severity), threshold=threshold
        )

    def active(self) -> list[tuple[str, Rule, RuleState]]:
        return [(s, r, st) for (s, r), st in self.states.items() if st.active]
