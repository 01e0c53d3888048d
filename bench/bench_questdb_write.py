"""QuestDB writes: the store's write path against the raw ``questdb`` client writing the
same rows, in the same run. Prints figures; asserts nothing.

    TWINQL_QUESTDB_URL=http://127.0.0.1:9000 python bench/bench_questdb_write.py \
        [--rows 200000] [--batch 10000] [--rounds 3]

Rows: 1,000 sensors on 100 assets, distinct timestamps, 2 % missing values, 5 % bad.

With ``TWINQL_QUESTDB_URL`` set (PG wire on port 8812 of the same host), three paths
write the rows in batches of ``--batch`` into tables of the store's own schema (each
path its own table prefix), rounds interleaved, each round new timestamps:
- store: ``QuestDBStore.write(ReadingBatch)``, the path ``POST /ingest`` ends in;
- raw client: one ``Sender`` kept open, ``sender.row`` per row from prepared Python
  tuples, one ``flush()`` per batch: the client used directly, no store around it;
- per-batch sender: what the store did before (a new ``Sender`` per batch, rows added
  with per-index dicts), for comparison.
Time runs until the last flush returns (the server has the rows); the table then holds
them (checked after ``sync()``).

Without a server it measures only the client-side cost of building the ILP buffer
(``questdb.ingress.Buffer``, made by a sender that is never connected) for the store's
path (dedup + ``add_readings``) and the raw client's row loop, for ILP protocol 1
(QuestDB 8.x, text doubles) and 2 (QuestDB 9.x, binary doubles), and checks that both
produce the same bytes. The output says which mode ran.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import numpy as np
import psycopg
from questdb import Sender, TimestampMicros

from ingest.store import QuestDBStore, ReadingBatch
from ingest.store.questdb_ilp import add_readings

URL_ENV = "TWINQL_QUESTDB_URL"
T0_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z

Row = tuple[int, str, str, float | None, str]


def make_batch(n: int, round_no: int) -> ReadingBatch:
    """``n`` readings; each round its own timestamps."""
    rng = np.random.default_rng(round_no)
    i = np.arange(n)
    ts = T0_US + round_no * 10**12 + i * 1_000  # 1 ms apart: all distinct
    sensor = np.array([f"s-{k}" for k in range(1_000)], dtype=object)[i % 1_000]
    asset = np.array([f"a-{k}" for k in range(100)], dtype=object)[(i % 1_000) // 10]
    value = rng.normal(50.0, 10.0, n)
    value[rng.random(n) < 0.02] = np.nan
    quality = np.where(rng.random(n) < 0.05, "bad", "good").astype(object)
    quality[np.isnan(value)] = "missing"
    return ReadingBatch.from_columns(ts, sensor, asset, value, quality)


def split(batch: ReadingBatch, size: int) -> list[ReadingBatch]:
    return [batch.take(slice(i, i + size)) for i in range(0, len(batch), size)]


def as_tuples(batch: ReadingBatch) -> list[Row]:
    """The readings as a raw-client user would hold them (None for a missing value)."""
    return [
        (t, s, a, None if np.isnan(v) else v, q)
        for t, s, a, v, q in zip(
            batch.ts.tolist(),
            batch.sensor_id.tolist(),
            batch.asset_id.tolist(),
            batch.value.tolist(),
            batch.quality.tolist(),
            strict=True,
        )
    ]


def raw_rows(target: Any, table: str, rows: list[Row]) -> None:
    """The raw client, as its docs show it: one ``row`` call per reading."""
    for t, sid, aid, v, q in rows:
        target.row(
            table,
            symbols={"sensor_id": sid, "asset_id": aid, "quality": q},
            columns={"value": v},
            at=TimestampMicros(t),
        )


def previous_store_rows(target: Any, table: str, batch: ReadingBatch) -> None:
    """The store's row loop before this change (per-index lists, a dict per row)."""
    batch = batch.dedup()
    ts, vals = batch.ts.tolist(), batch.value.tolist()
    sids, aids, quals = batch.sensor_id.tolist(), batch.asset_id.tolist(), batch.quality
    finite = np.isfinite(batch.value).tolist()
    for i in range(len(ts)):
        target.row(
            table,
            symbols={"sensor_id": sids[i], "asset_id": aids[i], "quality": quals[i]},
            columns={"value": vals[i]} if finite[i] else {},
            at=TimestampMicros(ts[i]),
        )


# -- without a server: the client-side cost of the ILP buffer ----------------------------


