"""Every executed mutation is rate-limited per token and audited: a schema extension
around execution.

For a mutation operation it collects the root fields (aliases, fragments and inline
fragments followed) with their arguments as sent (variables resolved, then ``masked``).
Before the operation runs, the caller's mutation bucket (``api.services.ratelimit``)
gives one token per root field, or nothing runs and every field answers
``RATE_LIMITED``. After it, one ``AuditRecord`` per root field goes to the audit log
(``api.services.audit``) with its outcome: ``ok``, the code of the error at that field
(refused callers, ``FORBIDDEN``/``UNAUTHENTICATED``/``RATE_LIMITED``, are recorded too),
or ``NOT_RUN`` (an earlier field's error stopped the operation). The answer goes out
after the records are fsync'ed. Operations that fail validation never run and are not
recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.utilities import get_operation_ast, value_from_ast_untyped
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from api.context import Context
from api.errors import code_of
from api.services.audit import AuditRecord, masked
from graph.errors import RateLimited

__all__ = ["MutationAudit", "root_calls", "selected_fields"]


def selected_fields(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            yield node
        elif isinstance(node, InlineFragmentNode):
            yield from selected_fields(node.selection_set, fragments)
        elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments:
            yield from selected_fields(fragments[node.name.value].selection_set, fragments)


def root_calls(execution_context: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(response key, mutation field, masked arguments as sent) of each root field."""
    doc = execution_context.graphql_document
    op = get_operation_ast(doc, execution_context.operation_name)
    mutation = execution_context.schema._schema.mutation_type
    if op is None or mutation is None:
        return []
    fragments = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
    calls = []
    for node in selected_fields(op.selection_set, fragments):
        if node.name.value not in mutation.fields:  # __typename
            continue
        variables = execution_context.variables or {}
        arguments = {
            a.name.value: value_from_ast_untyped(a.value, variables) for a in node.arguments or ()
        }
        key = node.alias.value if node.alias else node.name.value
        calls.append((key, node.name.value, masked(arguments)))
    return calls


def _outcome(errors: list[GraphQLError], data: Any, key: str) -> tuple[str, str | None]:
    for error in errors:
        if error.path and len(error.path) == 1 and error.path[0] == key:
            return code_of(error), masked(error.message)
    if not isinstance(data, dict) or key not in data:
        # an earlier field's error nulled the whole answer: mutations run in order and
        # stop there
        return "NOT_RUN", None
    return "ok", None


class MutationAudit(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        context = ec.context
        if not isinstance(context, Context) or ec.operation_type is not OperationType.MUTATION:
            yield
            return
        calls = root_calls(ec)
        at = datetime.now(UTC)
        principal = context.principal
        if principal is not None and calls:
            try:
                context.services.limits.mutations.take(
                    principal.key_id or principal.name, len(calls)
                )
            except RateLimited as exc:  # nothing runs; each field answers RATE_LIMITED
                ec.result = ExecutionResult(
                    data=None,
                    errors=[GraphQLError(exc.message, path=[key], original_error=exc)
                            for key, _, _ in calls],
                )  # fmt: skip
        yield
        result = ec.result
        errors = list(getattr(result, "errors", None) or ec.pre_execution_errors or ())
        records = []
        for key, operation, arguments in calls:
            outcome, message = _outcome(errors, getattr(result, "data", None), key)
            records.append(
                AuditRecord(
                    at=at,
                    actor=principal.name if principal else "anonymous",
                    key_id=principal.key_id if principal else None,
                    role=principal.role if principal else None,
                    operation=operation,
                    arguments=arguments,
                    outcome=outcome,
                    message=message,
                )
            )
        await context.services.audit.append(records)
