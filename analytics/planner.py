"""The work-order rule: from an asset's RUL and anomaly state to a work order, or none.

Contract: ``plan_work_order(rul, anomalous, open_work_order=) -> WorkOrderDecision``. Pure.

=============  ==========================================================  ===========
priority       when                                                        work order
=============  ==========================================================  ===========
``critical``   the RUL is known and below ``critical_h`` (7 days)           opened
``high``       the RUL is known and below ``high_h`` (30 days)              opened
``medium``     the asset is anomalous (and the RUL is not that short)      opened
``low``        otherwise                                                   none
=============  ==========================================================  ===========

The rule reads the RUL's point estimate (``hours``); an unknown RUL counts as not short.
No work order is opened when one is already open for the asset (``open_work_order``):
the decision says so and keeps the priority the rule found. ``due_in_hours`` is the
RUL's low bound for critical and high (when the work must be done by), the
``medium_due_h`` (7 days by default) for an anomaly, None otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from analytics.rul_types import RulEstimate
from graph.errors import ValidationError

__all__ = ["CRITICAL_H", "HIGH_H", "Priority", "WorkOrderDecision", "plan_work_order"]

CRITICAL_H = 7 * 24.0
HIGH_H = 30 * 24.0


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class WorkOrderDecision:
    open: bool
    priority: Priority
    reason: str
    due_in_hours: float | None


def _h(hours: float) -> str:
    return f"{hours:.1f} h" if hours < 10 else f"{hours:.0f} h"


def plan_work_order(
    rul: RulEstimate | None,
    anomalous: bool,
    *,
    open_work_order: bool = False,
    critical_h: float = CRITICAL_H,
    high_h: float = HIGH_H,
    medium_due_h: float = CRITICAL_H,
) -> WorkOrderDecision:
    if not 0 < critical_h <= high_h:
        raise ValidationError("thresholds must hold 0 < critical_h <= high_h")
    hours = rul.hours if rul is not None and rul.known else None
    due: float | None = None
    if hours is not None and hours < critical_h:
        prio, why = Priority.CRITICAL, f"RUL {_h(hours)} is below {_h(critical_h)}"
        due = rul.low if rul is not None else None
    elif hours is not None and hours < high_h:
        prio, why = Priority.HIGH, f"RUL {_h(hours)} is below {_h(high_h)}"
        due = rul.low if rul is not None else None
    elif anomalous:
        prio, why, due = Priority.MEDIUM, "anomalous behaviour", medium_due_h
    else:
        rest = "RUL unknown" if hours is None else f"RUL {_h(hours)}"
        return WorkOrderDecision(False, Priority.LOW, f"no anomaly, {rest}", None)
    if open_work_order:
        return WorkOrderDecision(False, prio, f"{why}; a work order is already open", due)
    return WorkOrderDecision(True, prio, why, due)
