"""What the job runner's workers execute: thin calls into ``sim`` with a progress hook.

Top-level functions only (the pool pickles them by reference); no I/O here.
"""

from __future__ import annotations

from typing import Any

from sim import (
    BottleneckResult,
    CalibrationResult,
    LineConfig,
    LineResult,
    Progress,
    Scenario,
    ScenarioResult,
    calibrate,
    find_bottleneck,
    run_scenario,
    simulate_line,
)

__all__ = ["work_bottleneck", "work_calibrate", "work_scenario"]


def work_scenario(hook: Progress, scenario: Scenario) -> ScenarioResult:
    return run_scenario(scenario, progress=hook)


def work_calibrate(hook: Progress, kwargs: dict[str, Any]) -> CalibrationResult:
    return calibrate(progress=hook, **kwargs)


def work_bottleneck(
    hook: Progress,
    config: LineConfig,
    hours: float,
    seed: int,
    replications: int,
    warmup_hours: float = 0.0,
) -> tuple[BottleneckResult, LineResult]:
    found = find_bottleneck(
        config,
        hours,
        seed,
        replications=replications,
        warmup_hours=warmup_hours,
        progress=lambda f: hook(0.95 * f),
    )
    baseline = simulate_line(config, hours, seed, warmup_hours=warmup_hours)
    hook(1.0)
    return found, baseline
