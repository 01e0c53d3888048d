"""The vectorised persistence scan against a scalar walk, group by group."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.scan import scan


def walk(
    ts: list[int],
    beyond: list[bool],
    inside: list[bool],
    active: bool,
    run: int,
    since: int,
    need: int,
    need_us: int,
) -> tuple[list[tuple[int, int]], bool, int, int]:
    """One group, one reading at a time: the changes (index, run), and the end state."""
    out = []
    for i, (t, b, n) in enumerate(zip(ts, beyond, inside, strict=True)):
        if n if active else b:
            run += 1
            since = t if run == 1 else since
        else:
            run, since = 0, 0
        if run >= need and t - since >= need_us:
            out.append((i, run))
            active, run, since = not active, 0, 0
    return out, active, run, since


def test_no_groups_and_no_condition_anywhere() -> None:
    empty = np.empty(0, dtype=np.int64)
    flips = scan(
        empty, np.empty(0, bool), np.empty(0, bool), empty, empty,
        np.empty(0, bool), empty.copy(), empty.copy(), 1, 0,
    )  # fmt: skip
    assert len(flips) == 0
    carry, since = np.array([2]), np.array([5])
    flips = scan(
        np.arange(3), np.zeros(3, bool), np.zeros(3, bool), np.array([0]), np.array([3]),
        np.array([False]), carry, since, 1, 0,
    )  # fmt: skip
    assert len(flips) == 0 and carry.tolist() == [0] and since.tolist() == [0]


group_st = st.tuples(
    st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.booleans()), min_size=1, max_size=30),
    st.booleans(),  # active
    st.integers(0, 3),  # run carried in
)


@settings(max_examples=300, deadline=None)
@given(
    groups=st.lists(group_st, min_size=1, max_size=6), need=st.integers(1, 4), dur=st.integers(0, 4)
)
def test_scan_matches_a_walk_of_each_group(groups: list, need: int, dur: int) -> None:
    ts: list[int] = []
    beyond: list[bool] = []
    inside: list[bool] = []
    starts, ends, active, carry, since = [], [], [], [], []
    for readings, act, run in groups:
        starts.append(len(ts))
        t = 100
        for step, b, n in readings:
            t += step
            ts.append(t)
            beyond.append(b)
            inside.append(n)
        ends.append(len(ts))
        active.append(act)
        carry.append(run)
        since.append(100 - run if run else 0)  # a run carried in started before the batch
    a, c, s = np.array(active), np.array(carry, np.int64), np.array(since, np.int64)
    flips = scan(
        np.array(ts, np.int64), np.array(beyond), np.array(inside),
        np.array(starts, np.int64), np.array(ends, np.int64), a, c, s, need, dur,
    )  # fmt: skip
    for k, (_, act, run) in enumerate(groups):
        lo, hi = starts[k], ends[k]
        want, end_active, end_run, end_since = walk(
            ts[lo:hi], beyond[lo:hi], inside[lo:hi], act, run, since[k], need, dur
        )
        mine = flips.group == k
        got = list(zip((flips.index[mine] - lo).tolist(), flips.run[mine].tolist(), strict=True))
        assert got == want
        assert (bool(a[k]), int(c[k])) == (end_active, end_run)
        if end_run:
            assert int(s[k]) == end_since
