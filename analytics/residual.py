"""Physics-residual anomaly detection: measured minus simulated, from the same inputs.

Contract: ``train_residual_model(sensor_ids, measured, simulated) -> ResidualModel`` on a
healthy period; ``assess_residual(model, measured, simulated) -> ResidualResult`` later.
``measured`` and ``simulated`` are ``(n_samples, n_sensors)`` arrays on the same instants
(the caller runs the ``sim`` model on the inputs that were measured). NaN rows of a
sensor are left out of that sensor. Pure.

Training keeps, per sensor, the residual's median and robust spread (1.4826 x the median
absolute deviation, floored at ``min_sigma``). An assessment takes the median residual
per sensor over the samples given and its **z-score** against that: ``(median - centre)
/ sigma``. The sensor's score is ``2 Phi(|z|) - 1`` (the share of a normal's mass closer
to the centre); the asset's is its largest sensor's, anomalous when the largest ``|z|``
reaches ``z_threshold`` (default 3). Contributions are the sensors' shares of ``z^2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from graph.errors import ValidationError

__all__ = ["ResidualModel", "ResidualResult", "assess_residual", "train_residual_model"]

_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True, slots=True)
class ResidualModel:
    sensor_ids: tuple[str, ...]
    centre: tuple[float, ...]
    sigma: tuple[float, ...]
    n_samples: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ResidualResult:
    score: float
    anomalous: bool
    z: tuple[tuple[str, float], ...]  # per sensor, in the model's order
    contributions: tuple[tuple[str, float], ...]  # (sensor id, share of z^2), largest first


def _pair(model_ids: int, measured: np.ndarray, simulated: np.ndarray) -> np.ndarray:
    m = np.asarray(measured, dtype=float)
    s = np.asarray(simulated, dtype=float)
    if m.ndim == 1:
        m, s = m[:, None], s[:, None] if s.ndim == 1 else s
    if m.shape != s.shape or m.ndim != 2 or m.shape[1] != model_ids:
        raise ValidationError(
            f"measured and simulated must both be (n_samples, {model_ids}); got {m.shape} "
            f"and {s.shape}"
        )
    return m - s


def train_residual_model(
    sensor_ids: tuple[str, ...],
    measured: np.ndarray,
    simulated: np.ndarray,
    *,
    min_sigma: float = 1e-9,
    min_samples: int = 10,
) -> ResidualModel:
    r = _pair(len(sensor_ids), measured, simulated)
    centre, sigma, count = [], [], []
    for k in range(r.shape[1]):
        col = r[:, k][np.isfinite(r[:, k])]
        if len(col) < min_samples:
            raise ValidationError(
                f"sensor {sensor_ids[k]!r}: {len(col)} finite residuals, need {min_samples}"
            )
        med = float(np.median(col))
        centre.append(med)
        sigma.append(max(_MAD_TO_SIGMA * float(np.median(np.abs(col - med))), min_sigma))
        count.append(len(col))
    return ResidualModel(tuple(sensor_ids), tuple(centre), tuple(sigma), tuple(count))


def assess_residual(
    model: ResidualModel,
    measured: np.ndarray,
    simulated: np.ndarray,
    *,
    z_threshold: float = 3.0,
) -> ResidualResult:
    r = _pair(len(model.sensor_ids), measured, simulated)
    with np.errstate(all="ignore"):
        med = np.array([np.nanmedian(r[:, k]) if np.isfinite(r[:, k]).any() else np.nan
                        for k in range(r.shape[1])])  # fmt: skip
    z = (med - np.array(model.centre)) / np.array(model.sigma)
    known = np.isfinite(z)
    if not known.any():
        raise ValidationError("no finite residual to assess")
    top = float(np.max(np.abs(z[known])))
    score = math.erf(top / math.sqrt(2.0))  # 2 Phi(|z|) - 1
    z2 = np.where(known, z * z, 0.0)
    shares = z2 / z2.sum() if z2.sum() > 0 else z2
    contrib = sorted(zip(model.sensor_ids, map(float, shares), strict=True), key=lambda p: -p[1])
    return ResidualResult(
        score=score,
        anomalous=top >= z_threshold,
        z=tuple(zip(model.sensor_ids, map(float, z), strict=True)),
        contributions=tuple(contrib),
    )
