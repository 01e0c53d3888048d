"""Roles declared on the fields: who may resolve each GraphQL field.

Every root field (query, mutation, subscription) and every field that reads a store
carries one permission, declared where the field is::

    @strawberry.field(extensions=reads())                 # a token, or anonymous reads
    @strawberry.mutation(extensions=needs("engineer"))    # this role or one that implies it

A field without one fails ``tests/api/test_permissions.py``, which walks the schema. The
check raises the coded ``Unauthenticated`` / ``Forbidden`` errors (``graph.errors``), so
callers see ``UNAUTHENTICATED`` or ``FORBIDDEN`` in ``extensions.code``. Resolvers then
read the caller from ``info.context.caller``. Subtree scopes are checked where the asset
is known: by the services for what a caller changes (``api.services.auth.Scopes``), by
the resolvers for what it reads (``api.common.scoping``).
"""

from __future__ import annotations

from typing import Any

from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from api.services.auth import ROLES

__all__ = ["RolePermission", "needs", "reads", "required_role"]

READ = "read"  # a viewer token, or none where anonymous reads are allowed


class RolePermission(BasePermission):
    """Grants a field to callers holding ``role`` (``read``: any reader)."""

    def __init__(self, role: str) -> None:
        if role != READ and role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.role = role

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        info.context.authorise(None if self.role == READ else self.role)
        return True


def _extension(role: str) -> list[FieldExtension]:
    # No schema directive: the SDL stays as it is; the role shows in the code.
    return [PermissionExtension([RolePermission(role)], use_directives=False)]


def reads() -> list[FieldExtension]:
    """Queries: a token of any role, or anonymous where the deployment allows it."""
    return _extension(READ)


def needs(role: str) -> list[FieldExtension]:
    """A token with ``role`` (or a role that implies it: ``api.services.auth``)."""
    return _extension(role)


def required_role(extensions: list[FieldExtension]) -> str | None:
    """The role a field's extensions demand (``read`` for reads); None when unguarded."""
    for ext in extensions:
        if isinstance(ext, PermissionExtension):
            for perm in ext.permissions:
                if isinstance(perm, RolePermission):
                    return perm.role
    return None
