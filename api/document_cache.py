"""Parsed and validated documents, cached per schema by query text.

A client sends the same few query texts again and again (variables change, the text
does not). ``DocumentCache`` keeps, for the last ``maxsize`` texts that parsed, the
document and its validation errors: graphql-core's rules plus twinql's limit rule
(``api.limits``: depth, aliases and cost), whose result depends on the document alone
(validation sees no variables: a ``first: $n`` is costed at the field's default), so a
repeated text skips parsing, validation and the limit walks. A refused document is
cached with its errors and refused again from the cache, word for word. A text that
fails to parse (too many tokens included) is not cached: it fails again, as before.
The cache is bounded (least recently used out) and lives with its schema, so a text
validated against one schema is never reused against another.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from graphql import DocumentNode, GraphQLError
from strawberry.extensions import SchemaExtension

__all__ = ["DEFAULT_MAXSIZE", "CachedDocuments", "DocumentCache"]

DEFAULT_MAXSIZE = 256


class DocumentCache:
    """Query text -> (document, validation errors); least recently used out."""

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[str, tuple[DocumentNode, tuple[GraphQLError, ...]]] = (
            OrderedDict()
        )
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, text: str) -> tuple[DocumentNode, tuple[GraphQLError, ...]] | None:
        entry = self._entries.get(text)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(text)
        self.hits += 1
        return entry

    def put(self, text: str, document: DocumentNode, errors: list[GraphQLError]) -> None:
        self._entries[text] = (document, tuple(errors))
        self._entries.move_to_end(text)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)


class CachedDocuments(SchemaExtension):
    """The per-operation extension over a schema's ``DocumentCache`` (pass a factory:
    ``lambda: CachedDocuments(cache)``)."""

    def __init__(self, cache: DocumentCache) -> None:
        super().__init__()
        self.cache = cache
        self._errors: tuple[GraphQLError, ...] | None = None

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        text = ctx.query
        if text and ctx.graphql_document is None:
            hit = self.cache.get(text)
            if hit is not None:
                ctx.graphql_document, self._errors = hit
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if self._errors is not None:
            ctx.pre_execution_errors = list(self._errors)
            yield
            return
        yield
        if ctx.query and ctx.graphql_document is not None and ctx.pre_execution_errors is not None:
            self.cache.put(ctx.query, ctx.graphql_document, ctx.pre_execution_errors)
