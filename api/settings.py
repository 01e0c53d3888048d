"""Settings, read once from the environment by the composition root.

| variable | meaning | default |
|---|---|---|
| TWINQL_DATA_DIR | where embedded stores keep their files | ./.twinql |
| TWINQL_HOST / TWINQL_PORT | where the API listens | 127.0.0.1 / 8000 |
| TWINQL_NEO4J_URI | Bolt URI of Neo4j 5; unset: the embedded graph server | unset |
| TWINQL_NEO4J_USER / _PASSWORD / _DATABASE | Neo4j credentials and database | neo4j / "" / neo4j |
| TWINQL_GRAPH_HEAP | heap of the embedded graph server | 1g |
| TWINQL_QUESTDB_URL | QuestDB HTTP URL (ILP writes); unset: DuckDB in the data dir | unset |
| TWINQL_QUESTDB_PG_PORT / _USER / _PASSWORD | QuestDB PostgreSQL-wire reads | 8812 / admin / quest |
| TWINQL_MQTT_URL | MQTT broker for device connectivity | unset |
| TWINQL_INSTANCE_ID | this process among several twinql instances (MQTT client ids and sessions) | host name and API port |
| TWINQL_RESYNC_S | seconds between checks of the graph's data sources for changes made elsewhere (another instance, ``twinql load``); 0: off | 30 |
| TWINQL_TOKENS | API tokens, ``token:role[:name]`` separated by commas | a generated file |
| TWINQL_ANONYMOUS_READ | let callers without a token run queries | true on loopback |
| TWINQL_MAX_DEPTH / TWINQL_MAX_COST | GraphQL query depth and cost limits | 12 / 100000 |
| TWINQL_CORS_ORIGINS | browser origins allowed to call the API from other sites, comma-separated (``https://hmi.example.com``; ``*`` for any) | none |
| TWINQL_ALLOWED_HOSTS | host names this twinql answers to (Host header) and pages may call it from (Origin), comma separated; ``.example.com`` allows subdomains, ``*`` any (421/403 otherwise) | localhost, 127.0.0.1, ::1 on loopback, else * |
| TWINQL_MAX_WEBSOCKETS | WebSocket connections open at once; more are closed at once (1013, ``UNAVAILABLE``) | 200 |
| TWINQL_MAX_BODY | largest HTTP request body, in bytes, on every route (413 above it); at least twice importPlant's 32 MiB document limit, so any plant document fits JSON-escaped | 67108864 (64 MiB) |
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from graph.errors import ValidationError

__all__ = ["Settings"]

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _bool(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in {"1", "true", "yes", "on"}:
        return True
    if v in {"0", "false", "no", "off"}:
        return False
    raise ValidationError(f"{name} must be true or false, got {value!r}")


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValidationError(f"{name} must be an integer, got {value!r}") from None


def _seconds(value: str, name: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ValidationError(f"{name} must be a number of seconds, got {value!r}") from None
    if not 0 <= seconds < float("inf"):
        raise ValidationError(f"{name} must be 0 or more seconds, got {value!r}")
    return seconds


def _origins(value: str, name: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
            raise ValidationError(
                f"{name}: each origin is scheme://host[:port] (e.g. https://hmi.example.com) "
                f"or *, got {origin!r}"
            )
    return origins


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path(".twinql")
    host: str = "127.0.0.1"
    port: int = 8000
    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: str = field(default="", repr=False)
    neo4j_database: str = "neo4j"
    graph_heap: str = "1g"
    questdb_url: str | None = None
    questdb_pg_port: int = 8812
    questdb_user: str = "admin"
    questdb_password: str = field(default="quest", repr=False)
    mqtt_url: str | None = None
    instance_id: str | None = None
    resync_s: float = 30.0
    tokens: str | None = field(default=None, repr=False)
    anonymous_read: bool | None = None
    max_depth: int = 12
    max_cost: int = 100_000
    max_body: int = 64 * 1024 * 1024
    allowed_hosts: tuple[str, ...] | None = None
    max_websockets: int = 200
    log_level: str = "info"
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        s = cls()
        get = env.get
        values: dict[str, object] = {}
        if v := get("TWINQL_DATA_DIR"):
            values["data_dir"] = Path(v)
        if v := get("TWINQL_HOST"):
            values["host"] = v
        if v := get("TWINQL_PORT"):
            values["port"] = _int(v, "TWINQL_PORT")
        for key, attr in (
            ("TWINQL_NEO4J_URI", "neo4j_uri"),
            ("TWINQL_NEO4J_USER", "neo4j_user"),
            ("TWINQL_NEO4J_PASSWORD", "neo4j_password"),
            ("TWINQL_NEO4J_DATABASE", "neo4j_database"),
            ("TWINQL_GRAPH_HEAP", "graph_heap"),
            ("TWINQL_QUESTDB_URL", "questdb_url"),
            ("TWINQL_QUESTDB_USER", "questdb_user"),
            ("TWINQL_QUESTDB_PASSWORD", "questdb_password"),
            ("TWINQL_MQTT_URL", "mqtt_url"),
            ("TWINQL_INSTANCE_ID", "instance_id"),
            ("TWINQL_TOKENS", "tokens"),
            ("TWINQL_LOG_LEVEL", "log_level"),
        ):
            if v := get(key):
                values[attr] = v
        if v := get("TWINQL_ANONYMOUS_READ"):
            values["anonymous_read"] = _bool(v, "TWINQL_ANONYMOUS_READ")
        if v := get("TWINQL_QUESTDB_PG_PORT"):
            values["questdb_pg_port"] = _int(v, "TWINQL_QUESTDB_PG_PORT")
        if v := get("TWINQL_MAX_DEPTH"):
            values["max_depth"] = _int(v, "TWINQL_MAX_DEPTH")
        if v := get("TWINQL_MAX_COST"):
            values["max_cost"] = _int(v, "TWINQL_MAX_COST")
        if v := get("TWINQL_CORS_ORIGINS"):
            values["cors_origins"] = _origins(v, "TWINQL_CORS_ORIGINS")
        if v := get("TWINQL_ALLOWED_HOSTS"):
            hosts = tuple(h.strip().lower() for h in v.split(",") if h.strip())
            if not hosts:
                raise ValidationError("TWINQL_ALLOWED_HOSTS names no host")
            values["allowed_hosts"] = hosts
        if v := get("TWINQL_MAX_WEBSOCKETS"):
            values["max_websockets"] = sockets = _int(v, "TWINQL_MAX_WEBSOCKETS")
            if sockets < 1:
                raise ValidationError(f"TWINQL_MAX_WEBSOCKETS must be at least 1, got {v!r}")
        if v := get("TWINQL_MAX_BODY"):
            values["max_body"] = max_body = _int(v, "TWINQL_MAX_BODY")
            if max_body < 1024:
                raise ValidationError(f"TWINQL_MAX_BODY must be at least 1024 bytes, got {v!r}")
        if v := get("TWINQL_RESYNC_S"):
            values["resync_s"] = _seconds(v, "TWINQL_RESYNC_S")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(s, **values)  # type: ignore[arg-type]

    @property
    def effective_instance_id(self) -> str:
        """TWINQL_INSTANCE_ID, else host name and API port: two twinql processes on one
        host never share an MQTT client id (the broker would take the session from one
        to give it to the other, in turns)."""
        return self.instance_id or f"{socket.gethostname() or 'twinql'}-{self.port}"

    @property
    def effective_allowed_hosts(self) -> tuple[str, ...]:
        """TWINQL_ALLOWED_HOSTS, else the loopback names when listening on loopback (a
        page rebinding its name to 127.0.0.1 is refused), else any host."""
        if self.allowed_hosts is not None:
            return self.allowed_hosts
        if self.host in _LOOPBACK:
            return ("localhost", "127.0.0.1", "::1")
        return ("*",)

    @property
    def allow_anonymous_read(self) -> bool:
        if self.anonymous_read is not None:
            return self.anonymous_read
        return self.host in _LOOPBACK
