"""Introspection switchable (``TWINQL_INTROSPECTION``): ``on`` for anyone who may query,
``token`` for callers with a token of any role, ``off`` for nobody.

A schema extension around execution: a query whose root selects ``__schema`` or
``__type`` (fragments followed; ``__typename`` is always allowed) from a caller the
setting excludes runs nothing and answers ``FORBIDDEN`` (``UNAUTHENTICATED`` for a
missing token under ``token``). It checks at execution, not validation, because the
answer depends on the caller while validated documents are cached for every caller.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import ExecutionResult, FragmentDefinitionNode, GraphQLError
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from api.admin.audit import selected_fields
from api.context import Context
from graph.errors import Forbidden, TwinqlError, Unauthenticated

__all__ = ["IntrospectionGate"]

_INTROSPECTION = {"__schema", "__type"}


def _refusal(context: Context) -> TwinqlError | None:
    mode = context.services.settings.effective_introspection
    if mode == "on":
        return None
    if mode == "off":
        return Forbidden("introspection is turned off here (TWINQL_INTROSPECTION=off)")
    if context.principal is None:
        return Unauthenticated(
            "introspection needs an API token here (Authorization: Bearer ...; "
            "TWINQL_INTROSPECTION=token)"
        )
    return None


class IntrospectionGate(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        context = ec.context
        if isinstance(context, Context) and ec.operation_type is OperationType.QUERY:
            refusal = _refusal(context)
            if refusal is not None:
                doc = ec.graphql_document
                op = get_operation_ast(doc, ec.operation_name) if doc is not None else None
                if op is not None and doc is not None:
                    fragments = {
                        d.name.value: d
                        for d in doc.definitions
                        if isinstance(d, FragmentDefinitionNode)
                    }
                    asked = [
                        f
                        for f in selected_fields(op.selection_set, fragments)
                        if f.name.value in _INTROSPECTION
                    ]
                    if asked:
                        ec.result = ExecutionResult(
                            data=None,
                            errors=[
                                GraphQLError(
                                    refusal.message,
                                    path=[f.alias.value if f.alias else f.name.value],
                                    original_error=refusal,
                                )
                                for f in asked[:1]
                            ],
                        )
        yield
