"""Bearer-token authentication and role checks.

Roles, from least to most: ``viewer`` (queries), ``ingest`` (push readings),
``operator`` (setpoints, maintenance records), ``engineer`` (registry edits, imports,
simulations), ``admin`` (everything). A token may be limited to asset subtrees with
``token:role:name:scope1|scope2`` (asset ids whose subtree it may operate and see:
``api.common.scoping``).

Bearer tokens are ``TWINQL_TOKENS`` entries and the API keys of the data directory,
stored hashed (``api.services.keys``: ``tq_<id>_<secret>``, created, listed and revoked by
admins); without ``TWINQL_TOKENS`` a fresh data directory gets an admin, an operator and
an ingest key, written once to ``first-keys.json``, and a former ``tokens.json`` is
migrated to keys.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from api.services.jwtauth import JwtVerifier, looks_like_jwt
from api.services.keys import (
    FIRST_KEYS_FILE,
    KEYS_FILE,
    LEGACY_FILE,
    ApiKey,
    KeyFile,
    write_private,
)
from graph.bolt.assets import AssetRepository
from graph.errors import Forbidden, Unauthenticated, Unavailable, ValidationError
from graph.model import Asset

log = logging.getLogger(__name__)

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
    key_id: str | None = None  # the API key it authenticated with (None: TWINQL_TOKENS)

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
    """Who a bearer token is: ``TWINQL_TOKENS`` entries and the hashed API keys of the
    data directory (``api.services.keys``); admins create, list and revoke keys here."""

    def __init__(self, tokens: dict[str, Principal], keys: KeyFile | None = None) -> None:
        self._tokens = tokens
        self._keys = keys
        self.first_keys_file: Path | None = None  # where the first keys were written
        self.jwt: JwtVerifier | None = None  # JWTs of an identity provider, when configured

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
    def open(cls, data_dir: Path, spec: str | None = None) -> TokenStore:
        """``TWINQL_TOKENS`` (``spec``) and the keys of ``data_dir/api-keys.json``.

        Without ``spec``: a former ``tokens.json`` is migrated to hashed keys (its tokens
        keep working) and deleted; a data directory with neither file gets an admin, an
        operator and an ingest key, written once to ``first-keys.json`` (0600)."""
        store = cls.parse(spec) if spec else cls({})
        keys = KeyFile(data_dir / KEYS_FILE)
        store._keys = keys
        if spec:
            return store
        legacy = data_dir / LEGACY_FILE
        if legacy.exists():
            count = keys.migrate(legacy)
            log.warning("migrated %d tokens of %s to hashed API keys in %s", count, legacy,
                        keys.path)  # fmt: skip
        elif not keys.exists:
            first = [
                keys.create("admin", "admin"),
                keys.create("operator", "operator"),
                keys.create("devices", "ingest"),
            ]
            path = data_dir / FIRST_KEYS_FILE
            write_private(
                path,
                json.dumps(
                    [{"id": k.id, "name": k.name, "role": k.role, "key": t} for k, t in first],
                    indent=2,
                )
                + "\n",
            )
        if (data_dir / FIRST_KEYS_FILE).exists():
            store.first_keys_file = data_dir / FIRST_KEYS_FILE
        return store

    def authenticate(self, header: str | None) -> Principal | None:
        """The principal of an ``Authorization`` value; None when absent; error when wrong."""
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("Authorization must be 'Bearer <token>'")
        if self.jwt is not None and looks_like_jwt(token):
            name, role, scopes = self.jwt.verify(token)
            return Principal(name, role, scopes)
        if self._keys is not None:
            self._keys.refresh()
            key = self._keys.find(token)
            if key is not None:
                if key.revoked is not None:
                    raise Unauthenticated(f"API key {key.id} was revoked")
                return _principal(key)
        for known, principal in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return principal
        raise Unauthenticated("unknown API token")

    def still_valid(self, principal: Principal) -> bool:
        """False once the principal's API key is revoked (checked on every operation of a
        WebSocket, which authenticated once)."""
        if principal.key_id is None or self._keys is None:
            return True
        self._keys.refresh()
        key = self._keys.get(principal.key_id)
        return key is not None and key.revoked is None

    def first(self, role: str) -> str | None:
        """A ``TWINQL_TOKENS`` token of the given role."""
        return next((t for t, p in self._tokens.items() if p.role == role), None)

    # -- administration (admins: GraphQL and ``twinql keys``) ---------------------------

    def create_key(self, name: str, role: str, scopes: Sequence[str] = ()) -> tuple[ApiKey, str]:
        """A new key and its token: the secret is in this answer and nowhere else."""
        name = name.strip()
        if not 0 < len(name) <= 100:
            raise ValidationError("a key's name is 1 to 100 characters", path="name")
        if role not in ROLES:
            raise ValidationError(f"unknown role {role!r}: one of {', '.join(ROLES)}", path="role")
        clean = tuple(dict.fromkeys(s.strip() for s in scopes))
        if len(clean) > 100 or not all(0 < len(s) <= 200 for s in clean):
            raise ValidationError(
                "scopes are up to 100 asset ids of 1 to 200 characters", path="scopes"
            )
        return self._file().create(name, role, clean)

    def keys(self) -> list[ApiKey]:
        keys = self._file()
        keys.refresh(force=True)
        return keys.all()

    def revoke_key(self, key_id: str) -> ApiKey:
        return self._file().revoke(key_id)

    def _file(self) -> KeyFile:
        if self._keys is None:
            raise Unavailable("this twinql keeps no API keys (no data directory)")
        return self._keys


def _principal(key: ApiKey) -> Principal:
    return Principal(key.name, key.role, key.scopes, key_id=key.id)


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
