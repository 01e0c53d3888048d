"""Bearer-token authentication and role checks.

Roles, from least to most: ``viewer`` (queries), ``ingest`` (push readings),
``operator`` (setpoints, maintenance records), ``engineer`` (registry edits, imports,
simulations), ``admin`` (everything). A token may be limited to asset subtrees with
``token:role:name:scope1|scope2`` (asset ids whose subtree it may operate).

Tokens come from ``TWINQL_TOKENS`` or, when unset, from ``tokens.json`` in the data
directory, generated at first start with an admin and an operator token.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from graph.bolt.assets import AssetRepository
from graph.errors import Forbidden, Unauthenticated, ValidationError

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
    scopes: tuple[str, ...] = ()  # asset ids whose subtrees this caller may operate; () = all

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
        if not principal.scopes or asset_id in principal.scopes:
            return
        ancestors = await self._assets.ancestors(asset_id)
        if any(n.asset.id in principal.scopes for n in ancestors):
            return
        raise Forbidden(
            f"{principal.name} may operate only below {', '.join(principal.scopes)}; "
            f"asset {asset_id} is outside"
        )
