"""Query cost limit: a validation rule that refuses a query before it runs.

Each field costs 1, times the number of items its enclosing lists may return. A list
field's size is its ``first`` (or ``limit``) argument when given as a literal or
variable, else a default: the number of items the field returns when the argument is
left out (its default ``first``/``limit``), or a typical size for lists without one.
``subtree``, ``impact`` and ``rootCauses`` return up to their ``limit`` (``maxDepth``
does not bound how many), so they cost that. Depth is limited separately by
Strawberry's ``QueryDepthLimiter``.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)

__all__ = ["cost_limit_rule", "estimate_cost"]

LIST_FIELDS = {
    "children": 50,
    "sensors": 10,
    "actuators": 5,
    "edges": 1,
    "nodes": 1,
    "subtree": 1_000,  # = api.assets.types.DEFAULT_WALK_LIMIT
    "ancestors": 8,
    "impact": 1_000,
    "rootCauses": 1_000,
    "relations": 10,
    "maintenance": 20,
    "maintenanceHistory": 50,
    "workOrders": 10,
    "commands": 20,
    "assets": 50,
    "dataSources": 10,
    "readings": 1,
    "summary": 10,
    "series": 10,
    "points": 1,
    "simulationModels": 10,
    "simulationRuns": 20,
    "stations": 20,
    "residuals": 5,
    "fits": 5,
    "alerts": 20,
}
_SIZE_ARGS = ("first", "limit")


def _size(field: FieldNode, variables: dict[str, Any]) -> int:
    name = field.name.value
    default = LIST_FIELDS.get(name, 1)
    for arg in field.arguments or ():
        if arg.name.value not in _SIZE_ARGS:
            continue
        v = arg.value
        if isinstance(v, IntValueNode):
            return max(1, int(v.value))
        if isinstance(v, VariableNode) and isinstance(variables.get(v.name.value), int):
            return max(1, int(variables[v.name.value]))
    return default


def estimate_cost(
    selection: SelectionSetNode | None,
    fragments: dict[str, Any],
    variables: dict[str, Any],
    multiplier: int = 1,
    seen: frozenset[str] = frozenset(),
) -> int:
    if selection is None:
        return 0
    total = 0
    for node in selection.selections:
        if isinstance(node, FieldNode):
            total += multiplier
            total += estimate_cost(
                node.selection_set, fragments, variables, multiplier * _size(node, variables), seen
            )
        elif isinstance(node, InlineFragmentNode):
            total += estimate_cost(node.selection_set, fragments, variables, multiplier, seen)
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            frag = fragments.get(name)
            if frag is not None and name not in seen:
                total += estimate_cost(
                    frag.selection_set, fragments, variables, multiplier, seen | {name}
                )
    return total


def cost_limit_rule(max_cost: int) -> type[ValidationRule]:
    class CostLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            ctx: ValidationContext = self.context
            fragments = {
                f.name.value: f
                for f in ctx.document.definitions
                if isinstance(f, FragmentDefinitionNode)
            }
            variables = getattr(ctx, "variable_values", None) or {}
            cost = estimate_cost(node.selection_set, fragments, variables)
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"query cost {cost} exceeds the limit of {max_cost}: "
                        "ask for fewer items (first/limit) or fewer nested lists",
                        node,
                    )
                )

    return CostLimit
