"""Pure parts of the OEE service: state-code vocabulary and the line's flow order."""

from __future__ import annotations

import pytest

from api.services.oee import flow_order, parse_state_codes
from graph.errors import ValidationError


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