def offline(rows: int, batch_size: int, rounds: int) -> None:
    print(f"no {URL_ENV}: no QuestDB server, so this measures only the client-side cost")
    print("of building the ILP buffer (no HTTP, no server); the store's write adds one")
    print("flush per batch on its kept sender, as the raw client's does.")
    print(f"{rows:,} readings in batches of {batch_size:,}, best of {rounds} interleaved runs\n")
    batches = split(make_batch(rows, 0), batch_size)
    tuples = [as_tuples(b) for b in batches]
    for version in (1, 2):
        sender = Sender.from_conf(f"http::addr=127.0.0.1:1;protocol_version={version};")
        sender.establish()  # an explicit protocol version: nothing is contacted

        def store_fill(buf: Any, k: int) -> None:
            add_readings(buf, "readings", batches[k].dedup())

        def raw_fill(buf: Any, k: int) -> None:
            raw_rows(buf, "readings", tuples[k])

        def previous_fill(buf: Any, k: int) -> None:
            previous_store_rows(buf, "readings", batches[k])

        paths = {
            "raw client row loop": raw_fill,
            "store path (dedup + add_readings)": store_fill,
            "previous store row loop (+ dedup)": previous_fill,
        }
        best = dict.fromkeys(paths, float("inf"))
        for r in range(rounds):  # interleaved, the order rotating: load hits all alike
            names = list(paths)
            for name in names[r % 3 :] + names[: r % 3]:
                t = time.perf_counter()
                for k in range(len(batches)):
                    paths[name](sender.new_buffer(), k)
                best[name] = min(best[name], time.perf_counter() - t)
        same = all(
            bytes(_filled(sender, store_fill, k)) == bytes(_filled(sender, raw_fill, k))
            for k in range(len(batches))
        )
        raw_s = best["raw client row loop"]
        print(f"ILP protocol {version} (same bytes from both paths: {'yes' if same else 'NO'})")
        for name, s in best.items():
            print(
                f"  {name:36s} {rows / s:>12,.0f} rows/s  {s / rows * 1e9:6.0f} ns/row"
                f"  {raw_s / s:5.2f} x raw"
            )
        sender.close(flush=False)
        print()


def _filled(sender: Sender, fill: Callable[[Any, int], None], k: int) -> Any:
    buf = sender.new_buffer()
    fill(buf, k)
    return buf


# -- with a server ---------------------------------------------------------------------


async def online(url: str, rows: int, batch_size: int, rounds: int) -> None:
    host = urlparse(url).hostname or "127.0.0.1"
    conf = f"http::addr={host}:{urlparse(url).port or 9000};auto_flush=off;"
    print(f"QuestDB at {url}: {rows:,} readings per round in batches of {batch_size:,}")
    print("(each path its own tables of the store's schema; time until the last flush)\n")
    prefixes = {name: f"b{uuid.uuid4().hex[:8]}_" for name in ("store", "raw", "previous")}
    stores = {name: await QuestDBStore(url, table_prefix=p).open() for name, p in prefixes.items()}
    rates: dict[str, list[float]] = {name: [] for name in prefixes}
    try:
        for r in range(rounds):
            batches = split(make_batch(rows, r + 1), batch_size)
            tuples = [as_tuples(b) for b in batches]
            order = ["store", "raw", "previous"] if r % 2 == 0 else ["previous", "raw", "store"]
            for name in order:
                table = f"{prefixes[name]}readings"
                t = time.perf_counter()
                if name == "store":
                    for b in batches:
                        await stores["store"].write(b)
                elif name == "raw":
                    await asyncio.to_thread(_raw_write, conf, table, tuples)
                else:
                    await asyncio.to_thread(_previous_write, conf, table, batches)
                rates[name].append(rows / (time.perf_counter() - t))
        for store in stores.values():
            await store.sync()
        counts = await count_rows(host, [f"{p}readings" for p in prefixes.values()])
    finally:
        for store in stores.values():
            await store.aclose()
    raw = statistics.median(rates["raw"])
    for name, label in (
        ("raw", "raw client, one sender"),
        ("store", "store.write (kept sender)"),
        ("previous", "previous store (sender per batch)"),
    ):
        med = statistics.median(rates[name])
        print(
            f"  {label:36s} {med:>12,.0f} rows/s (median of {rounds})  {med / raw:5.2f} x raw"
            f"   stored {counts[f'{prefixes[name]}readings']:,}"
        )


async def count_rows(host: str, tables: list[str]) -> dict[str, int]:
    """Rows per table, over QuestDB's PG wire with its default credentials."""
    out = {}
    async with await psycopg.AsyncConnection.connect(
        host=host, port=8812, user="admin", password="quest", dbname="qdb", autocommit=True
    ) as conn:
        for table in tables:
            cur = await conn.execute(f"SELECT count() FROM {table}")
            row = await cur.fetchone()
            out[table] = int(row[0]) if row else 0
    return out


def _raw_write(conf: str, table: str, batches: list[list[Row]]) -> None:
    with Sender.from_conf(conf) as sender:
        for rows in batches:
            raw_rows(sender, table, rows)
            sender.flush()


def _previous_write(conf: str, table: str, batches: list[ReadingBatch]) -> None:
    for batch in batches:
        with Sender.from_conf(conf) as sender:
            previous_store_rows(sender, table, batch)
            sender.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    url = os.environ.get(URL_ENV)
    if url:
        asyncio.run(online(url, args.rows, args.batch, args.rounds))
    else:
        offline(args.rows, args.batch, args.rounds)


if __name__ == "__main__":
    main()
