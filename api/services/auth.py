"""Bearer-token authentication and role checks.

Roles, from least to most: ``viewer`` (queries), ``ingest`` (push readings),
``operator`` (setpoints, maintenance records), ``engineer`` (registry edits, imports,
simulations), ``admin`` (everything). A token may be limited to asset subtrees with
``token:role:name:scope1|scope2`` (asset ids whose subtree it may operate and see:
``api.common.scoping``).

Tokens come from ``TWINQL_TOKENS`` or, when unset, from ``tokens.json`` in the data
directory, generated at first start with an admin and an operator token.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from graph.bolt.assets import AssetRepository
from graph.errors import Forbidden, Unauthenticated, ValidationError
from graph.model import Asset

__all__ = ["ANONYMOUS", "ROLES", "Principal", "Scopes", "TokenStore", "require"]

ROLES = ("viewer", "ingest", "operator", "engineer", "admin")
_IMPLIES: dict[str, set[str]] = {
    "viewer": {"viewer"},
    "ingest": {"viewer", "ingest"},
    "operator": {"viewer", "operator"},
    "engineer": {"viewer", "operator", "engineer", "ingest"},
    "admin": set(ROLES),
}


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str
    scopes: tuple[str, ...] = ()  # asset ids whose subtrees it may operate and see; () = all

    def has(self, role: str) -> bool:
        return role in _IMPLIES[self.role]

    def require(self, role: str) -> None:
        if not self.has(role):
            raise Forbidden(f"{self.name} ({self.role}) may not do this: needs role {role}")


ANONYMOUS = Principal("anonymous", "viewer")


def require(principal: Principal | None, role: str) -> Principal:
    if principal is None:
        raise Unauthenticated("this operation needs an API token (Authorization: Bearer ...)")
    principal.require(role)
    return principal


class TokenStore:
    def __init__(self, tokens: dict[str, Principal]) -> None:
        self._tokens = tokens

    @classmethod
    def parse(cls, spec: str) -> TokenStore:
        tokens: dict[str, Principal] = {}
        for i, item in enumerate(x.strip() for x in spec.split(",")):
            if not item:
                continue
            parts = item.split(":")
            if len(parts) < 2 or len(parts[0]) < 16:
                raise ValidationError(
                    f"TWINQL_TOKENS entry {i}: expected token:role[:name[:scope|scope]] "
                    "with a token of at least 16 characters"
                )
            token, role = parts[0], parts[1]
            if role not in ROLES:
                raise ValidationError(f"TWINQL_TOKENS entry {i}: unknown role {role!r}")
            name = parts[2] if len(parts) > 2 and parts[2] else f"{role}-{i}"
            scopes = tuple(s for s in parts[3].split("|") if s) if len(parts) > 3 else ()
            tokens[token] = Principal(name, role, scopes)
        return cls(tokens)

    @classmethod
    def from_file(cls, path: Path) -> TokenStore:
        """Load ``tokens.json``; create it with fresh admin and operator tokens if absent."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            data = [
                {"token": secrets.token_urlsafe(24), "role": "admin", "name": "admin"},
                {"token": secrets.token_urlsafe(24), "role": "operator", "name": "operator"},
                {"token": secrets.token_urlsafe(24), "role": "ingest", "name": "devices"},
            ]
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(data, fh, indent=2)
        try:
            entries = json.loads(path.read_text())
            return cls(
                {
                    e["token"]: Principal(
                        e.get("name", e["role"]), e["role"], tuple(e.get("scopes", ()))
                    )
                    for e in entries
                }
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValidationError(f"{path}: not a valid token file: {exc}") from exc

    def authenticate(self, header: str | None) -> Principal | None:
        """The principal of an ``Authorization`` value; None when absent; error when wrong."""
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("Authorization must be 'Bearer <token>'")
        for known, principal in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.strip().encode()):
                return principal
        raise Unauthenticated("unknown API token")

    def first(self, role: str) -> str | None:
        """A token of the given role (for the CLI's start-up hint)."""
        return next((t for t, p in self._tokens.items() if p.role == role), None)


class Scopes:
    """Subtree scopes: a token limited to asset subtrees may operate only assets at or
    below its scope roots. One call, used by every service that acts on an asset."""

    def __init__(self, assets: AssetRepository) -> None:
        self._assets = assets

    async def check(self, principal: Principal, asset_id: str) -> None:
        await self.check_all(principal, [asset_id])

    async def check_all(self, principal: Principal, asset_ids: Iterable[str]) -> None:
        """Forbidden unless every asset is at or below one of the caller's scope roots
        (an asset not in the graph is outside every scope)."""
        if not principal.scopes:
            return
        ids = list(dict.fromkeys(asset_ids))
        denied = await self.outside(principal, ids)
        for asset_id in ids:
            if asset_id in denied:
                raise Forbidden(
                    f"{principal.name} may operate only below {', '.join(principal.scopes)}; "
                    f"asset {asset_id} is outside"
                )

    async def outside(self, principal: Principal, asset_ids: Iterable[str]) -> set[str]:
        """The assets among ``asset_ids`` outside the caller's scopes (none if unscoped)."""
        if not principal.scopes:
            return set()
        ids = [i for i in dict.fromkeys(asset_ids) if i not in principal.scopes]
        ancestors = await self._assets.ancestors_of(ids) if ids else {}
        return {
            i for i in ids if not any(n.asset.id in principal.scopes for n in ancestors.get(i, ()))
        }

    async def visible(self, principal: Principal) -> frozenset[str] | None:
        """The ids of every asset the caller may see: its scope roots that exist and
        everything below them; None for a token without scopes (it sees the plant)."""
        if not principal.scopes:
            return None
        return frozenset(await self._assets.ids_under(principal.scopes))

    def whole_plant(self, principal: Principal, what: str) -> None:
        """Forbidden for a scoped caller: ``what`` is not confined to a subtree."""
        if principal.scopes:
            raise Forbidden(
                f"{principal.name} may operate only below {', '.join(principal.scopes)}; "
                f"{what} needs a token without scopes"
            )

    async def place(self, principal: Principal, assets: Sequence[Asset]) -> None:
        """Creating or moving assets: each existing asset, and each one's new parent (a
        new top-level asset has none, so it is outside every scope)."""
        if not principal.scopes:
            return
        existing = await self._assets.get_many(a.id for a in assets)
        targets = [*existing, *(a.parent_id or a.id for a in assets)]
        await self.check_all(principal, targets)
