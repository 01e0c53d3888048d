"""The Strawberry schema: queries, mutations and subscriptions of every layer, merged."""

from __future__ import annotations

import strawberry
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.tools import merge_types

from api.admin.audit import MutationAudit
from api.admin.introspection import IntrospectionGate
from api.admin.schema import AdminMutation, AdminQuery
from api.alerts.schema import AlertsMutation, AlertsQuery, AlertsSubscription
from api.assets.mutations import GraphMutation
from api.assets.queries import GraphQuery
from api.common.document_cache import CachedDocuments, DocumentCache
from api.control.schema import ControlMutation, ControlQuery
from api.errors import CodedErrors
from api.health.schema import HealthMutation, HealthQuery, HealthSubscription
from api.jobs.schema import JobsMutation, JobsQuery, JobsSubscription
from api.limits import document_limits_rule
from api.live.schema import SubscriptionRoot
from api.operations.energy import EnergyMutation
from api.operations.oee import OeeQuery
from api.readings.schema import ReadingsMutation, ReadingsQuery
from api.simulation.schema import SimulationMutation, SimulationQuery, SimulationSubscription
from api.status.schema import StatusQuery
from api.workorders.schema import WorkOrdersMutation, WorkOrdersQuery

__all__ = ["build_schema"]

QUERIES: tuple[type, ...] = (
    GraphQuery,
    ReadingsQuery,
    ControlQuery,
    SimulationQuery,
    AlertsQuery,
    StatusQuery,
    WorkOrdersQuery,
    HealthQuery,
    OeeQuery,
    JobsQuery,
    AdminQuery,
)
MUTATIONS: tuple[type, ...] = (
    GraphMutation,
    ReadingsMutation,
    ControlMutation,
    SimulationMutation,
    AlertsMutation,
    WorkOrdersMutation,
    HealthMutation,
    EnergyMutation,
    JobsMutation,
    AdminMutation,
)
SUBSCRIPTIONS: tuple[type, ...] = (
    SubscriptionRoot,
    SimulationSubscription,
    AlertsSubscription,
    HealthSubscription,
    JobsSubscription,
)


def build_schema(
    *, max_depth: int = 12, max_cost: int = 100_000, documents: DocumentCache | None = None
) -> strawberry.Schema:
    """The schema, with its limits and its cache of parsed and validated documents
    (``api.common.document_cache``; a fresh one unless ``documents`` is given)."""
    query = merge_types("Query", QUERIES)
    mutation = merge_types("Mutation", MUTATIONS)
    subscription = merge_types("Subscription", SUBSCRIPTIONS) if SUBSCRIPTIONS else None
    cache = documents if documents is not None else DocumentCache()
    # built once: graphql-core instantiates the rule per validation, not per class
    limits = document_limits_rule(max_depth=max_depth, max_aliases=50, max_cost=max_cost)
    return strawberry.Schema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=5_000),
            lambda: CachedDocuments(cache, max_cost),
            lambda: AddValidationRules([limits]),
            CodedErrors,
            MutationAudit,
            IntrospectionGate,
        ],
    )
