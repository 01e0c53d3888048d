"""API keys stored hashed: ``api-keys.json`` in the data directory.

A key reads ``tq_<id>_<secret>``: ``id`` is 12 hex digits, public (listed, audited,
revoked by it); ``secret`` is 32 random bytes (``secrets.token_urlsafe(32)``), shown once
when the key is made and never stored. The file keeps, per key: id, name, role, scopes,
created, revoked (null or the time) and ``sha256(secret)``.

Why SHA-256 and not scrypt: a slow KDF defends *low-entropy* secrets (passwords) against
guessing from a stolen hash. A 256-bit random secret cannot be guessed, fast hash or not,
so scrypt would buy nothing and cost tens of milliseconds of CPU per request (on the event
loop, for every caller: a lever for anyone flooding the API with wrong keys). Lookup goes
by id (a dict: O(1), whatever the number of keys) and the stored hash is compared with
``hmac.compare_digest``.

Tokens of the former ``tokens.json`` are migrated once (``migrate``): each becomes a key
with a fresh id, marked ``legacy``, whose hash is the SHA-256 of the whole old token; such
keys are found by that hash (a dict too), so the old tokens keep working. The file is then
deleted.

Writers (the running service, ``twinql keys``) take ``api-keys.json.lock`` (flock), read
the file afresh, change it and replace it atomically (written 0600, fsync'ed, renamed); a
running service notices another writer's change by the file's stamp, looked at no more
than once a second (``refresh``): a key revoked from the CLI stops working within a second,
one revoked through the API at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from graph.errors import NotFound, ValidationError

__all__ = [
    "FIRST_KEYS_FILE",
    "KEYS_FILE",
    "LEGACY_FILE",
    "ApiKey",
    "KeyFile",
    "hash_secret",
    "write_private",
]

KEYS_FILE = "api-keys.json"
FIRST_KEYS_FILE = "first-keys.json"
LEGACY_FILE = "tokens.json"
PREFIX = "tq_"
_REFRESH_S = 1.0


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    role: str
    scopes: tuple[str, ...]
    created: datetime
    hash: str
    revoked: datetime | None = None
    legacy: bool = False  # migrated from tokens.json: the hash is of the whole old token

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "scopes": list(self.scopes),
            "created": self.created.isoformat(),
            "revoked": self.revoked.isoformat() if self.revoked else None,
            "hash": self.hash,
            "legacy": self.legacy,
        }

    @classmethod
    def from_json(cls, d: dict[str, object]) -> ApiKey:
        revoked = d.get("revoked")
        scopes = d.get("scopes") or []
        assert isinstance(scopes, list)
        return cls(
            id=str(d["id"]),
            name=str(d["name"]),
            role=str(d["role"]),
            scopes=tuple(str(s) for s in scopes),
            created=datetime.fromisoformat(str(d["created"])),
            hash=str(d["hash"]),
            revoked=datetime.fromisoformat(str(revoked)) if revoked else None,
            legacy=bool(d.get("legacy", False)),
        )


def _split(token: str) -> tuple[str, str] | None:
    """(id, secret) of a ``tq_<id>_<secret>`` token; None when it is not one."""
    if not token.startswith(PREFIX):
        return None
    key_id, sep, secret = token[len(PREFIX) :].partition("_")
    if not sep or not key_id or not secret:
        return None
    return key_id, secret


class KeyFile:
    """The keys of one ``api-keys.json``, in memory, kept in step with the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: dict[str, ApiKey] = {}
        self._legacy: dict[str, str] = {}  # hash of an old token -> key id
        self._stamp: tuple[int, int, int] | None = None
        self._checked = float("-inf")
        self.refresh(force=True)

    # -- reading ------------------------------------------------------------------------

    def refresh(self, *, force: bool = False) -> None:
        """Reload when the file changed (looked at no more than once a second)."""
        now = time.monotonic()
        if not force and now - self._checked < _REFRESH_S:
            return
        self._checked = now
        stamp = self._stat()
        if stamp != self._stamp:
            self._install(self._read(), stamp)

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read(self) -> dict[str, ApiKey]:
        try:
            entries = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise ValidationError(f"{self.path}: not a valid key file: {exc}") from exc
        try:
            keys = [ApiKey.from_json(e) for e in entries]
        except (KeyError, TypeError, ValueError, AssertionError) as exc:
            raise ValidationError(f"{self.path}: not a valid key file: {exc!r}") from exc
        return {k.id: k for k in keys}

    def _install(self, keys: dict[str, ApiKey], stamp: tuple[int, int, int] | None) -> None:
        self._legacy = {k.hash: k.id for k in keys.values() if k.legacy}
        self._keys = keys
        self._stamp = stamp

    def find(self, token: str) -> ApiKey | None:
        """The key ``token`` is (revoked or not); None when it is none of ours."""
        parts = _split(token)
        if parts is not None:
            key = self._keys.get(parts[0])
            if key is not None and not key.legacy:
                if hmac.compare_digest(key.hash, hash_secret(parts[1])):
                    return key
                return None
        digest = hash_secret(token)
        key_id = self._legacy.get(digest)
        key = self._keys.get(key_id) if key_id is not None else None
        if key is not None and hmac.compare_digest(key.hash, digest):
            return key
        return None

    def get(self, key_id: str) -> ApiKey | None:
        return self._keys.get(key_id)

    def all(self) -> list[ApiKey]:
        return sorted(self._keys.values(), key=lambda k: (k.created, k.id))

    @property
    def exists(self) -> bool:
        return self.path.exists()

    # -- writing ------------------------------------------------------------------------

    def create(
        self, name: str, role: str, scopes: tuple[str, ...] = (), *, legacy_token: str | None = None
    ) -> tuple[ApiKey, str]:
        """A new key and its token (the only time the secret exists outside the caller)."""
        made: list[tuple[ApiKey, str]] = []

        def add(keys: dict[str, ApiKey]) -> None:
            key_id = secrets.token_hex(6)
            while key_id in keys:
                key_id = secrets.token_hex(6)
            if legacy_token is not None:
                token, digest = legacy_token, hash_secret(legacy_token)
            else:
                secret = secrets.token_urlsafe(32)
                token, digest = f"{PREFIX}{key_id}_{secret}", hash_secret(secret)
            key = ApiKey(
                key_id, name, role, scopes, datetime.now(UTC), digest,
                legacy=legacy_token is not None,
            )  # fmt: skip
            keys[key_id] = key
            made.append((key, token))

        self._update(add)
        return made[0]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key (again is a no-op answering the first revocation's time)."""

        def mark(keys: dict[str, ApiKey]) -> None:
            key = keys.get(key_id)
            if key is None:
                raise NotFound(f"API key {key_id} not found")
            if key.revoked is None:
                keys[key_id] = replace(key, revoked=datetime.now(UTC))

        self._update(mark)
        return self._keys[key_id]

    def migrate(self, legacy: Path) -> int:
        """Move the tokens of a ``tokens.json`` into hashed keys, then delete it."""
        try:
            entries = json.loads(legacy.read_text())
            olds = [
                (str(e["token"]), str(e.get("name", e["role"])), str(e["role"]),
                 tuple(str(s) for s in e.get("scopes", ())))
                for e in entries
            ]  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise ValidationError(f"{legacy}: not a valid token file: {exc!r}") from exc
        known = {k.hash for k in self._keys.values() if k.legacy}
        for token, name, role, scopes in olds:
            if hash_secret(token) not in known:  # a migration cut short is resumed
                self.create(name, role, scopes, legacy_token=token)
        legacy.unlink()
        return len(olds)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _update(self, change: Callable[[dict[str, ApiKey]], None]) -> None:
        with self._locked():
            keys = self._read()
            change(keys)
            write_private(
                self.path, json.dumps([k.to_json() for k in keys.values()], indent=2) + "\n"
            )
            self._install(keys, self._stat())


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, readable by its owner only, fsync'ed."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
