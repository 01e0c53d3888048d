"""Run-to-failure pump fleets for ``bench/bench_rul.py``, from ``sim``'s pump wear model.

Each asset is a ``sim.models.pump.PumpModel`` with its own wear coefficients for one of
three failure modes, and a wear that starts at a random onset and grows as a power of
time (linear to accelerating)::

    bearing      vibration and friction heat grow fast -> vibration_mm_s > 7.1
    lubrication  friction heat grows fast              -> bearing_temp_c > 80
    impeller     head lost, power gained               -> discharge_pressure_bar < 4.5

Every 10 minutes the pump runs at the steady state of its equations (speed at the VFD's
setpoint, flow where pump and system heads meet, bearing temperature at its heat balance,
lagged by the housing's thermal time constant) under varying load (a speed setpoint per
8 h shift, 94-100 % of rated), suction pressure and ambient temperature (process noise),
read through sensors with measurement noise. The life ends at the first sample where a
noise-free sensor level crosses its failure limit (the trip): ``life_h`` is the truth.
``simulated`` holds the same inputs run through the as-new model (wear 0): the
physics-residual detector's reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from analytics.health import SensorLimits
from sim.models.mechanics import BAR_PER_M
from sim.models.pump import PumpModel

__all__ = ["LIMITS", "SENSORS", "Asset", "fleet"]

SENSORS = ("flow_m3h", "discharge_pressure_bar", "power_kw", "bearing_temp_c", "vibration_mm_s")
LIMITS = (
    SensorLimits("flow_m3h"),
    SensorLimits("discharge_pressure_bar", fail_low=4.5),
    SensorLimits("power_kw"),
    SensorLimits("bearing_temp_c", fail_high=80.0),
    SensorLimits("vibration_mm_s", fail_high=7.1),
)
NOISE = np.array([2.0, 0.03, 0.3, 0.4, 0.15])
STEP_S = 600
MODES = ("bearing", "lubrication", "impeller")
_MODEL = PumpModel()
_OUT = [_MODEL.index_of("output", s) for s in SENSORS]


@dataclass(frozen=True, slots=True, eq=False)
class Asset:
    asset_id: str
    mode: str
    life_h: float
    ts_us: np.ndarray  # (n,) sample times, µs since the life's start
    measured: np.ndarray  # (n, len(SENSORS))
    simulated: np.ndarray  # (n, len(SENSORS)) the as-new model on the same inputs
    wear_fraction: np.ndarray  # (n,) wear over the wear at which it fails at 97 % speed


def _coefficients(mode: str, rng: np.random.Generator) -> dict[str, float]:
    u = rng.uniform
    if mode == "bearing":
        return {"vibration_wear_mm_s": u(7, 10), "wear_friction_heat_kw": u(0.5, 0.9),
                "wear_head_loss": u(0.0, 0.1), "wear_power_gain": 0.05}  # fmt: skip
    if mode == "lubrication":
        return {"vibration_wear_mm_s": u(1, 3), "wear_friction_heat_kw": u(1.8, 2.6),
                "wear_head_loss": u(0.0, 0.1), "wear_power_gain": 0.05}  # fmt: skip
    return {"vibration_wear_mm_s": u(1, 2.5), "wear_friction_heat_kw": u(0.1, 0.4),
            "wear_head_loss": u(0.35, 0.5), "wear_power_gain": u(0.2, 0.35)}  # fmt: skip


def steady_outputs(
    coeffs: dict[str, float], wear: np.ndarray, s: np.ndarray, p_in: np.ndarray, amb: np.ndarray
) -> np.ndarray:
    """The pump's outputs at its steady state, ``(n, n_outputs)``, one row per sample."""
    base = _MODEL.param_vector(coeffs)
    p = np.repeat(base[None], len(wear), axis=0)
    p[:, _MODEL.index_of("parameter", "wear")] = wear
    c = _MODEL.prepare(p)
    h_in = p_in / BAR_PER_M
    q = np.sqrt(np.maximum(c[1] * s * s - c[4] + h_in, 0.0) / (c[2] + c[5] + c[6]))
    shaft = (c[8] * s + c[9] * q) * s * s
    temp = amb + (c[11] * s + c[12] * shaft) / c[14]
    n = s * 2900.0
    x = np.stack([n, q, temp], axis=1)
    u = np.stack([n, p_in, np.ones_like(n), amb], axis=1)
    return np.asarray(_MODEL.observe(0.0, x, u, c))


