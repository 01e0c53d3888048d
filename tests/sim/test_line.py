"""Production line DES: a hand-checkable line, failures, bottleneck by sensitivity."""

from __future__ import annotations

import pytest

from graph.errors import ValidationError
from sim.line import LineConfig, Station, find_bottleneck, simulate_line

HAND = LineConfig(
    stations=(Station("cut", 30.0), Station("weld", 60.0), Station("paint", 45.0)),
    buffers=(10, 10),
)


def test_deterministic_line_runs_at_the_slowest_cycle() -> None:
    result = simulate_line(HAND, hours=10.0, warmup_hours=1.0)
    assert result.throughput_per_hour == pytest.approx(3600 / 60.0, abs=0.11)
    cut, weld, paint = (result.stations[n] for n in ("cut", "weld", "paint"))
    assert weld.utilisation == pytest.approx(1.0, abs=1e-9)
    assert cut.utilisation == pytest.approx(0.5, abs=0.01)
    assert cut.blocked == pytest.approx(0.5, abs=0.01)
    assert paint.utilisation == pytest.approx(0.75, abs=0.01)
    assert paint.starved == pytest.approx(0.25, abs=0.01)
    for s in result.stations.values():
        assert s.utilisation + s.blocked + s.starved + s.down == pytest.approx(1.0, abs=1e-9)


def test_bottleneck_of_the_hand_line_is_the_slowest_station() -> None:
    found = find_bottleneck(HAND, hours=5.0, warmup_hours=0.5, speedup=0.1, replications=1)
    assert found.station == "weld"
    assert found.gains["weld"].units_per_hour == pytest.approx(3600 / 54 - 60, abs=0.3)
    assert found.gains["cut"].units_per_hour == pytest.approx(0.0, abs=0.3)
    assert found.gains["paint"].units_per_hour == pytest.approx(0.0, abs=0.3)


def test_failures_make_a_nominally_fast_station_the_bottleneck() -> None:
    # "press" has the longest cycle, but "robot" is down a third of the time (short,
    # frequent stops): 40 s / availability 0.667 = 60 s effective against the press's 50 s.
    line = LineConfig(
        stations=(
            Station("feed", 30.0, 0.2),
            Station("press", 50.0, 0.2),
            Station("robot", 40.0, 0.2, mtbf_s=120.0, mttr_s=60.0),
            Station("pack", 35.0, 0.2),
        ),
        buffers=(5, 5, 5),
    )
    found = find_bottleneck(line, hours=40.0, seed=11, warmup_hours=1.0, replications=3)
    assert found.station == "robot"
    robot, press = found.gains["robot"], found.gains["press"]
    assert robot.units_per_hour > press.units_per_hour + 2 * (robot.stderr + press.stderr)
    assert robot.percent > 0
    result = simulate_line(line, hours=40.0, seed=11, warmup_hours=1.0)
    assert result.stations["robot"].down > 0.1
    assert result.stations["press"].blocked > 0.05  # the press waits on the robot
    assert result.throughput_per_hour < 3600 / 50.0


def test_same_seed_same_result_different_seed_differs() -> None:
    line = LineConfig((Station("a", 20.0, 0.5), Station("b", 22.0, 0.5)), (3,))
    a = simulate_line(line, 2.0, seed=5)
    assert simulate_line(line, 2.0, seed=5) == a
    assert simulate_line(line, 2.0, seed=6) != a


@pytest.mark.parametrize(
    "build",
    [
        lambda: Station("x", 0.0),
        lambda: Station("x", 10.0, mtbf_s=100.0),
        lambda: Station("x", 10.0, cycle_time_cv=-1.0),
        lambda: LineConfig((Station("a", 1.0), Station("b", 1.0)), ()),
        lambda: LineConfig((Station("a", 1.0), Station("b", 1.0)), (0,)),
        lambda: LineConfig((Station("a", 1.0), Station("a", 1.0)), (1,)),
        lambda: simulate_line(HAND, hours=-1.0),
        lambda: simulate_line(HAND, hours=1e6),
        lambda: find_bottleneck(HAND, hours=1.0, speedup=1.5),
    ],
)
def test_bad_lines_are_refused(build: object) -> None:
    with pytest.raises(ValidationError):
        build()  # type: ignore[operator]
