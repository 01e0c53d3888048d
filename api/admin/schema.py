"""API keys and the audit log over GraphQL, for admins: ``auditLog`` (the mutations
``api.admin.audit`` recorded);  ``createApiKey`` (the only answer that carries a
key's secret), ``apiKeys`` and ``revokeApiKey`` (at once: the next request with the key,
or the next operation on a WebSocket opened with it, is ``UNAUTHENTICATED``).

Keys span the plant (a scoped admin's key could create an unscoped one): a scoped caller
is refused with ``FORBIDDEN``. The store is ``api.services.auth.TokenStore``; the file
work (a flock, an fsync'ed atomic replace) runs off the event loop.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import strawberry

from api.common.scoping import plant_wide_read
from api.common.types import JSON
from api.context import Context
from api.permissions import needs
from api.services.audit import AuditRecord as AuditRecordRow
from api.services.keys import ApiKey as ApiKeyRecord

__all__ = ["AdminMutation", "AdminQuery", "ApiKey", "AuditRecord", "CreatedApiKey"]

Info = strawberry.Info[Context, None]


@strawberry.type(description="An API key (its secret is never shown again after creation).")
class ApiKey:
    id: strawberry.ID = strawberry.field(description="Public id: the key reads tq_<id>_<secret>.")
    name: str = strawberry.field(description="Who or what uses it (the audit log's actor).")
    role: str
    scopes: list[str] = strawberry.field(description="Asset subtrees it is limited to; [] = all.")
    created: datetime
    revoked: datetime | None = strawberry.field(description="When it was revoked; null: valid.")
    migrated: bool = strawberry.field(description="A token of a former tokens.json.")

    @classmethod
    def from_domain(cls, key: ApiKeyRecord) -> ApiKey:
        return cls(
            id=strawberry.ID(key.id),
            name=key.name,
            role=key.role,
            scopes=list(key.scopes),
            created=key.created,
            revoked=key.revoked,
            migrated=key.legacy,
        )


@strawberry.type(description="A new API key and its secret, shown this once.")
class CreatedApiKey:
    key: ApiKey
    secret: str = strawberry.field(
        description="The bearer token (tq_<id>_<secret>): stored only hashed, shown only here."
    )


@strawberry.type(description="One mutation as the audit log keeps it.")
class AuditRecord:
    at: datetime
    actor: str = strawberry.field(description="The caller's name (anonymous without a token).")
    key_id: str | None = strawberry.field(description="Its API key's id (null: TWINQL_TOKENS).")
    role: str | None
    operation: str = strawberry.field(description="The mutation field.")
    arguments: JSON = strawberry.field(description="Its arguments, secrets masked, sizes capped.")
    outcome: str = strawberry.field(description="ok, or the error's code.")
    message: str | None = strawberry.field(description="The error's message.")

    @classmethod
    def from_domain(cls, r: AuditRecordRow) -> AuditRecord:
        return cls(
            at=r.at,
            actor=r.actor,
            key_id=r.key_id,
            role=r.role,
            operation=r.operation,
            arguments=JSON(r.arguments),
            outcome=r.outcome,
            message=r.message,
        )


def _admin(info: Info, what: str) -> None:
    plant_wide_read(info, what)


@strawberry.type
class AdminQuery:
    @strawberry.field(extensions=needs("admin"), description="Every API key (role admin).")
    async def api_keys(self, info: Info) -> list[ApiKey]:
        _admin(info, "API keys")
        keys = await asyncio.to_thread(info.context.services.tokens.keys)
        return [ApiKey.from_domain(k) for k in keys]

    @strawberry.field(
        extensions=needs("admin"),
        description="Audited mutations, newest first (role admin): those at or after from "
        "and before to, by actor (a name or an API key id) and of operation; first 1 to 1000.",
    )
    async def audit_log(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        actor: str | None = None,
        operation: str | None = None,
        first: int = 100,
    ) -> list[AuditRecord]:
        _admin(info, "the audit log")
        rows = await info.context.services.audit.query(
            start=from_, end=to, actor=actor, operation=operation, first=first
        )
        return [AuditRecord.from_domain(r) for r in rows]


@strawberry.type
class AdminMutation:
    @strawberry.mutation(
        extensions=needs("admin"),
        description="Create an API key (role admin); its secret is in this answer only.",
    )
    async def create_api_key(
        self, info: Info, name: str, role: str, scopes: list[str] | None = None
    ) -> CreatedApiKey:
        _admin(info, "API keys")
        tokens = info.context.services.tokens
        key, secret = await asyncio.to_thread(
            tokens.create_key, name, role.strip().lower(), scopes or ()
        )
        return CreatedApiKey(key=ApiKey.from_domain(key), secret=secret)

    @strawberry.mutation(
        extensions=needs("admin"),
        description="Revoke an API key (role admin): refused from its next request on.",
    )
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> ApiKey:
        _admin(info, "API keys")
        key = await asyncio.to_thread(info.context.services.tokens.revoke_key, str(id))
        return ApiKey.from_domain(key)
