"""Parsed and validated documents, cached per schema by query text.

A client sends the same few query texts again and again (variables change, the text
does not). ``DocumentCache`` keeps, for the last ``maxsize`` texts that parsed, the
document and its validation errors: graphql-core's rules plus twinql's limit rule
(``api.limits``: depth, aliases and cost), whose result depends on the document alone
(validation sees no variables), so a repeated text skips parsing, validation and the
limit walks. A document whose list sizes are variables (``first: $n``) is costed again
with each request's variables (``api.limits.cost_with_variables``), so a large ``$n``
is refused as the same number written in the text would be. A refused document is
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
from strawberry.schema.schema import validate_document

from api.limits import cost_with_variables, sized_by_variables

__all__ = ["DEFAULT_MAXSIZE", "CachedDocuments", "DocumentCache"]

DEFAULT_MAXSIZE = 256


Entry = tuple[DocumentNode, tuple[GraphQLError, ...], bool]


class DocumentCache:
    """Query text -> (document, validation errors, sized by variables); least recently
    used out."""

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, text: str) -> Entry | None:
        entry = self._entries.get(text)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(text)
        self.hits += 1
        return entry

    def put(self, text: str, document: DocumentNode, errors: list[GraphQLError]) -> Entry:
        entry = (document, tuple(errors), sized_by_variables(document))
        self._entries[text] = entry
        self._entries.move_to_end(text)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return entry


class CachedDocuments(SchemaExtension):
    """The per-operation extension over a schema's ``DocumentCache`` (pass a factory:
    ``lambda: CachedDocuments(cache, max_cost)``)."""

    def __init__(self, cache: DocumentCache, max_cost: int) -> None:
        super().__init__()
        self.cache = cache
        self.max_cost = max_cost
        self._entry: Entry | None = None

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        text = ctx.query
        if text and ctx.graphql_document is None:
            self._entry = self.cache.get(text)
            if self._entry is not None:
                ctx.graphql_document = self._entry[0]
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        entry = self._entry
        if entry is None and ctx.query and ctx.graphql_document is not None:
            # as strawberry's own validation step would, once per text (cf. its
            # ValidationCache, which keys on the document: a walk to hash it)
            errors = validate_document(
                ctx.schema._schema, ctx.graphql_document, ctx.validation_rules
            )
            entry = self.cache.put(ctx.query, ctx.graphql_document, errors)
        if entry is not None:
            errors = list(entry[1])
            if entry[2] and not errors and ctx.variables:
                errors = cost_with_variables(
                    entry[0], ctx.variables, ctx.operation_name, self.max_cost
                )
            ctx.pre_execution_errors = errors
        yield
