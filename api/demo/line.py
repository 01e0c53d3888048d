"""A production line that runs in real (or accelerated) time, for the demo devices.

Stations in series with finite buffers, as in ``sim.line`` (first station never starves,
last never blocks, blocking after service, failures during busy time), but advanced in
small time slices so its counters, states and power can be read at any moment.
Machine states: 0 idle, 1 running, 2 blocked, 3 failed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from graph.plantfile import StationSpec

__all__ = ["IDLE", "RUNNING", "BLOCKED", "FAILED", "LineState"]

IDLE, RUNNING, BLOCKED, FAILED = 0, 1, 2, 3
_POWER_SHARE = np.array([0.15, 1.0, 0.25, 0.02])  # of rated power, by state
_OVEN_SET_C, _AMBIENT_C, _OVEN_TAU_S = 180.0, 22.0, 300.0
_MAX_SLICE_S = 1.0


class LineState:
    """Stations ``specs`` in line order; buffer ``i`` sits after station ``i``."""

    def __init__(self, specs: Sequence[StationSpec], rng: np.random.Generator) -> None:
        n = len(specs)
        self.specs = list(specs)
        self.rng = rng
        self.cycle = np.array([s.cycle_time_s for s in specs], dtype=float)
        self.cv = np.array([s.cv for s in specs], dtype=float)
        self.mtbf = np.array([(s.mtbf_h or 0.0) * 3600.0 for s in specs])
        self.mttr = np.array([(s.mttr_h or 0.0) * 3600.0 for s in specs])
        self.capacity = np.array(
            [s.buffer_capacity if s.buffer_id else 0 for s in specs], dtype=np.int64
        )
        self.buffer = self.capacity // 2  # start half full so every station works
        self.state = np.full(n, IDLE, dtype=np.int64)
        self.left = np.zeros(n)  # time left in the cycle (running) or repair (failed)
        self.drawn = self.cycle.copy()  # the current cycle's drawn time
        self.last_cycle = self.cycle.copy()
        self.count = np.zeros(n, dtype=np.int64)
        self.was_running = np.zeros(n, dtype=bool)  # failed mid-cycle: resume after repair
        self.resume = np.zeros(n)  # cycle time left when the failure struck
        self.rated_kw = rng.uniform(8.0, 25.0, n)
        self.oven_c = np.full(n, _OVEN_SET_C)

    def _draw(self, i: int) -> float:
        mean, cv = self.cycle[i], self.cv[i]
        if cv <= 0:
            return float(mean)
        sigma = np.sqrt(np.log1p(cv * cv))  # lognormal with this mean and cv
        return float(mean * self.rng.lognormal(-sigma * sigma / 2, sigma))

    def _push(self, i: int) -> bool:
        if i == len(self.specs) - 1 or not self.specs[i].buffer_id:
            return True  # finished goods leave the line
        if self.buffer[i] < self.capacity[i]:
            self.buffer[i] += 1
            return True
        return False

    def _pull(self, i: int) -> bool:
        if i == 0:
            return True
        if not self.specs[i - 1].buffer_id:
            return True
        if self.buffer[i - 1] > 0:
            self.buffer[i - 1] -= 1
            return True
        return False

    def advance(self, dt: float) -> None:
        """Move the line ``dt`` seconds on, in slices of at most a second."""
        slices = max(1, int(np.ceil(dt / _MAX_SLICE_S)))
        h = dt / slices
        for _ in range(slices):
            for i in reversed(range(len(self.specs))):  # downstream first frees room
                self._station(i, h)
        share = 1.0 - np.exp(-dt / _OVEN_TAU_S)
        target = np.where(self.state == FAILED, _AMBIENT_C, _OVEN_SET_C)
        self.oven_c += (target - self.oven_c) * share

    def _station(self, i: int, h: float) -> None:
        state = self.state[i]
        if state == FAILED:
            self.left[i] -= h
            if self.left[i] <= 0:
                if self.was_running[i]:
                    self.state[i], self.left[i] = RUNNING, self.resume[i]
                else:
                    self.state[i] = IDLE
            return
        if state == RUNNING:
            if self.mtbf[i] > 0 and self.rng.random() < h / self.mtbf[i]:
                self.resume[i] = self.left[i]
                self.was_running[i] = True
                self.state[i] = FAILED
                self.left[i] = self.rng.exponential(max(self.mttr[i], 1.0))
                return
            self.left[i] -= h
            if self.left[i] > 0:
                return
            self.count[i] += 1
            self.last_cycle[i] = self.drawn[i]
            self.state[i] = BLOCKED
            self.was_running[i] = False
        if self.state[i] == BLOCKED:
            if not self._push(i):
                return
            self.state[i] = IDLE
        if self.state[i] == IDLE and self._pull(i):
            self.drawn[i] = self._draw(i)
            self.left[i] = self.drawn[i]
            self.state[i] = RUNNING

    def power_kw(self) -> npt.NDArray[np.float64]:
        return self.rated_kw * _POWER_SHARE[self.state]
