"""JWT bearer tokens from an identity provider, mapped to twinql principals.

A token is accepted when it is signed with RS256 or ES256 by a key of the configured
JWKS (a file read at start, or an ``https://`` URL fetched at start and again when a
token names an unknown key id, at most once a minute, with a 5 s timeout), or with HS256
by the configured shared secret (optional); and when its ``iss`` is the issuer, its
``aud`` holds the audience and it has not expired (``exp`` required; 30 s leeway for
clock skew). ``alg: none`` and any other algorithm are refused, as is an HS256 token when
no secret is configured (an RSA public key is never taken as an HMAC secret).

Claims become the principal: the name from ``name_claim`` (default ``sub``), the role
from ``role_claim`` (dotted for nested claims, e.g. ``realm_access.roles``; a string or
a list, the highest twinql role among its values wins; a token with none is refused),
the asset scopes from ``scopes_claim`` (a list or a space-separated string; absent: the
whole plant). Identity providers map their groups to these claims.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graph.errors import Unauthenticated, ValidationError

__all__ = ["JwtSettings", "JwtVerifier", "looks_like_jwt"]

ASYMMETRIC = ("RS256", "ES256")


def looks_like_jwt(token: str) -> bool:
    return token.startswith("eyJ") and token.count(".") == 2


@dataclass(frozen=True, slots=True)
class JwtSettings:
    issuer: str
    audience: str
    jwks: str | None = None  # a file path or an https:// URL
    hs256_secret: str | None = None
    role_claim: str = "role"
    scopes_claim: str = "asset_scopes"
    name_claim: str = "sub"
    leeway_s: float = 30.0


def _claim(claims: dict[str, Any], dotted: str) -> Any:
    value: Any = claims
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class JwtVerifier:
    """Verifies JWTs and maps their claims (see the module's docstring)."""

    def __init__(self, settings: JwtSettings, roles: tuple[str, ...]) -> None:
        try:
            import jwt
        except ImportError as exc:  # pragma: no cover - a dependency in pyproject
            raise ValidationError(
                "JWT settings need PyJWT with its crypto extra (pip install 'PyJWT[crypto]')"
            ) from exc
        if not settings.jwks and not settings.hs256_secret:
            raise ValidationError("TWINQL_JWT_ISSUER needs TWINQL_JWT_JWKS or an HS256 secret")
        if settings.hs256_secret is not None and len(settings.hs256_secret.encode()) < 32:
            raise ValidationError("the HS256 secret must be at least 32 bytes")
        self._jwt = jwt
        self.settings = settings
        self._roles = roles
        self._keys: Callable[[str | None], Any] | None = None
        if settings.jwks:
            self._keys = self._key_source(settings.jwks)

    def _key_source(self, jwks: str) -> Callable[[str | None], Any]:
        jwt = self._jwt
        if jwks.startswith("https://") or jwks.startswith("http://"):
            client = jwt.PyJWKClient(jwks, cache_keys=True, lifespan=300, timeout=5)
            try:
                client.get_jwk_set()  # fail at start, not at the first caller
            except jwt.PyJWKClientError as exc:
                raise ValidationError(f"TWINQL_JWT_JWKS {jwks}: {exc}") from exc

            def fetched(kid: str | None) -> Any:
                try:
                    if kid is None:
                        keys = client.get_signing_keys()
                        if len(keys) != 1:
                            raise Unauthenticated("the JWT names no key id (kid)")
                        return keys[0].key
                    return client.get_signing_key(kid).key
                except jwt.PyJWKClientError as exc:
                    raise Unauthenticated(f"JWT key {kid}: {exc}") from exc

            return fetched
        try:
            keyset = jwt.PyJWKSet.from_dict(json.loads(Path(jwks).read_text()))
        except (OSError, ValueError, jwt.PyJWKSetError) as exc:
            raise ValidationError(f"TWINQL_JWT_JWKS {jwks}: not a readable JWKS: {exc}") from exc
        by_kid = {k.key_id: k.key for k in keyset.keys}

        def from_file(kid: str | None) -> Any:
            if kid is None and len(by_kid) == 1:
                return next(iter(by_kid.values()))
            if kid not in by_kid:
                raise Unauthenticated(f"JWT key {kid} is not in the configured JWKS")
            return by_kid[kid]

        return from_file

    def verify(self, token: str) -> tuple[str, str, tuple[str, ...]]:
        """(name, role, scopes) of a valid token; ``Unauthenticated`` saying why not."""
        jwt = self._jwt
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"not a valid JWT: {exc}") from exc
        alg = header.get("alg")
        if alg in ASYMMETRIC and self._keys is not None:
            key = self._keys(header.get("kid"))
        elif alg == "HS256" and s.hs256_secret is not None:
            key = s.hs256_secret
        else:
            raise Unauthenticated(f"JWT algorithm {alg!r} is not accepted here")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"JWT refused: {exc}") from exc
        return self._mapped(claims)

    def _mapped(self, claims: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
        s = self.settings
        name = _claim(claims, s.name_claim)
        if not isinstance(name, str) or not name:
            raise Unauthenticated(f"the JWT has no {s.name_claim} claim")
        raw = _claim(claims, s.role_claim)
        values = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        held = [r for r in self._roles if r in values]
        if not held:
            raise Unauthenticated(
                f"the JWT's {s.role_claim} claim names no twinql role ({', '.join(self._roles)})"
            )
        scopes_raw = _claim(claims, s.scopes_claim)
        if isinstance(scopes_raw, str):
            scopes = tuple(scopes_raw.split())
        elif isinstance(scopes_raw, list):
            scopes = tuple(str(x) for x in scopes_raw if str(x))
        else:
            scopes = ()
        return name, held[-1], scopes
