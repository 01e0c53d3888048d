"""IdCoder: integer codes for object arrays of ids."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.codes import IdCoder


def ids(*values: object) -> np.ndarray:
    return np.array(values, dtype=object)


def decoded(coder: IdCoder, codes: np.ndarray) -> list[str]:
    return [coder.names[c] for c in codes.tolist()]


def test_codes_follow_first_sight_and_stay_stable_across_batches() -> None:
    coder = IdCoder()
    first = coder.encode(ids("b", "b", "a", "b"))
    assert first.dtype == np.int64
    assert first.tolist() == [0, 0, 1, 0]
    assert coder.names == ["b", "a"]
    # a later batch: known ids keep their codes, a new one gets the next code
    assert coder.encode(ids("a", "c", "c", "b")).tolist() == [1, 2, 2, 0]
    assert len(coder) == 3


def test_an_empty_batch_gives_no_codes_and_learns_nothing() -> None:
    coder = IdCoder()
    codes = coder.encode(np.empty(0, dtype=object))
    assert codes.dtype == np.int64 and codes.shape == (0,)
    assert len(coder) == 0


def test_equal_ids_that_are_different_objects_share_a_code() -> None:
    coder = IdCoder()
    a1, a2 = "".join(["pump", "-1"]), "".join(["pump-", "1"])
    assert a1 == a2 and a1 is not a2
    assert coder.encode(ids(a1, a2, "x", a2)).tolist() == [0, 0, 1, 0]


def test_grouped_and_interleaved_batches_code_alike() -> None:
    names = [f"s{i}" for i in range(300)]
    grouped = np.repeat(np.array(names, dtype=object), 4)  # runs: one lookup per sensor
    interleaved = np.tile(np.array(names, dtype=object), 4)  # no runs: one per reading
    for batch in (grouped, interleaved):
        coder = IdCoder()
        assert decoded(coder, coder.encode(batch)) == batch.tolist()


def test_a_full_coder_starts_afresh() -> None:
    coder = IdCoder(max_size=2)
    coder.encode(ids("a", "b"))
    codes = coder.encode(ids("c", "a"))  # full: forgets a and b first
    assert coder.names == ["c", "a"] and codes.tolist() == [0, 1]
    with pytest.raises(ValueError):
        IdCoder(max_size=0)


def test_ids_must_be_one_dimensional() -> None:
    with pytest.raises(ValueError):
        IdCoder().encode(np.array([["a"], ["b"]], dtype=object))


@settings(max_examples=150, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.sampled_from(["a", "b", "c", "pump-1", "é", ""]), max_size=400), max_size=4
    )
)
def test_codes_decode_to_the_ids_whatever_the_batches(batches: list[list[str]]) -> None:
    coder = IdCoder()
    seen: dict[str, int] = {}
    for batch in batches:
        codes = coder.encode(np.array(batch, dtype=object))
        assert decoded(coder, codes) == batch
        for s, c in zip(batch, codes.tolist(), strict=True):
            assert seen.setdefault(s, c) == c  # one code per id, batch after batch
