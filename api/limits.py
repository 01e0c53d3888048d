"""Query limits: one validation rule that refuses a document before it runs.

Three limits, measured in one pass over the document:

- **depth**: how many fields with a selection set enclose the deepest selection
  (``parent { parent { id } }`` is 2 deep; introspection fields are not counted);
- **aliases**: fields with an alias, each fragment counted every time it is spread;
- **cost**: each field costs 1, times the number of items its enclosing lists may
  return. A list field's size is its ``first`` (or ``limit``) argument when given as a
  literal or variable, else a default: the number of items the field returns when the
  argument is left out (its default ``first``/``limit``), or a typical size for lists
  without one. ``subtree``, ``impact`` and ``rootCauses`` return up to their ``limit``
  (``maxDepth`` does not bound how many), so they cost that.

The pass is linear in the document's size: each fragment's depth, aliases and cost
(per item of its enclosing lists: a fragment's cost scales with the multiplier it is
spread under) are worked out once, dependencies first, and every spread of it reuses
them. Fragments spread twice at each of 40 levels cost 2^40 and are refused at once,
instead of being expanded 2^40 times. A fragment cycle adds nothing (graphql-core's
``NoFragmentCycles`` refuses it). Every refusal is a validation error (``VALIDATION``).

Validation sees no variables, so the rule costs ``first: $n`` at the field's default;
``cost_with_variables`` costs the operation again with the request's variables, for a
document ``sized_by_variables`` (``api.common.document_cache`` does, on every request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
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

__all__ = [
    "LIST_FIELDS",
    "MAX_VARIABLE_LIST",
    "Measure",
    "cost_with_variables",
    "document_limits_rule",
    "measure",
    "oversized_variable_list",
    "sized_by_variables",
]

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
# No field takes a longer list than a batch (api.assets.mutations.MAX_BATCH).
MAX_VARIABLE_LIST = 10_000


@dataclass(frozen=True, slots=True)
class Measure:
    """What a selection set asks for: ``height`` levels of fields (a leaf is 1),
    ``aliases`` aliased fields, ``cost`` per item of its enclosing lists."""

    height: int = 0
    aliases: int = 0
    cost: int = 0

    @property
    def depth(self) -> int:
        """Fields with a selection set above the deepest selection."""
        return max(0, self.height - 1)


_NOTHING = Measure()


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


def _spreads(selection: SelectionSetNode | None) -> list[str]:
    """Names of the fragments spread anywhere in ``selection`` (not following them)."""
    out: list[str] = []
    stack = [selection] if selection is not None else []
    while stack:
        for node in stack.pop().selections:
            if isinstance(node, FragmentSpreadNode):
                out.append(node.name.value)
            elif isinstance(node, FieldNode | InlineFragmentNode) and node.selection_set:
                stack.append(node.selection_set)
    return out


def _fragment_order(fragments: dict[str, FragmentDefinitionNode]) -> list[str]:
    """Fragment names, each after the fragments it spreads (cycles cut anywhere)."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1: being visited, 2: done
    for root in fragments:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(_spreads(fragments[root].selection_set)))]
        while stack:
            name, deps = stack[-1]
            dep = next(deps, None)
            if dep is None:
                stack.pop()
                state[name] = 2
                order.append(name)
            elif dep in fragments and dep not in state:
                state[dep] = 1
                stack.append((dep, iter(_spreads(fragments[dep].selection_set))))
    return order


def _measure_set(
    selection: SelectionSetNode | None, known: dict[str, Measure], variables: dict[str, Any]
) -> Measure:
    if selection is None:
        return _NOTHING
    height = aliases = cost = 0
    for node in selection.selections:
        if isinstance(node, FieldNode):
            inner = _measure_set(node.selection_set, known, variables)
            own = 0 if node.name.value.startswith("__") else 1 + inner.height
            height = max(height, own)
            aliases += inner.aliases + (1 if node.alias is not None else 0)
            cost += 1 + _size(node, variables) * inner.cost
        else:
            if isinstance(node, FragmentSpreadNode):
                # measured before (a cycle or an unknown name counts nothing)
                inner = known.get(node.name.value, _NOTHING)
            else:
                inner = _measure_set(getattr(node, "selection_set", None), known, variables)
            height = max(height, inner.height)
            aliases += inner.aliases
            cost += inner.cost
    return Measure(height, aliases, cost)


