"""twinql analytics package: pure computation over numpy arrays and domain types."""

from analytics.alerts import (
    AlertEvaluator,
    AlertEvent,
    AlertRules,
    AlertStateStore,
    EventKind,
    Rule,
    RuleState,
    Severity,
    new_alert_id,
)

__all__ = [
    "AlertEvaluator",
    "AlertEvent",
    "AlertRules",
    "AlertStateStore",
    "EventKind",
    "Rule",
    "RuleState",
    "Severity",
    "new_alert_id",
]
