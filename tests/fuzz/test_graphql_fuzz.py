"""GraphQL documents fuzzed against the served app with an admin key: arbitrary text,
and queries built from the real schema (``schema.graphql``): random selections of the
query fields and their sub-fields, nested, aliased, in inline and named fragments, with
arguments as literals or variables, now and then of the wrong type, null, out of range
or naming ids that do not exist.

Every answer is JSON with ``data`` or ``errors``, never a 5xx, and no error is an
unexpected one (``INTERNAL``, "Unexpected error."): a bad document or argument is a
coded error (``VALIDATION``, ``NOT_FOUND`` ...). Only queries: mutations change state
and are fuzzed through their own paths (ingest, plant import).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    Undefined,
    build_schema,
    get_named_type,
)
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import U, examples
from tests.support.app import Api
from tests.support.tokens import ADMIN

SCHEMA = build_schema((Path(__file__).resolve().parents[2] / "schema.graphql").read_text())
QUERY = SCHEMA.query_type
assert QUERY is not None
IDS = [f"{U}-site", f"{U}-pump", f"{U}-pt", f"{U}-tt", f"{U}-mqtt", "nope", ""]
TIMES = ["2026-01-05T08:00:00Z", "2026-01-05T08:00:00", "yesterday", "9999-12-31T23:59:59Z",
         "0001-01-01T00:00:00Z", "2026-13-01T00:00:00Z", ""]  # fmt: skip
NAMES = st.sampled_from(["a", "b", "x1", "_y", "sensors", "id", "__typename"])


def _quoted(text: str) -> str:
    return json.dumps(text)  # a GraphQL string literal (JSON escapes are GraphQL's)


# --- values of a given input type, as literals (text) or as variable values (JSON) ------


def _scalar(draw: st.DrawFn, name: str, hostile: bool) -> Any:
    if name == "Int":
        wild = st.integers(-3, 30) | st.integers(-(2**40), 2**40)
        return draw(wild if hostile else st.integers(1, 20))
    if name == "Float":
        wild = st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from([0.0, 1e300, -1e-300])
        return draw(wild if hostile else st.floats(0.5, 24.0))
    if name == "Boolean":
        return draw(st.booleans())
    if name == "DateTime":
        return draw(st.sampled_from(TIMES if hostile else TIMES[:1]))
    if name == "JSON":
        return draw(
            st.dictionaries(st.sampled_from(["a", "b", "k"]), st.integers(0, 9), max_size=2)
        )
    if hostile:
        return draw(st.sampled_from(IDS) | st.text(max_size=12))  # ID, String, others
    return draw(st.sampled_from(IDS[:5]))


def _wrong(draw: st.DrawFn) -> Any:
    return draw(
        st.sampled_from([None, "x", 7, 2**40, 1.5, True, [], {"z": 1}, ["a", 1], -1, "", 10**12])
    )


def value_of(draw: st.DrawFn, t: GraphQLInputType, hostile: bool, depth: int = 0) -> Any:
    """A value for ``t``; when ``hostile``, now and then a wrong one (then the API must
    answer VALIDATION), else one a careful client might send."""
    if hostile and draw(st.integers(0, 9)) == 0:
        return _wrong(draw)
    if isinstance(t, GraphQLNonNull):
        return value_of(draw, t.of_type, hostile, depth)
    if isinstance(t, GraphQLList):
        if depth > 2:
            return []
        n = draw(st.integers(0 if hostile else 1, 3))
        return [value_of(draw, t.of_type, hostile, depth + 1) for _ in range(n)]
    if isinstance(t, GraphQLEnumType):
        return draw(st.sampled_from([*t.values, *(["NOT_A_VALUE"] if hostile else [])]))
    if isinstance(t, GraphQLInputObjectType):
        out: dict[str, Any] = {}
        for name, f in t.fields.items():
            required = isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined
            if (required or draw(st.booleans())) and depth < 3:
                out[name] = value_of(draw, f.type, hostile, depth + 1)
        return out
    assert isinstance(t, GraphQLScalarType)
    return _scalar(draw, t.name, hostile)


def literal(value: Any, t: GraphQLInputType | None) -> str:
    """``value`` written as a GraphQL literal (enum values bare where ``t`` is an enum)."""
    named = get_named_type(t) if t is not None else None
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, int) else repr(float(value))
    if isinstance(value, str):
        is_enum = isinstance(named, GraphQLEnumType) and value.isidentifier()
        return value if is_enum else _quoted(value)
    if isinstance(value, list):
        inner = t.of_type if isinstance(t, GraphQLList) else None
        if isinstance(t, GraphQLNonNull) and isinstance(t.of_type, GraphQLList):
            inner = t.of_type.of_type
        return "[" + ", ".join(literal(v, inner) for v in value) + "]"
    fields = named.fields if isinstance(named, GraphQLInputObjectType) else {}
    parts = [
        f"{k}: {literal(v, fields[k].type if k in fields else None)}" for k, v in value.items()
    ]
    return "{" + ", ".join(parts) + "}"


# --- documents ----------------------------------------------------------------------------


class Doc:
    """What a document being built declares besides its selection."""

    def __init__(self, hostile: bool) -> None:
        self.hostile = hostile
        self.aliases = itertools.count()
        self.variables: dict[str, Any] = {}
        self.declared: list[str] = []
        self.fragments: list[str] = []


def _arguments(draw: st.DrawFn, field: Any, doc: Doc) -> str:
    parts = []
    for name, arg in field.args.items():
        required = isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
        if not (required or draw(st.integers(0, 3)) == 0):
            continue
        value = value_of(draw, arg.type, doc.hostile)
        if draw(st.integers(0, 3)) == 0:  # as a variable, sometimes declared wrongly
            var = f"v{len(doc.declared)}"
            declared = str(arg.type)
            if doc.hostile and draw(st.integers(0, 4)) == 0:
                declared = draw(st.sampled_from(["Int", "String!", "[ID!]!", "Boolean", "JSON"]))
            doc.declared.append(f"${var}: {declared}")
            if not doc.hostile or draw(st.integers(0, 6)):  # else: declared, not given
                doc.variables[var] = value
            parts.append(f"{name}: ${var}")
        else:
            parts.append(f"{name}: {literal(value, arg.type)}")
    return f"({', '.join(parts)})" if parts else ""


def selection(draw: st.DrawFn, t: Any, depth: int, doc: Doc) -> str:
    """A selection set on the object, interface or union type ``t``."""
    if isinstance(t, GraphQLUnionType):
        member = draw(st.sampled_from(t.types))
        return "{ __typename ... on %s %s }" % (member.name, selection(draw, member, depth, doc))
    assert isinstance(t, GraphQLObjectType | GraphQLInterfaceType)
    names = sorted(t.fields)
    leaves = [n for n in names if not _composite(t.fields[n].type)]
    pool = names if depth > 0 else leaves or ["__typename"]
    picked = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=not doc.hostile))
    items = []
    for name in picked:
        if name == "__typename":
            items.append(name)
            continue
        field = t.fields[name]
        alias = ""
        if draw(st.integers(0, 4)) == 0:  # clashing aliases are the hostile kind
            alias = f"{draw(NAMES)}: " if doc.hostile else f"a{next(doc.aliases)}: "
        item = f"{alias}{name}{_arguments(draw, field, doc)}"
        target = get_named_type(field.type)
        if _composite(field.type):
            item += " " + selection(draw, target, depth - 1, doc)
        items.append(item)
    body = " ".join(items)
    how = draw(st.integers(0, 5))
    if how == 0:  # an inline fragment on the type
        body = f"... on {t.name} {{ {body} }}"
    elif how == 1:  # a named fragment
        name = f"F{len(doc.fragments)}"
        doc.fragments.append(f"fragment {name} on {t.name} {{ {body} }}")
        body = f"...{name}"
    return "{ " + body + " }"


def _composite(t: Any) -> bool:
    return isinstance(
        get_named_type(t), GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType
    )


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    doc = Doc(hostile=draw(st.booleans()))
    body = selection(draw, QUERY, draw(st.integers(1, 4)), doc)
    head = f"query Q({', '.join(doc.declared)})" if doc.declared else "query Q"
    return " ".join([head, body, *doc.fragments]), doc.variables


async def _answer(api: Api, payload: bytes) -> dict[str, Any]:
    r = await api.client.post(
        "/graphql",
        content=payload,
        headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
    )
    assert r.status_code < 500, (r.status_code, r.text)
    body = r.json()
    assert isinstance(body, dict) and ("data" in body or "errors" in body), body
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        event(f"error code {code}")
        assert code not in (None, "INTERNAL"), error
        assert "Unexpected error" not in error["message"], error
        assert error["message"], error
    if not body.get("errors"):
        event("no errors")
    return body


@settings(parent=settings.get_profile("fuzz"), max_examples=examples(60))
@given(case=documents())
# Found here: a variable value that does not coerce was INTERNAL "Unexpected error."
# (graphql-core 3.3 keeps its own error as the original; fixed in api/errors.py).
@example(case=("query Q($v0: ID!) { actuator(id: $v0) { id } }", {}))
@example(case=("query Q($v0: DateTime) { rejectedReadings(since: $v0) { raw } }", {"v0": "x"}))
@example(case=("query Q($v0: AssetLevel) { assets(level: $v0) { nodes { id } } }", {"v0": 1}))
async def test_schema_built_queries_answer_data_or_coded_errors(
    fuzz_api: Api, case: tuple[str, dict[str, Any]]
) -> None:
    query, variables = case
    await _answer(fuzz_api, json.dumps({"query": query, "variables": variables}).encode())


GRAPHQL_TEXT = st.text(
    st.sampled_from(list('{}()[]:$@!.,"=| \n#abcdeQqfragmentonquery_1')), max_size=80
)


@settings(parent=settings.get_profile("fuzz"), max_examples=examples(40))
@given(
    query=GRAPHQL_TEXT | st.text(max_size=40),
    variables=st.none() | st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=3)),
    shape=st.sampled_from(["object", "list", "no query", "query not text", "raw text"]),
    media=st.sampled_from(
        [
            "application/json",
            "application/graphql-response+json",
            "text/plain",
            "application/graphql",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            None,
        ]
    ),
)
@example(query="{ graphStats { assets } }", variables=None, shape="object", media=None)
# Found here: a request refused before execution was a plain-text 400 (strawberry's
# HTTPException); fixed in api/app.py (JSON errors with a code, same status).
@example(query="", variables=None, shape="object", media="application/json")
@example(query="{ graphStats { assets } }", variables=None, shape="list", media="application/json")
@example(
    query="{ graphStats { assets } }",
    variables=None,
    shape="query not text",
    media="application/json",
)
async def test_arbitrary_text_answers_data_or_coded_errors(
    fuzz_api: Api, query: str, variables: dict[str, Any] | None, shape: str, media: str | None
) -> None:
    payload: object = {"query": query, "variables": variables}
    if shape == "list":
        payload = [payload]
    elif shape == "no query":
        payload = {"variables": variables}
    elif shape == "query not text":
        payload = {"query": [query], "variables": variables}
    content = query if shape == "raw text" else json.dumps(payload)
    headers = {"Authorization": f"Bearer {ADMIN}"}
    if media is not None:
        headers["Content-Type"] = media
    r = await fuzz_api.client.post("/graphql", content=content.encode(), headers=headers)
    assert r.status_code < 500, (r.status_code, r.text)
    body = r.json()
    assert isinstance(body, dict) and ("data" in body or "errors" in body), body
    for error in body.get("errors") or []:
        assert error["extensions"]["code"] not in (None, "INTERNAL"), error
        assert error["message"] and "Unexpected error" not in error["message"], error
