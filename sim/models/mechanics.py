"""Constants and the bearing heat/vibration laws shared by the pump and thermal models."""

from __future__ import annotations

import numpy as np

G = 9.81  # m/s2
RHO = 998.0  # kg/m3, water at 20 degC
RHO_G_KW = RHO * G / 1000.0  # kW per (m3/s * m)
BAR_PER_M = RHO * G / 1e5  # bar per metre of water column


def bearing_heat_kw(
    s: np.ndarray, shaft_kw: np.ndarray, friction_kw: np.ndarray, loss_share: np.ndarray
) -> np.ndarray:
    """Heat into the bearing: friction ``(f0 + f_w w) s`` plus a share of motor losses.

    ``friction_kw`` is already ``f0 + f_w w``; ``loss_share`` is ``m (1/eta_m - 1)``.
    """
    return friction_kw * np.abs(s) + loss_share * shaft_kw


def vibration_mm_s(s: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
    """Vibration velocity proxy: ``(v0 + v_w w) s^2`` (unbalance force grows as speed^2)."""
    return amplitude * s * s
