"""The document cache (``api.common.document_cache``): a repeated query text skips parsing and
validation, and a refused text is refused again, word for word, from the cache."""

from __future__ import annotations

from graphql import parse

from api.common.document_cache import DocumentCache
from api.schema import build_schema
from tests.api.test_query_limits_fragments import doubling


def messages(result: object) -> list[tuple[str, str]]:
    errors = getattr(result, "errors", None) or ()
    return [(e.message, (e.extensions or {}).get("code", "")) for e in errors]


async def test_a_hostile_document_is_refused_the_same_way_from_the_cache() -> None:
    cache = DocumentCache()
    schema = build_schema(documents=cache)
    query = doubling(40)
    first = await schema.execute(query)
    again = await schema.execute(query)
    assert first.data is None and again.data is None
    assert messages(first) == messages(again)
    assert messages(first)[0][0].startswith("query cost")
    assert messages(first)[0][1] == "VALIDATION"
    assert (cache.misses, cache.hits, len(cache)) == (1, 1, 1)


async def test_too_deep_and_too_many_aliases_are_refused_again() -> None:
    cache = DocumentCache()
    schema = build_schema(max_depth=2, documents=cache)
    deep = "{ assets { nodes { parent { parent { id } } } } }"
    aliases = "{ " + " ".join(f'a{i}: asset(id: "x") {{ id }}' for i in range(60)) + " }"
    for query in (deep, aliases, deep, aliases):
        result = await schema.execute(query)
        assert result.data is None
        assert [code for _, code in messages(result)] == ["VALIDATION"]
    assert "maximum operation depth of 2" in messages(await schema.execute(deep))[0][0]
    assert "60 aliases" in messages(await schema.execute(aliases))[0][0]
    assert cache.hits == 4 and len(cache) == 2


async def test_a_text_that_does_not_parse_is_not_cached() -> None:
    cache = DocumentCache()
    schema = build_schema(documents=cache)
    for _ in range(2):
        result = await schema.execute("{ assets { ")
        assert result.errors and "Syntax Error" in result.errors[0].message
    too_many = "{ " + "asset " * 6_000 + "}"
    result = await schema.execute(too_many)
    assert result.errors and "token" in result.errors[0].message.lower()
    assert len(cache) == 0


async def test_a_valid_document_is_validated_once() -> None:
    cache = DocumentCache()
    schema = build_schema(documents=cache)
    query = "query Q($id: ID!) { sensor(id: $id) { latest { value } } }"
    for i in range(3):
        result = await schema.execute(query, variable_values={"id": f"s{i}"})
        # no context here: execution fails, but after validation passed
        assert all(code != "VALIDATION" for _, code in messages(result))
    assert (cache.misses, cache.hits) == (1, 2)


def test_the_cache_is_bounded_least_recently_used_out() -> None:
    cache = DocumentCache(maxsize=2)
    for text in ("{ a }", "{ b }"):
        cache.put(text, parse(text), [])
    assert cache.get("{ a }") is not None  # a is now the most recent
    cache.put("{ c }", parse("{ c }"), [])
    assert cache.get("{ b }") is None
    assert cache.get("{ a }") is not None and cache.get("{ c }") is not None
    assert len(cache) == 2


NESTED = """query Q($n: Int!, $m: Int!) {
  assets(first: $n) { nodes { children(first: $m) { nodes { id name } } } }
}"""


async def test_variable_page_sizes_are_costed_with_each_requests_values() -> None:
    cache = DocumentCache()
    schema = build_schema(max_cost=10_000, documents=cache)
    # 1 + 100 x (1 + 1 + 200 x 3) = 60,201 > 10,000
    big = await schema.execute(NESTED, variable_values={"n": 100, "m": 200})
    assert big.data is None
    assert messages(big) == [
        (
            "query cost 60201 exceeds the limit of 10000: ask for fewer items (first/limit) "
            "or fewer nested lists, or spread fragments fewer times",
            "VALIDATION",
        )
    ]
    # the same text with small sizes is not refused by cost (the cache hit is re-costed)
    small = await schema.execute(NESTED, variable_values={"n": 2, "m": 3})
    assert all("cost" not in m for m, _ in messages(small))
    again = await schema.execute(NESTED, variable_values={"n": 100, "m": 200})
    assert messages(again) == messages(big)
    assert (cache.misses, cache.hits) == (1, 2)
