"""The persistence scan of one alert rule, in vectorised rounds over groups of readings.

Readings come sorted by group (sensor), then time; group ``k`` holds the readings
``starts[k]:ends[k]`` (every group non-empty). A group is active (its alert raised) or
not; it changes state at the first reading where its condition (``beyond`` while
inactive, ``inside`` while active) has held for ``need`` consecutive readings spanning at
least ``need_us`` microseconds, counting the run carried in from earlier batches
(``carry`` readings since ``carry_start``). The run restarts after each change.

A round finds, for every group at once, its next change; a batch costs one round plus
one per change. A round costs a few array operations over its readings to find where
the condition holds, the rest over those readings only (usually few: a condition that
holds is an alert on its way); the rounds after the first take only the readings of the
groups that changed, from the change on. ``scan`` updates ``active``, ``carry`` and ``carry_start`` in place and
returns the changes in order per group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Flips", "scan"]


@dataclass(frozen=True, slots=True)
class Flips:
    """The changes found, round by round: per group in reading order."""

    group: np.ndarray  # int64, the group that changed state
    index: np.ndarray  # int64, the reading at which it changed
    run: np.ndarray  # int64, the length of the run that made it change (carry included)

    def __len__(self) -> int:
        return len(self.group)


def scan(
    ts: np.ndarray,
    beyond: np.ndarray,
    inside: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    active: np.ndarray,
    carry: np.ndarray,
    carry_start: np.ndarray,
    need: int,
    need_us: int,
) -> Flips:
    cursor = starts.copy()
    pending = np.flatnonzero(cursor < ends)  # the groups with readings left to scan
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    rows: np.ndarray | None = None  # the first round takes every reading, as given
    r_ts, r_beyond, r_inside, r_starts = ts, beyond, inside, starts
    while len(pending):
        lengths = ends[pending] - cursor[pending]
        if found:  # later rounds: the groups that changed, from their change on
            r_starts = np.cumsum(lengths) - lengths
            rows = np.repeat(cursor[pending] - r_starts, lengths) + np.arange(int(lengths.sum()))
            r_ts, r_beyond, r_inside = ts[rows], beyond[rows], inside[rows]
        flip_k, flip_i, flip_run = _round(
            r_ts,
            r_beyond,
            r_inside,
            r_starts,
            lengths,
            active[pending],
            carry,
            carry_start,
            pending,
            need,
            need_us,
        )
        flip_g = pending[flip_k]
        if rows is not None:
            flip_i = rows[flip_i]
        found.append((flip_g, flip_i, flip_run))
        active[flip_g] = ~active[flip_g]
        carry[flip_g] = 0
        carry_start[flip_g] = 0
        cursor[flip_g] = flip_i + 1
        pending = flip_g[cursor[flip_g] < ends[flip_g]]
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return Flips(empty, empty, empty)
    group, index, run_len = (np.concatenate(parts) for parts in zip(*found, strict=True))
    return Flips(group, index, run_len)


def _round(
    ts: np.ndarray,
    beyond: np.ndarray,
    inside: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    active: np.ndarray,
    carry: np.ndarray,
    carry_start: np.ndarray,
    groups: np.ndarray,
    need: int,
    need_us: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One round over the readings of ``groups`` (the k-th at ``starts[k]``, ``lengths[k]``
    long): the first change of each (``(k, index, run)``, local positions). A group
    without a change keeps the run it ends with in ``carry`` and ``carry_start``.

    Works on the readings where the condition holds (usually few) rather than on all."""
    c = np.where(np.repeat(active, lengths), inside, beyond) if active.any() else beyond
    at = np.flatnonzero(c)  # the readings where the condition holds, in order
    m = len(at)
    if not m:  # nowhere: no change, and every run carried in ends
        carry[groups] = 0
        carry_start[groups] = 0
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    k = np.searchsorted(starts, at, side="right") - 1  # their group
    # runs: consecutive readings of one group where the condition holds
    head = np.ones(m, dtype=bool)
    head[1:] = (at[1:] != at[:-1] + 1) | (k[1:] != k[:-1])
    pos = np.arange(m)
    run_head = np.maximum.accumulate(np.where(head, pos, 0))
    first = at[run_head]
    carried = carry[groups][k]
    fresh = (first == starts[k]) & (carried > 0)  # from the group's first reading on: carry on
    run = pos - run_head + 1 + np.where(fresh, carried, 0)
    start = np.where(fresh, carry_start[groups][k], ts[first])
    hit = np.flatnonzero((run >= need) & (ts[at] - start >= need_us))
    hit_k = k[hit]  # sorted: the first hit of each group is its change
    first_hit = np.ones(len(hit), dtype=bool)
    first_hit[1:] = hit_k[1:] != hit_k[:-1]
    hit = hit[first_hit]
    flip_k = k[hit]
    done = np.ones(len(groups), dtype=bool)
    done[flip_k] = False  # no change in this batch: keep the run the group ends with
    last = (starts + lengths - 1)[done]
    j = np.maximum(np.searchsorted(at, last, side="right") - 1, 0)
    ends_in_run = at[j] == last  # the condition holds at the group's last reading
    carry[groups[done]] = np.where(ends_in_run, run[j], 0)
    carry_start[groups[done]] = np.where(ends_in_run, start[j], 0)
    return flip_k, at[hit], run[hit]
