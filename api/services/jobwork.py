"""What the job runner's workers execute for the analytics jobs: anomaly training and
energy optimisation, thin calls into ``analytics`` with the runner's progress hook.

Top-level functions only (the pool pickles them by reference); no I/O here. The hook
raises ``sim.Cancelled`` once the job is cancelled, which ends the work at its next
report.
"""

from __future__ import annotations

import numpy as np

from analytics.anomaly import train_anomaly_model
from analytics.assessment import HealthConfig
from analytics.energy import EnergyProblem, EnergySchedule, optimize_energy
from analytics.features import series_features
from sim import Progress

__all__ = ["work_optimize", "work_train"]


def work_train(
    hook: Progress,
    series: list[tuple[np.ndarray, np.ndarray]],
    cfg: HealthConfig,
    origin_us: int,
    end_us: int,
    asset_id: str,
    ids: tuple[str, ...],
    seed: int,
) -> bytes:
    """Window features (the first half of the work), then the detector's fit; answers
    the fitted detector's artifact bytes (``analytics.anomaly.AnomalyModel.to_bytes``)."""
    f = series_features(series, window_s=cfg.window_s, step_s=cfg.step_s,
                        origin_us=origin_us, end_us=end_us)  # fmt: skip
    hook(0.5)
    detector = train_anomaly_model(f, asset_id=asset_id, sensor_ids=ids, seed=seed)
    hook(1.0)
    return detector.to_bytes()


def work_optimize(hook: Progress, problem: EnergyProblem) -> EnergySchedule:
    return optimize_energy(problem, progress=hook)
