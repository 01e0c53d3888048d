"""OEE on hand-computed cases: states, counters with a reset, gaps, the line."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.oee import DEMO_CODES, Series, StateCodes, StationOee, line_oee, station_oee
from api.demo.line import LineState
from graph.errors import ValidationError
from graph.plantfile import StationSpec

IDLE, RUNNING, BLOCKED, FAILED = 0, 1, 2, 3  # the demo line's codes (api/demo/line.py)

# One hour of a station with a 60 s ideal cycle:
#   0-1200 running, 1200-1500 failed, 1500-2700 running, 2700-3000 blocked,
#   3000-3300 idle, 3300-3600 running  -> running 2700 s, down 300, blocked 300, idle 300
# Parts: 18 in 0-1200, 3 in 1500-1800, then the counter resets and reads 5 at 2100,
# 15 at 2700 (none while blocked or idle), 19 at 3600: 40 parts; 4 rejects, 36 good.
STATES = Series(
    [0, 1200, 1500, 2700, 3000, 3300], [RUNNING, FAILED, RUNNING, BLOCKED, IDLE, RUNNING]
)
TOTAL = Series(
    [0, 1200, 1500, 1800, 2100, 2700, 3000, 3300, 3600],
    [1000, 1018, 1018, 1021, 5, 15, 15, 15, 19],
)
REJECTS = Series([0, 1200, 2400, 3600], [7, 8, 10, 11])


def hour(**kw: object) -> StationOee:
    args: dict[str, object] = {"start": 0.0, "end": 3600.0, "max_gap_s": 1200.0}
    args.update(kw)
    return station_oee("st-1", 60.0, STATES, TOTAL, **args)  # type: ignore[arg-type]


def test_hand_computed_station() -> None:
    r = station_oee("st-1", 60.0, STATES, TOTAL, rejects=REJECTS, start=0, end=3600, max_gap_s=1200)
    assert r.unknown_s == 0 and r.planned_s == 3600
    assert r.running_s == 2700 and r.operating_s == 3300
    assert r.total_count == pytest.approx(40) and r.good_count == pytest.approx(36)
    assert r.counter_resets == 1
    assert r.availability == pytest.approx(3300 / 3600)
    assert r.performance == pytest.approx(2400 / 3300)
    assert r.quality == pytest.approx(0.9)
    assert r.oee == pytest.approx(0.6)
    losses = {loss.name: loss for loss in r.losses}
    expected = {"breakdowns": 300, "setup": 0, "idle": 300, "blocked": 300, "starved": 0}
    expected |= {"reduced_speed": 300, "defects": 240}
    assert {n: loss.seconds for n, loss in losses.items()} == pytest.approx(expected)
    assert losses["defects"].parts == pytest.approx(4) and losses["idle"].parts == pytest.approx(5)
    assert {loss.kind for loss in r.losses} == {"availability", "performance", "quality"}
    # planned time = fully productive time + every loss
    assert r.good_count * 60 + sum(loss.seconds for loss in r.losses) == pytest.approx(3600)


def test_without_quality_counter_every_part_counts_as_good() -> None:
    r = hour()
    assert not r.quality_measured and r.quality == 1.0
    assert r.oee == pytest.approx(40 * 60 / 3600)


def test_good_counter_gives_the_same_as_rejects() -> None:
    good = Series([0, 1200, 2400, 3600], [100, 117, 128, 136])
    r = hour(good=good)
    assert r.quality == pytest.approx(0.9) and r.oee == pytest.approx(0.6)


def test_sub_window_spreads_increments_evenly() -> None:
    r = station_oee("st-1", 60.0, STATES, TOTAL, start=600, end=1200, max_gap_s=1200)
    assert r.planned_s == 600 and r.running_s == 600
    assert r.total_count == pytest.approx(9)  # half of the 18 made in 0-1200
    assert r.availability == 1.0 and r.performance == pytest.approx(0.9)


def test_rollover_is_a_wrap_not_a_reset() -> None:
    states = Series([0, 600], [RUNNING, RUNNING])
    counts = Series([0, 600, 1200], [65530, 65535, 4])  # 5, then 5 across the wrap
    r = station_oee("s", 60.0, states, counts, start=0, end=1200, max_gap_s=600, rollover=65536)
    assert r.total_count == pytest.approx(10) and r.counter_resets == 1
    plain = station_oee("s", 60.0, states, counts, start=0, end=1200, max_gap_s=600)
    assert plain.total_count == pytest.approx(9)  # read as a reset: 5 + 4 since it


def test_a_gap_is_left_out_of_time_and_parts() -> None:
    t = np.arange(0, 3601, 60.0)
    keep = (t <= 1140) | (t >= 2400)  # nothing from 1140 to 2400
    states = Series(t[keep], np.full(keep.sum(), RUNNING))
    counts = Series(t[keep], np.arange(t.size)[keep])  # one part a minute, ideal 60 s
    r = station_oee("s", 60.0, states, counts, start=0, end=3600, max_gap_s=120)
    assert r.unknown_s == pytest.approx(2400 - 1140)
    assert r.planned_s == pytest.approx(1140 + 1200)
    assert r.total_count == pytest.approx(19 + 20)
    assert r.performance == pytest.approx(1.0)  # the gap biases nothing
    assert r.availability == 1.0


def test_unknown_codes_and_nan_states_are_unknown_time() -> None:
    states = Series([0, 600, 1200], [RUNNING, 7, np.nan])
    counts = Series([0, 1800], [0, 10])
    r = station_oee("s", 60.0, states, counts, start=0, end=1800, max_gap_s=1800)
    assert r.unknown_s == pytest.approx(1200) and r.planned_s == pytest.approx(600)
    assert r.total_count == pytest.approx(10 / 3)


def test_planned_stops_and_custom_codes() -> None:
    codes = StateCodes(running=(10,), starved=(20,), setup=(30,), planned_stop=(40,), idle=())
    states = Series([0, 1000, 1500, 2000], [40, 30, 20, 10])
    counts = Series([0, 2000, 3000], [0, 0, 10])
    r = station_oee("s", 60.0, states, counts, start=0, end=3000, max_gap_s=2000, codes=codes)
    assert r.planned_stop_s == 1000 and r.planned_s == 2000
    assert r.availability == pytest.approx(1500 / 2000)
    assert r.performance == pytest.approx(600 / 1500)
    names = {loss.name: loss.seconds for loss in r.losses}
    assert names["setup"] == 500 and names["starved"] == 500 and names["reduced_speed"] == 400


def test_no_data_gives_no_ratio() -> None:
    r = station_oee("s", 60.0, Series([], []), Series([], []), start=0, end=60)
    assert r.unknown_s == 60 and r.planned_s == 0
    assert r.availability is None and r.performance is None and r.oee is None


def test_line_oee_is_output_based_on_the_bottleneck() -> None:
    # three stations over an hour, ideal cycles 50, 60 (the bottleneck) and 40 s
    ideal = {"a": 50.0, "b": 60.0, "c": 40.0}
    down = {"a": 0.0, "b": 600.0, "c": 0.0}
    made = {"a": 55, "b": 45, "c": 45}
    results = []
    for sid in ("a", "b", "c"):
        states = Series([0, 3600 - down[sid]], [RUNNING, FAILED])
        total = Series([0, 3600], [0, made[sid]])
        rejects = Series([0, 3600], [0, 5 if sid == "c" else 0])
        results.append(
            station_oee(
                sid, ideal[sid], states, total, rejects=rejects, start=0, end=3600, max_gap_s=3600
            )
        )
    line = line_oee("line-a", results)
    assert line.bottleneck_id == "b" and line.ideal_cycle_s == 60
    assert line.good_count == pytest.approx(40)
    assert line.oee == pytest.approx(40 * 60 / 3600)
    assert line.availability == pytest.approx(3000 / 3600)
    assert line.quality == pytest.approx(40 / 45)
    assert line.availability and line.performance and line.quality
    assert line.availability * line.performance * line.quality == pytest.approx(line.oee)
    lost = sum(loss.seconds for loss in line.losses)
    assert lost + 40 * 60 == pytest.approx(3600)


def test_demo_codes_match_the_demo_line() -> None:
    assert DEMO_CODES.lookup(np.array([0.0, 1.0, 2.0, 3.0, 4.0, 1.5])).tolist() == [
        1,
        0,
        2,
        4,
        -1,
        -1,
    ]


@pytest.mark.parametrize(
    "call",
    [
        lambda: Series([0, 1], [1]),
        lambda: Series([1, 0], [1, 1]),
        lambda: Series([0, np.inf], [1, 1]),
        lambda: StateCodes(running=(1,), idle=(1,)),
        lambda: station_oee("s", 0.0, STATES, TOTAL, start=0, end=1),
        lambda: station_oee("s", 60.0, STATES, TOTAL, start=10, end=10),
        lambda: station_oee("s", 60.0, STATES, TOTAL, start=0, end=1, good=TOTAL, rejects=TOTAL),
        lambda: line_oee("l", []),
    ],
)
def test_bad_input_is_a_validation_error(call: object) -> None:
    with pytest.raises(ValidationError):
        call()  # type: ignore[operator]


def test_oee_of_the_demo_lines_state_and_counter_stream() -> None:
    """The demo line's stations (api/demo/line.py), polled every second for 3 h."""
    specs = [
        StationSpec("st-1", 52, 0.08, 40, 0.5, "buf-1", 10),
        StationSpec("st-2", 58, 0.1, 30, 0.75, "buf-2", 8),
        StationSpec("st-3", 68, 0.05, 60, 1.0, "buf-3", 12),
        StationSpec("st-4", 55, 0.15, 50, 0.4, "buf-4", 6),
        StationSpec("st-5", 50, 0.05, 80, 0.3),
    ]
    line = LineState(specs, np.random.default_rng(3))
    seconds = 3 * 3600
    states = np.empty((seconds, len(specs)))
    counts = np.empty((seconds, len(specs)))
    for k in range(seconds):
        states[k], counts[k] = line.state, line.count
        line.advance(1.0)
    t = np.arange(seconds, dtype=float)
    results = [
        station_oee(
            s.asset_id,
            s.cycle_time_s,
            Series(t, states[:, i]),
            Series(t, counts[:, i]),
            start=0.0,
            end=t[-1],
            max_gap_s=5.0,
        )
        for i, s in enumerate(specs)
    ]
    for i, r in enumerate(results):
        assert r.unknown_s == 0 and r.counter_resets == 0
        assert r.total_count == counts[-1, i] - counts[0, i]
        assert r.oee is not None and 0 < r.oee <= 1
        # cycle times are drawn around the spec's mean: little speed loss either way
        assert r.running_s / (r.total_count * r.ideal_cycle_s) == pytest.approx(1.0, abs=0.08)
        down = float(np.count_nonzero(states[:-1, i] == FAILED))
        assert r.availability == pytest.approx(1 - down / r.planned_s)
    lo = line_oee("line-a", results)
    assert lo.bottleneck_id == "st-3"  # the example plant's paint booth
    assert lo.oee == pytest.approx(results[-1].good_count * 68 / results[-1].planned_s)
