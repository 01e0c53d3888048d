"""Calibration: fit chosen parameters of a model to an asset's recorded history.

Residuals are simulated minus measured, each output divided by the spread of its
measurements (so flow in m3/h and pressure in bar weigh alike), minimised with
``scipy.optimize.least_squares`` within the parameters' bounds. The Jacobian is taken by
forward differences in *one* vectorised run: the current guess and one perturbed copy
per fitted parameter go through ``rk4`` as a batch.

The caller stores ``CalibrationResult.parameters`` with the asset; ``std_errors`` (from
the Jacobian at the optimum) can feed a scenario's Monte Carlo.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from graph.errors import ValidationError
from sim.engine import DEFAULT_LIMITS, Limits, rk4
from sim.events import Progress
from sim.inputs import InputSchedule, InputSeries
from sim.registry import get_model

__all__ = ["CalibrationResult", "calibrate"]


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    model: str
    parameters: dict[str, float]  # every parameter: fixed, defaults and fitted
    fitted: dict[str, float]
    std_errors: dict[str, float]
    rmse: dict[str, float]
    r2: dict[str, float]
    cost: float
    success: bool
    message: str
    nfev: int


def _measured(
    model_outputs: tuple[str, ...],
    measured: Mapping[str, tuple[Sequence[float], Sequence[float]]],
) -> list[tuple[int, np.ndarray, np.ndarray, float]]:
    if not measured:
        raise ValidationError("calibration needs at least one measured output")
    series = []
    for name, (times, values) in measured.items():
        if name not in model_outputs:
            raise ValidationError(
                f"no output {name!r}; known: {', '.join(model_outputs)}", path=f"measured.{name}"
            )
        t = np.asarray(times, dtype=float)
        v = np.asarray(values, dtype=float)
        if t.ndim != 1 or t.shape != v.shape or t.size < 2:
            raise ValidationError(f"measured {name!r} needs matching times and values (>= 2)")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(v))):
            raise ValidationError(f"measured {name!r} holds non-finite times or values")
        if t.min() < 0:
            raise ValidationError(f"measured {name!r}: times are seconds from the start, >= 0")
        spread = float(np.std(v)) or max(abs(float(np.mean(v))), 1.0)
        series.append((model_outputs.index(name), t, v, spread))
    return series


def calibrate(
    model_name: str,
    *,
    fit: Mapping[str, tuple[float, float] | None],
    measured: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    inputs: Mapping[str, InputSeries | float] | None = None,
    initial_state: Mapping[str, float] | None = None,
    fixed_params: Mapping[str, float] | None = None,
    initial_guess: Mapping[str, float] | None = None,
    step_s: float = 0.1,
    max_nfev: int = 60,
    progress: Progress | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> CalibrationResult:
    """Fit the parameters named in ``fit`` (bounds, or None for the model's own bounds).

    ``measured`` maps output names to ``(times_s, values)`` from the run's start, where
    the plant was in ``initial_state`` and driven by ``inputs``.
    """
    model = get_model(model_name)
    if not fit:
        raise ValidationError("name at least one parameter to fit")
    base = model.param_vector(fixed_params)
    guess = model.param_vector({**(fixed_params or {}), **(initial_guess or {})})
    names = list(fit)
    cols = [model.index_of("parameter", n) for n in names]
    lo, hi = np.empty(len(cols)), np.empty(len(cols))
    for k, (name, col) in enumerate(zip(names, cols, strict=True)):
        spec_lo, spec_hi = model.parameters[col].bounds
        bounds = fit[name] or (spec_lo, spec_hi)
        lo[k], hi[k] = max(bounds[0], spec_lo), min(bounds[1], spec_hi)
        if not lo[k] < hi[k]:
            raise ValidationError(f"empty bounds for {name!r}: {bounds}", path=f"fit.{name}")
    theta0 = np.clip(guess[cols], lo, hi)
    series = _measured(model.output_names, measured)
    x0 = model.state_vector(initial_state)
    schedule = InputSchedule.build(model, inputs)
    horizon = max(float(t.max()) for _, t, _, _ in series)
    if horizon <= 0:
        raise ValidationError("measured history must span more than an instant")
    gaps = [float(np.min(np.diff(np.unique(t)))) for _, t, _, _ in series if np.unique(t).size > 1]
    record_every = max(1, int(min(gaps, default=step_s) // step_s))
    evaluations = 0

    def simulate(thetas: np.ndarray) -> np.ndarray:
        """Scaled residual vectors, one row per parameter vector in ``thetas``."""
        nonlocal evaluations
        p = np.repeat(base[None], thetas.shape[0], axis=0)
        p[:, cols] = thetas
        x = np.repeat(x0[None], thetas.shape[0], axis=0)
        traj = rk4(
            model,
            x,
            horizon_s=horizon,
            dt=step_s,
            inputs=schedule,
            params=p,
            record_every=record_every,
            limits=limits,
        )
        evaluations += 1
        if progress is not None:
            progress(min(1.0, evaluations / (2 * max_nfev)))
        rows = []
        for b in range(thetas.shape[0]):
            parts = [
                (np.interp(t, traj.times, traj.outputs[:, b, j]) - v) / spread
                for j, t, v, spread in series
            ]
            rows.append(np.concatenate(parts))
        return np.array(rows)

    def fun(theta: np.ndarray) -> np.ndarray:
        return simulate(theta[None])[0]

    def jac(theta: np.ndarray) -> np.ndarray:
        h = 1e-6 * np.maximum(np.abs(theta), 1e-3 * (hi - lo))
        h = np.where(theta + h > hi, -h, h)
        thetas = np.repeat(theta[None], len(cols) + 1, axis=0)
        thetas[1:] += np.diag(h)
        r = simulate(thetas)
        return ((r[1:] - r[0]) / h[:, None]).T

    sol = least_squares(
        fun, theta0, jac=jac, bounds=(lo, hi), x_scale="jac", max_nfev=max_nfev, method="trf"
    )
    fitted = dict(zip(names, map(float, sol.x), strict=True))
    full = base.copy()
    full[cols] = sol.x
    std = _std_errors(sol.jac, sol.fun)
    final = sol.fun
    rmse: dict[str, float] = {}
    r2: dict[str, float] = {}
    offset = 0
    for j, _t, v, spread in series:
        err = final[offset : offset + v.size] * spread
        offset += v.size
        name = model.output_names[j]
        rmse[name] = float(np.sqrt(np.mean(err * err)))
        ss_tot = float(np.sum((v - v.mean()) ** 2))
        r2[name] = 1.0 - float(np.sum(err * err)) / ss_tot if ss_tot > 0 else math.nan
    return CalibrationResult(
        model=model.name,
        parameters=dict(zip(model.param_names, map(float, full), strict=True)),
        fitted=fitted,
        std_errors=dict(zip(names, std, strict=True)),
        rmse=rmse,
        r2=r2,
        cost=float(sol.cost),
        success=bool(sol.success),
        message=str(sol.message),
        nfev=int(sol.nfev),
    )


def _std_errors(jac: np.ndarray, res: np.ndarray) -> list[float]:
    """Standard errors of the fitted parameters from ``(J^T J)^-1 s^2``."""
    dof = max(1, res.size - jac.shape[1])
    s2 = float(res @ res) / dof
    try:
        cov = np.linalg.inv(jac.T @ jac) * s2
    except np.linalg.LinAlgError:
        return [math.nan] * jac.shape[1]
    return [float(math.sqrt(v)) if v >= 0 else math.nan for v in np.diag(cov)]