def measure(document: DocumentNode, variables: dict[str, Any] | None = None) -> dict[str, Measure]:
    """Each operation's measure (keyed by its name, "" for an anonymous one), in time
    linear in the document's size."""
    variables = variables or {}
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    known: dict[str, Measure] = {}
    for name in _fragment_order(fragments):
        known[name] = _measure_set(fragments[name].selection_set, known, variables)
    return {
        (d.name.value if d.name else ""): _measure_set(d.selection_set, known, variables)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    }


def document_limits_rule(
    *, max_depth: int, max_aliases: int, max_cost: int
) -> type[ValidationRule]:
    class DocumentLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            variables = getattr(context, "variable_values", None) or {}
            measures = measure(context.document, variables)
            aliases = sum(m.aliases for m in measures.values())
            if aliases > max_aliases:
                self.report_error(
                    GraphQLError(
                        f"{aliases} aliases found (fragments counted each time they are "
                        f"spread); the limit is {max_aliases}"
                    )
                )
            for d in context.document.definitions:
                if not isinstance(d, OperationDefinitionNode):
                    continue
                name = d.name.value if d.name else ""
                m = measures[name]
                label = f"'{name}'" if name else "the operation"
                if m.depth > max_depth:
                    self.report_error(
                        GraphQLError(
                            f"{label} exceeds maximum operation depth of {max_depth} "
                            f"(it is {m.depth} deep, fragments included)",
                            d,
                        )
                    )
                if m.cost > max_cost:
                    self.report_error(_over_cost(m.cost, max_cost, d))

    return DocumentLimits


def _over_cost(cost: int, max_cost: int, node: OperationDefinitionNode) -> GraphQLError:
    return GraphQLError(
        f"query cost {cost} exceeds the limit of {max_cost}: "
        "ask for fewer items (first/limit) or fewer nested lists, "
        "or spread fragments fewer times",
        node,
    )


def sized_by_variables(document: DocumentNode) -> bool:
    """Whether a list size (``first``/``limit``) anywhere in ``document`` is a variable."""
    stack: list[SelectionSetNode] = [
        d.selection_set
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while stack:
        for node in stack.pop().selections:
            if isinstance(node, FieldNode):
                for arg in node.arguments or ():
                    if arg.name.value in _SIZE_ARGS and isinstance(arg.value, VariableNode):
                        return True
            selection = getattr(node, "selection_set", None)
            if selection is not None:
                stack.append(selection)
    return False


def cost_with_variables(
    document: DocumentNode, variables: dict[str, Any], operation_name: str | None, max_cost: int
) -> list[GraphQLError]:
    """The cost refusal of the operation that runs, its list sizes taken from
    ``variables`` (validation sees the document alone: there a variable size counts as
    the field's default)."""
    measures = measure(document, variables)
    out = []
    for d in document.definitions:
        if not isinstance(d, OperationDefinitionNode):
            continue
        name = d.name.value if d.name else ""
        if operation_name is not None and name != operation_name:
            continue
        if measures[name].cost > max_cost:
            out.append(_over_cost(measures[name].cost, max_cost, d))
    return out


def oversized_variable_list(variables: object, limit: int = MAX_VARIABLE_LIST) -> str | None:
    """Why ``variables`` (as decoded from JSON) are refused before GraphQL coerces them:
    a list longer than ``limit`` items anywhere in them; None when none is."""
    stack = [variables]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            if len(value) > limit:
                return (
                    f"a variable holds a list of {len(value)} items; "
                    f"no field takes more than {limit}"
                )
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
    return None
