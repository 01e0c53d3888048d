"""Bolt sessions are reused across units of work (``graph.bolt.client``): never by two
units at once, never after an error, and at most ``IDLE_SESSIONS`` kept idle."""

from __future__ import annotations

import asyncio

import pytest

from graph.bolt import client as client_module
from graph.bolt.client import GraphClient, Tx
from graph.errors import TwinqlError


async def test_sequential_reads_share_one_session(graph_client: GraphClient) -> None:
    await graph_client.read("RETURN 1 AS x")
    idle = list(graph_client._idle)
    assert len(idle) >= 1
    for i in range(5):
        assert await graph_client.read("RETURN $i AS x", i=i) == [{"x": i}]
    assert graph_client._idle == idle  # the same session objects, no new ones


async def test_concurrent_units_each_get_their_own_session(graph_client: GraphClient) -> None:
    in_use: set[int] = set()
    shared: list[int] = []

    async def work(tx: Tx) -> int:
        me = id(tx._tx)
        if me in in_use:
            shared.append(me)
        in_use.add(me)
        rows = await tx.rows("UNWIND range(1, 50) AS i RETURN sum(i) AS s")
        await asyncio.sleep(0.01)
        in_use.discard(me)
        return int(rows[0]["s"])

    sessions_seen: set[int] = set()
    original = graph_client._driver.session

    def spy(**kwargs: object) -> object:
        session = original(**kwargs)  # type: ignore[arg-type]
        sessions_seen.add(id(session))
        return session

    graph_client._driver.session = spy  # type: ignore[method-assign]
    try:
        got = await asyncio.gather(*(graph_client.read_tx(work) for _ in range(60)))
    finally:
        graph_client._driver.session = original  # type: ignore[method-assign]
    assert got == [1275] * 60
    assert shared == []
    assert len(graph_client._idle) <= client_module.IDLE_SESSIONS
    # the second wave reuses the first wave's sessions
    sessions_seen.clear()
    graph_client._driver.session = spy  # type: ignore[method-assign]
    try:
        await asyncio.gather(*(graph_client.read_tx(work) for _ in range(8)))
    finally:
        graph_client._driver.session = original  # type: ignore[method-assign]
    assert sessions_seen == set()


async def test_a_session_that_failed_is_not_reused(graph_client: GraphClient) -> None:
    await graph_client.read("RETURN 1 AS x")
    before = list(graph_client._idle)
    failing = before[-1]
    with pytest.raises(TwinqlError):
        await graph_client.read("RETURN 1 / 0 AS x")
    assert failing not in graph_client._idle
    assert await graph_client.read("RETURN 2 AS x") == [{"x": 2}]


async def test_writes_and_reads_alternate_on_reused_sessions(
    graph_client: GraphClient, uid: str
) -> None:
    for i in range(5):
        await graph_client.write(
            "MERGE (n:ReuseProbe {id: $id}) SET n.v = $v", id=f"{uid}-probe", v=i
        )
        rows = await graph_client.read(
            "MATCH (n:ReuseProbe {id: $id}) RETURN n.v AS v", id=f"{uid}-probe"
        )
        assert rows == [{"v": i}]
    await graph_client.write("MATCH (n:ReuseProbe {id: $id}) DELETE n", id=f"{uid}-probe")
