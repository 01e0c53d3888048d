"""Every root field declares who may call it (``api.permissions``): a field added without
a permission fails here, so a forgotten check can never open one."""

from __future__ import annotations

import pytest
from strawberry.types.base import StrawberryObjectDefinition

from api.permissions import READ, required_role
from api.schema import build_schema
from api.services.auth import ROLES

SCHEMA = build_schema()


def _fields(root: str) -> dict[str, str | None]:
    definition = SCHEMA.get_type_by_name(root)
    assert isinstance(definition, StrawberryObjectDefinition), root
    name = SCHEMA.config.name_converter.get_graphql_name
    return {name(f): required_role(f.extensions) for f in definition.fields}


@pytest.mark.parametrize("root", ["Query", "Mutation", "Subscription"])
def test_every_root_field_declares_a_permission(root: str) -> None:
    fields = _fields(root)
    assert len(fields) >= 5, fields
    unguarded = sorted(name for name, role in fields.items() if role is None)
    assert not unguarded, f"{root} fields without a permission: {unguarded}"


@pytest.mark.parametrize("root", ["Mutation", "Subscription"])
def test_mutations_and_subscriptions_need_a_token_with_a_role(root: str) -> None:
    for name, role in _fields(root).items():
        assert role in ROLES, f"{root}.{name} must need a role, not {role!r}"


def test_the_schema_enumerates_what_the_sdl_file_has() -> None:
    sdl = SCHEMA.as_str()
    for root in ("Query", "Mutation", "Subscription"):
        for name in _fields(root):
            assert f"  {name}" in sdl, (root, name)


def test_roles_the_api_uses() -> None:
    """Registry edits and studies need engineer; setpoints and acknowledgements operator;
    pushed readings ingest; reads a token or anonymous reads where allowed."""
    mutation = _fields("Mutation")
    assert mutation["upsertAssets"] == "engineer"
    assert mutation["importPlant"] == "engineer"
    assert mutation["writeSetpoint"] == "operator"
    assert mutation["recordMaintenance"] == "operator"
    assert mutation["ingestReadings"] == "ingest"
    assert _fields("Query")["asset"] == READ
    # long jobs: started with the role of their kind, read like their asset, followed live
    assert mutation["trainAnomalyModel"] == "engineer"
    assert mutation["optimizeEnergy"] == "operator"
    assert mutation["cancelJob"] == "operator"  # and the role of the job's kind
    assert _fields("Query")["job"] == READ and _fields("Query")["jobs"] == READ
    assert _fields("Subscription")["jobProgress"] == "viewer"


@pytest.mark.parametrize("root", ["Query", "Mutation", "Subscription"])
def test_no_argument_shadows_the_permission_check(root: str) -> None:
    """The permission extension resolves ``(next_, source, info, **arguments)``: a Python
    argument named ``source`` made upsertDataSource fail with INTERNAL."""
    definition = SCHEMA.get_type_by_name(root)
    assert isinstance(definition, StrawberryObjectDefinition)
    for f in definition.fields:
        clash = {a.python_name for a in f.arguments} & {"source", "info", "next_"}
        assert not clash, f"{root}.{f.python_name} has Python arguments named {clash}"