def _lag(values: np.ndarray, tau_s: float) -> np.ndarray:
    a = float(np.exp(-STEP_S / tau_s))
    y, _ = lfilter([1 - a], [1, -a], values, zi=[a * values[0]])
    return np.asarray(y)


def _limits_crossed(levels: np.ndarray) -> np.ndarray:
    out = np.zeros(len(levels), dtype=bool)
    for k, lim in enumerate(LIMITS):
        if lim.fail_high is not None:
            out |= levels[:, k] > lim.fail_high
        if lim.fail_low is not None:
            out |= levels[:, k] < lim.fail_low
    return out


def _make(k: int, rng: np.random.Generator) -> Asset:
    mode = MODES[k % len(MODES)]
    coeffs = _coefficients(mode, rng)
    grid = np.linspace(0.0, 1.0, 1001)
    ref = steady_outputs(coeffs, grid, np.full_like(grid, 0.97), np.ones_like(grid),
                         np.full_like(grid, 25.0))[:, _OUT]  # fmt: skip
    w_fail = float(grid[np.argmax(_limits_crossed(ref))])
    target_h = rng.uniform(700.0, 2000.0)
    onset_h = rng.uniform(0.05, 0.3) * target_h
    power = rng.choice([1.0, 1.5, 2.0, 2.5])
    tau_h = (target_h - onset_h) / w_fail ** (1 / power)
    n = int(1.4 * target_h * 3600 / STEP_S)
    t_h = np.arange(n) * STEP_S / 3600.0
    wear = np.clip(np.maximum(t_h - onset_h, 0.0) / tau_h, 0.0, 1.0) ** power
    shifts = rng.uniform(0.94, 1.0, size=n // 48 + 1)
    s = shifts[(t_h // 8).astype(int)]
    p_in = 1.0 + np.cumsum(rng.normal(0, 0.01, n)) * 0.2
    p_in = np.clip(p_in, 0.8, 1.2)
    days = rng.normal(0.0, 1.5, size=n // 144 + 2)
    amb = 25.0 + 5.0 * np.sin(2 * np.pi * (t_h - 9) / 24) + days[(t_h // 24).astype(int)]
    clean = steady_outputs(coeffs, wear, s, p_in, amb)[:, _OUT]
    nominal = steady_outputs(coeffs, np.zeros(n), s, p_in, amb)[:, _OUT]
    tau_th = (_MODEL.param_vector(coeffs)[_MODEL.index_of("parameter", "thermal_capacitance_kj_per_k")]
              * _MODEL.param_vector(coeffs)[_MODEL.index_of("parameter", "thermal_resistance_k_per_kw")])  # fmt: skip
    t_col = SENSORS.index("bearing_temp_c")
    clean[:, t_col] = _lag(clean[:, t_col], tau_th)
    nominal[:, t_col] = _lag(nominal[:, t_col], tau_th)
    crossed = _limits_crossed(clean)
    end = int(np.argmax(crossed)) if crossed.any() else n - 1
    measured = clean + rng.normal(0.0, 1.0, clean.shape) * NOISE
    v_col = SENSORS.index("vibration_mm_s")
    measured[:, v_col] *= 1 + rng.normal(0.0, 0.03, n)
    keep = slice(0, end + 1)
    return Asset(
        f"pump-{k:03d}", mode, float(t_h[end]), (t_h[keep] * 3.6e9).round().astype(np.int64),
        measured[keep], nominal[keep], wear[keep] / w_fail,
    )  # fmt: skip


def fleet(n_assets: int = 36, seed: int = 11) -> list[Asset]:
    """``n_assets`` run-to-failure histories, the failure modes in turn."""
    rng = np.random.default_rng(seed)
    return [_make(k, rng) for k in range(n_assets)]
