"""The work-order rule: critical below 7 days of RUL, high below 30, medium on an
anomaly, else none; never a second work order while one is open."""

from __future__ import annotations

import pytest

from analytics.planner import Priority, plan_work_order
from analytics.rul_types import RulEstimate, unknown
from graph.errors import ValidationError


def rul(hours: float) -> RulEstimate:
    return RulEstimate(hours, hours * 0.5, hours * 2, 0.8, "trend+fleet")


@pytest.mark.parametrize(
    ("hours", "anomalous", "priority", "opens"),
    [
        (100.0, False, Priority.CRITICAL, True),
        (167.9, True, Priority.CRITICAL, True),
        (168.0, False, Priority.HIGH, True),
        (719.0, False, Priority.HIGH, True),
        (720.0, True, Priority.MEDIUM, True),
        (720.0, False, Priority.LOW, False),
        (None, True, Priority.MEDIUM, True),
        (None, False, Priority.LOW, False),
    ],
)
def test_rule(hours: float | None, anomalous: bool, priority: Priority, opens: bool) -> None:
    r = rul(hours) if hours is not None else unknown("no_trend", "trend+fleet")
    d = plan_work_order(r, anomalous)
    assert d.priority is priority and d.open is opens and d.reason
    if priority in (Priority.CRITICAL, Priority.HIGH):
        assert d.due_in_hours == r.low
    if not opens:
        assert d.due_in_hours is None


def test_no_second_work_order_while_one_is_open() -> None:
    d = plan_work_order(rul(50.0), False, open_work_order=True)
    assert not d.open and d.priority is Priority.CRITICAL and "already open" in d.reason


def test_no_assessment_is_low_and_thresholds_are_checked() -> None:
    assert plan_work_order(None, False).priority is Priority.LOW
    with pytest.raises(ValidationError):
        plan_work_order(None, False, critical_h=100, high_h=50)
