"""Pure parts of the OEE service: state-code vocabulary and the line's flow order."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.services.lines import flow_order
from api.services.oee import parse_state_codes
from graph.errors import ValidationError
from graph.model import RelationType
from graph.plantfile import load_plant_file
from sim.registry import MODELS

EXAMPLE = Path(__file__).resolve().parents[2] / "api" / "demo" / "example_plant.yaml"


def test_state_codes_read_the_plant_metadata_wording() -> None:
    codes = parse_state_codes("0 idle, 1 running, 2 blocked, 3 failed, 4 setup, 5 planned stop")
    assert (codes.idle, codes.running, codes.blocked, codes.down) == ((0,), (1,), (2,), (3,))
    assert (codes.setup, codes.planned_stop, codes.starved) == ((4,), (5,), ())
    fed = parse_state_codes("0 idle, 1 running", starved=True)
    assert (fed.idle, fed.starved) == ((), (0,))


@pytest.mark.parametrize("text", ["0 idle, one running", "0 dancing", "0 idle, 0 running"])
def test_unreadable_state_codes_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_state_codes(text)


def test_flow_order_follows_feeds_through_buffers() -> None:
    feeds = {"s2": {"b2"}, "b2": {"s3"}, "s1": {"b1"}, "b1": {"s2"}}
    assert flow_order("l", {"s1", "s2", "s3"}, feeds) == ["s1", "s2", "s3"]
    assert flow_order("l", {"s1"}, {}) == ["s1"]


@pytest.mark.parametrize(
    "feeds",
    [
        {},  # three starts
        {"s1": {"s2", "s3"}},  # a branch
        {"s1": {"s2"}, "s2": {"s3"}, "s3": {"s1"}},  # a loop: no start
    ],
)
def test_non_serial_lines_are_refused(feeds: dict[str, set[str]]) -> None:
    with pytest.raises(ValidationError):
        flow_order("l", {"s1", "s2", "s3"}, feeds)


def test_the_example_line_reads_as_a_serial_line_with_the_demo_codes() -> None:
    plant = load_plant_file(EXAMPLE, sim_models=set(MODELS))
    stations = {s.asset_id for s in plant.stations}
    line = {a.id for a in plant.assets if a.parent_id == "line-a"}
    feeds: dict[str, set[str]] = {}
    for r in plant.relations:
        if r.source_id in line and r.type is RelationType.FEEDS:
            feeds.setdefault(r.source_id, set()).add(r.target_id)
    order = flow_order("line-a", stations, feeds)
    assert order == [f"st-{i}" for i in range(1, 6)]
    metadata = {a.id: a.metadata for a in plant.assets}
    for i, sid in enumerate(order):
        codes = parse_state_codes(str(metadata[sid]["state_codes"]), starved=i > 0)
        assert (codes.running, codes.blocked, codes.down) == ((1,), (2,), (3,))
        assert (codes.idle, codes.starved) == (((), (0,)) if i else ((0,), ()))
