"""The readings-store contract, run against every backend (see ``conftest.store``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from graph.errors import Unavailable, ValidationError
from graph.timeutil import to_us
from ingest.reading import Quality
from ingest.store import (
    Aggregate,
    EventRow,
    Fill,
    ReadingBatch,
    ReadingsStore,
    RejectedRow,
    Span,
    align,
    bucket_grid,
    bucket_stats_by_window,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
US = 1_000_000


def batch(rows: list[tuple[float, str, float | None, str]], asset: str = "a1") -> ReadingBatch:
    """rows of (seconds after T0, sensor, value, quality)."""
    return ReadingBatch.from_columns(
        [to_us(T0) + int(s * US) for s, *_ in rows],
        [r[1] for r in rows],
        [asset] * len(rows),
        [r[2] for r in rows],
        [r[3] for r in rows],
    )


async def test_ping_and_empty_reads(store: ReadingsStore) -> None:
    await store.ping()
    assert await store.latest([]) == {}
    assert await store.history([], T0, T0 + timedelta(minutes=1)) == {}
    assert await store.write(ReadingBatch.empty()) == 0


async def test_latest_many_sensors_in_one_call(store: ReadingsStore) -> None:
    await store.write(
        batch(
            [
                (0, "s1", 1.0, "good"),
                (10, "s1", 2.0, "good"),
                (5, "s2", 7.0, "bad"),
                (20, "s3", None, "missing"),
                (3, "s3", 4.0, "good"),
            ]
        )
    )
    await store.sync()
    latest = await store.latest(["s1", "s2", "s3", "nope"])
    assert set(latest) == {"s1", "s2", "s3"}
    assert latest["s1"].value == 2.0 and latest["s1"].ts == T0 + timedelta(seconds=10)
    assert latest["s1"].asset_id == "a1" and latest["s1"].quality is Quality.GOOD
    assert latest["s2"].quality is Quality.BAD and latest["s2"].value == 7.0
    assert latest["s3"].value is None and latest["s3"].quality is Quality.MISSING


async def test_many_sensor_ids_in_one_call(store: ReadingsStore) -> None:
    """More ids than one statement may carry as parameters (QuestDB: chunks of 5,000,
    the PG protocol allows 65,535 parameters): every read still answers for all."""
    ids = [f"n{i}" for i in range(12_001)]
    written = ["n0", "n4999", "n5000", "n12000"]
    await store.write(batch([(float(i), sid, float(i), "good") for i, sid in enumerate(written)]))
    await store.sync()
    end = T0 + timedelta(minutes=1)
    latest = await store.latest(ids)
    assert sorted(latest) == sorted(written)
    assert [latest[sid].value for sid in written] == [0.0, 1.0, 2.0, 3.0]
    raw = await store.history(ids, T0, end)
    assert len(raw) == len(ids) and sum(len(s) for s in raw.values()) == 4
    assert [raw[sid].values.tolist() for sid in written] == [[0.0], [1.0], [2.0], [3.0]]
    bucketed = await store.history(ids, T0, end, timedelta(minutes=1), Aggregate.MAX)
    assert [bucketed[sid].values.tolist() for sid in written] == [[0.0], [1.0], [2.0], [3.0]]
    summary = await store.summary(ids, T0, end)
    assert len(summary) == len(ids) and sum(s.count for s in summary.values()) == 4


async def test_latest_ignores_late_older_readings(store: ReadingsStore) -> None:
    await store.write(batch([(10, "o1", 10.0, "good"), (5, "o2", 5.0, "good")]))
    await store.write(batch([(3, "o1", 3.0, "good"), (8, "o2", 8.0, "bad")]))  # o1 late
    await store.write(batch([(1, "o1", 1.0, "good"), (9, "o1", 9.0, "bad")], asset="a2"))
    await store.sync()
    latest = await store.latest(["o1", "o2"])
    assert (latest["o1"].value, latest["o1"].ts) == (10.0, T0 + timedelta(seconds=10))
    assert latest["o1"].asset_id == "a1" and latest["o1"].quality is Quality.GOOD
    assert (latest["o2"].value, latest["o2"].quality) == (8.0, Quality.BAD)
    series = (await store.history(["o1"], T0, T0 + timedelta(minutes=1), include_bad=True))["o1"]
    assert series.values.tolist() == [1.0, 3.0, 9.0, 10.0]  # the late readings are stored


async def test_latest_follows_a_replay_of_the_newest_reading(store: ReadingsStore) -> None:
    await store.write(batch([(5, "p1", 5.0, "good"), (6, "p1", 6.0, "good")]))
    await store.write(batch([(6, "p1", 60.0, "suspect")], asset="a2"))  # same (ts, sensor)
    await store.write(batch([(6, "p1", None, "missing"), (6, "p1", 61.0, "good")]))
    await store.sync()
    got = (await store.latest(["p1"]))["p1"]
    assert (got.ts, got.value, got.quality, got.asset_id) == (
        T0 + timedelta(seconds=6),
        61.0,
        Quality.GOOD,
        "a1",
    )
    await store.write(batch([(7, "p1", None, "missing")]))
    await store.sync()
    got = (await store.latest(["p1"]))["p1"]
    assert got.value is None and got.quality is Quality.MISSING


async def test_latest_matches_raw_history_after_shuffled_batches(store: ReadingsStore) -> None:
    rng = np.random.default_rng(11)
    sensors = [f"h{i}" for i in range(8)]
    qualities = np.array(["good", "suspect", "bad", "missing"], dtype=object)
    for _ in range(12):
        n = int(rng.integers(1, 40))
        rows = [
            (
                float(rng.integers(0, 120)),
                str(rng.choice(sensors)),
                float(rng.integers(0, 1000)),
                str(rng.choice(qualities)),
            )
            for _ in range(n)
        ]
        await store.write(
            batch([(s, sid, None if q == "missing" else v, q) for s, sid, v, q in rows])
        )
    await store.sync()
    raw = await store.history(sensors, T0, T0 + timedelta(minutes=3), include_bad=True)
    latest = await store.latest(sensors)
    for sid in sensors:
        series = raw[sid]
        if not len(series):
            assert sid not in latest
            continue
        got = latest[sid]
        assert to_us(got.ts) == series.times[-1], sid
        want = series.values[-1]
        assert (got.value is None) if np.isnan(want) else got.value == want, sid
        assert got.quality == series.quality[-1], sid


async def test_dedup_on_ts_and_sensor_last_write_wins(store: ReadingsStore) -> None:
    first = batch([(s, "d1", float(s), "good") for s in range(10)])
    await store.write(first)
    await store.write(first)  # a replay
    await store.write(batch([(4, "d1", 40.0, "suspect"), (4, "d1", 44.0, "good")]))
    await store.sync()
    series = (await store.history(["d1"], T0, T0 + timedelta(minutes=1), include_bad=True))["d1"]
    assert len(series) == 10
    assert series.values[4] == 44.0 and series.quality[4] == "good"
    summary = (await store.summary(["d1"], T0, T0 + timedelta(minutes=1)))["d1"]
    assert summary.count == 10


async def test_raw_history_window_order_and_bad(store: ReadingsStore) -> None:
    await store.write(
        batch(
            [
                (30, "r1", 3.0, "good"),
                (10, "r1", 1.0, "good"),
                (20, "r1", 99.0, "bad"),
                (60, "r1", 6.0, "good"),  # at the window end: excluded
                (-1, "r1", 0.5, "good"),  # before the start: excluded
                (15, "r2", 5.0, "suspect"),
            ]
        )
    )
    await store.sync()
    end = T0 + timedelta(seconds=60)
    good = await store.history(["r1", "r2", "r3"], T0, end)
    assert good["r1"].times.tolist() == [to_us(T0) + 10 * US, to_us(T0) + 30 * US]
    assert good["r1"].values.tolist() == [1.0, 3.0]
    assert good["r2"].quality.tolist() == ["suspect"]
    assert len(good["r3"]) == 0
    with_bad = await store.history(["r1"], T0, end, include_bad=True)
    assert with_bad["r1"].values.tolist() == [1.0, 99.0, 3.0]


async def test_bucketed_aggregates_match_numpy(store: ReadingsStore) -> None:
    rng = np.random.default_rng(7)
    seconds = np.arange(0, 600, 5)
    values = rng.normal(50, 10, len(seconds)).round(3)
    quality = np.where(rng.random(len(seconds)) < 0.1, "bad", "good")
    await store.write(
        batch(
            [
                (float(s), "g1", float(v), str(q))
                for s, v, q in zip(seconds, values, quality, strict=True)
            ]
        )
    )
    await store.sync()
    keep = quality != "bad"
    buckets = seconds // 60
    expect = {
        Aggregate.AVG: lambda x: x.mean(),
        Aggregate.MIN: np.min,
        Aggregate.MAX: np.max,
        Aggregate.SUM: np.sum,
        Aggregate.COUNT: len,
        Aggregate.FIRST: lambda x: x[0],
        Aggregate.LAST: lambda x: x[-1],
    }
    for aggregate, fn in expect.items():
        got = (
            await store.history(
                ["g1"], T0, T0 + timedelta(minutes=10), timedelta(minutes=1), aggregate
            )
        )["g1"]
        want = [fn(values[keep & (buckets == b)]) for b in range(10)]
        assert got.times.tolist() == [to_us(T0) + b * 60 * US for b in range(10)], aggregate
        np.testing.assert_allclose(got.values, want, rtol=1e-9, err_msg=aggregate)
    with_bad = (
        await store.history(
            ["g1"],
            T0,
            T0 + timedelta(minutes=10),
            timedelta(minutes=1),
            Aggregate.COUNT,
            include_bad=True,
        )
    )["g1"]
    assert with_bad.values.sum() == len(seconds)


async def test_bucket_stats_of_many_spans_in_one_read(store: ReadingsStore) -> None:
    """Means and counts per bucket for many (sensor, window) spans: a bucket cut by a
    span's start or end holds only the readings inside; bad readings are left out; a
    sensor may come twice (two lives); the same as AVG and COUNT reads window by window."""
    rng = np.random.default_rng(3)
    seconds = np.arange(0, 1800, 7)
    rows = []
    for sid in ("b1", "b2", "b3"):
        values = rng.normal(20, 4, len(seconds)).round(3)
        quality = np.where(rng.random(len(seconds)) < 0.1, "bad", "good")
        rows += [(float(s), sid, float(v), str(q))
                 for s, v, q in zip(seconds, values, quality, strict=True)]  # fmt: skip
    await store.write(batch(rows))
    await store.sync()
    at = [T0 + timedelta(seconds=s) for s in (0, 95, 601, 1333, 1800, 2400)]
    spans = [Span("b1", at[1], at[3]), Span("b2", at[0], at[4]), Span("b1", at[3], at[5]),
             Span("b3", at[2], at[3]), Span("nope", at[0], at[5]), Span("b2", at[4], at[5])]  # fmt: skip
    bucket = timedelta(minutes=5)
    got = await store.bucket_stats(spans, bucket)
    ref = await bucket_stats_by_window(store, spans, bucket)
    assert len(got) == len(ref) == len(spans)
    for span, g, r in zip(spans, got, ref, strict=True):
        lo, hi = to_us(span.start), to_us(span.end)
        inside = [(to_us(T0) + int(s * US), v) for s, sid, v, q in rows
                  if sid == span.sensor_id and q != "bad"
                  and lo <= to_us(T0) + int(s * US) < hi]  # fmt: skip
        b_us = 300 * US
        keys = sorted({t - t % b_us for t, _ in inside})
        assert g.times.tolist() == r.times.tolist() == keys, span
        want_n = [sum(1 for t, _ in inside if t - t % b_us == k) for k in keys]
        want_m = [np.mean([v for t, v in inside if t - t % b_us == k]) for k in keys]
        assert g.counts.tolist() == r.counts.tolist() == want_n
        np.testing.assert_allclose(g.means, want_m, rtol=1e-9)
        np.testing.assert_allclose(r.means, want_m, rtol=1e-9)
    assert len(got[4].times) == 0 and len(got[5].times) == 0
    assert await store.bucket_stats([], bucket) == []


@pytest.mark.parametrize(
    ("bucket", "step_s", "span_s"),
    [
        (timedelta(seconds=90), 20, 900),
        (timedelta(hours=1), 600, 6 * 3600),
        (timedelta(days=1), 3 * 3600, 3 * 86_400),
    ],
)
async def test_long_buckets_are_epoch_aligned(
    store: ReadingsStore, bucket: timedelta, step_s: int, span_s: int
) -> None:
    """Buckets of 90 s, 1 h and 1 d (QuestDB strides of 90s, 1h, 1d): counts and sums per
    bucket match numpy, bucket starts are epoch multiples of the bucket (the day buckets
    start at midnight UTC although the window starts at noon), on ``bucket_grid``."""
    seconds = np.arange(0, span_s, step_s)
    values = (seconds % 7).astype(np.float64)
    sid = f"long{bucket // timedelta(seconds=1)}"
    await store.write(
        batch([(float(s), sid, float(v), "good") for s, v in zip(seconds, values, strict=True)])
    )
    await store.sync()
    start, end = T0, T0 + timedelta(seconds=span_s)
    bucket_us = bucket // timedelta(microseconds=1)
    grid = bucket_grid(to_us(start), to_us(end), bucket_us)
    at = to_us(T0) + seconds * US
    which = (at - grid[0]) // bucket_us
    want_count = np.bincount(which, minlength=len(grid)).astype(np.float64)
    want_sum = np.bincount(which, weights=values, minlength=len(grid))
    counts = (await store.history([sid], start, end, bucket, Aggregate.COUNT, Fill.NULL))[sid]
    sums = (await store.history([sid], start, end, bucket, Aggregate.SUM))[sid]
    assert counts.times.tolist() == grid.tolist()
    assert sums.times.tolist() == grid[want_count > 0].tolist()
    assert (grid % bucket_us == 0).all()
    np.testing.assert_allclose(counts.values, want_count)
    np.testing.assert_allclose(sums.values, want_sum[want_count > 0])
    if bucket == timedelta(days=1):
        midnight = datetime(2024, 3, 1, tzinfo=UTC)
        assert counts.times[0] == to_us(midnight)


async def test_missing_readings_at_bucket_edges(store: ReadingsStore) -> None:
    """A ``missing`` reading (null value) first or last in a bucket is skipped by first
    and last, as by every aggregate; a bucket of missing readings only is still there
    (NaN, a count of 0)."""
    await store.write(
        batch(
            [
                (0, "e1", None, "missing"),  # first in bucket 0
                (10, "e1", 1.0, "good"),
                (50, "e1", 2.0, "good"),
                (59, "e1", None, "missing"),  # last in bucket 0
                (60, "e1", None, "missing"),  # bucket 1: missing only
                (119, "e1", None, "missing"),
                (125, "e1", 5.0, "good"),  # bucket 2: one good between missing ones
                (121, "e1", None, "missing"),
                (179, "e1", None, "missing"),
            ]
        )
    )
    await store.sync()
    want = {
        Aggregate.FIRST: [1.0, np.nan, 5.0],
        Aggregate.LAST: [2.0, np.nan, 5.0],
        Aggregate.AVG: [1.5, np.nan, 5.0],
        Aggregate.MIN: [1.0, np.nan, 5.0],
        Aggregate.MAX: [2.0, np.nan, 5.0],
        Aggregate.COUNT: [2.0, 0.0, 1.0],
    }
    end = T0 + timedelta(minutes=3)
    for aggregate, expected in want.items():
        got = (await store.history(["e1"], T0, end, timedelta(minutes=1), aggregate))["e1"]
        assert got.times.tolist() == [to_us(T0) + m * 60 * US for m in range(3)], aggregate
        np.testing.assert_allclose(got.values, expected, err_msg=aggregate)


@pytest.mark.parametrize(
    ("fill", "expected"),
    [
        (Fill.NONE, None),
        (Fill.NULL, [np.nan, 2.0, np.nan, np.nan, 8.0, np.nan]),
        (Fill.PREVIOUS, [np.nan, 2.0, 2.0, 2.0, 8.0, 8.0]),
        (Fill.LINEAR, [np.nan, 2.0, 4.0, 6.0, 8.0, np.nan]),
    ],
)
async def test_fill_strategies(
    store: ReadingsStore, fill: Fill, expected: list[float] | None
) -> None:
    await store.write(
        batch([(60, "f1", 1.0, "good"), (90, "f1", 3.0, "good"), (245, "f1", 8.0, "good")])
    )
    await store.sync()
    got = (
        await store.history(
            ["f1"], T0, T0 + timedelta(minutes=6), timedelta(minutes=1), Aggregate.AVG, fill
        )
    )["f1"]
    if expected is None:
        assert got.times.tolist() == [to_us(T0) + 60 * US, to_us(T0) + 240 * US]
        assert got.values.tolist() == [2.0, 8.0]
        return
    assert got.times.tolist() == [to_us(T0) + m * 60 * US for m in range(6)]
    np.testing.assert_allclose(got.values, expected)


async def test_several_sensors_on_one_time_axis(store: ReadingsStore) -> None:
    await store.write(
        batch([(0, "x1", 1.0, "good"), (120, "x1", 3.0, "good"), (60, "x2", 5.0, "good")])
    )
    await store.sync()
    start, end, bucket = T0, T0 + timedelta(minutes=3), timedelta(minutes=1)
    series = await store.history(["x1", "x2"], start, end, bucket, fill=Fill.NULL)
    grid = bucket_grid(to_us(start), to_us(end), bucket // timedelta(microseconds=1))
    matrix = align(series, ["x1", "x2"], grid)
    np.testing.assert_allclose(matrix, [[1.0, np.nan, 3.0], [np.nan, 5.0, np.nan]])


async def test_summary_many_sensors(store: ReadingsStore) -> None:
    await store.write(
        batch(
            [
                (0, "m1", 1.0, "good"),
                (10, "m1", 5.0, "good"),
                (20, "m1", 500.0, "bad"),
                (5, "m2", 2.0, "good"),
                (8, "m2", None, "missing"),
            ]
        )
    )
    await store.sync()
    end = T0 + timedelta(minutes=1)
    got = await store.summary(["m1", "m2", "m3"], T0, end)
    m1 = got["m1"]
    assert (m1.count, m1.min, m1.max, m1.avg, m1.last) == (2, 1.0, 5.0, 3.0, 5.0)
    assert m1.last_ts == T0 + timedelta(seconds=10)
    assert got["m2"].count == 1 and got["m2"].last == 2.0
    assert got["m3"].count == 0 and got["m3"].avg is None
    assert (await store.summary(["m1"], T0, end, include_bad=True))["m1"].max == 500.0


async def test_rejected_are_kept_and_replays_are_idempotent(store: ReadingsStore) -> None:
    rows = [
        RejectedRow(1, T0, "s1", "a1", '{"sensor_id": "s1"}', "unknown sensor"),
        RejectedRow(2, T0 + timedelta(seconds=1), "s2", "", "not json", "malformed JSON"),
    ]
    await store.write_rejected(rows)
    await store.write_rejected(rows)
    await store.sync()
    got = await store.rejected(limit=10)
    assert [r.id for r in got] == [2, 1]
    assert got[1] == rows[0]
    assert [r.id for r in await store.rejected(sensor_id="s1")] == [1]
    assert [r.id for r in await store.rejected(since=T0 + timedelta(seconds=1))] == [2]


async def test_unstorable_text_is_refused_not_unavailable(store: ReadingsStore) -> None:
    """Text no store can hold (a lone surrogate) is refused with an error that is not
    ``Unavailable``: the batching writer must not retry it forever."""
    bad = RejectedRow(3, T0, "s1", "a1", "bad \ud800 text", "unknown sensor")
    with pytest.raises((ValueError, ValidationError)) as refused:
        await store.write_rejected([bad])
    assert not isinstance(refused.value, Unavailable)
    await store.write_rejected([RejectedRow(4, T0, "s1", "a1", "fine", "unknown sensor")])
    await store.sync()
    assert [r.id for r in await store.rejected()] == [4]


async def test_events(store: ReadingsStore) -> None:
    rows = [EventRow(T0, "a1", "alert", '{"x": 1}'), EventRow(T0, "a2", "alert", "{}")]
    await store.write_events(rows)
    await store.write_events(rows[:1])
    await store.sync()
    got = await store.events(["a1"], T0, T0 + timedelta(minutes=1))
    assert got == rows[:1]


async def test_window_errors(store: ReadingsStore) -> None:
    with pytest.raises(ValidationError):
        await store.history(["s"], T0, T0)
    with pytest.raises(ValidationError):
        await store.history(["s"], T0.replace(tzinfo=None), T0 + timedelta(hours=1))
    with pytest.raises(ValidationError):
        await store.history(["s"], T0, T0 + timedelta(days=365), timedelta(milliseconds=1))
