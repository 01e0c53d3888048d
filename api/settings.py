"""Settings, read once from the environment by the composition root.

``VARIABLES`` declares every ``TWINQL_*`` variable: the ``Settings`` field it sets, how its
text is read, what it means and its default. ``Settings.from_env`` reads exactly those;
``python -m api.settings --markdown`` prints them as the configuration reference that
docs/operations.md carries (a test keeps that copy current).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from graph.errors import ValidationError

__all__ = ["VARIABLES", "Rate", "Settings", "Variable", "reference_markdown"]

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


def _text(value: str, name: str) -> str:
    return value


def _path(value: str, name: str) -> Path:
    return Path(value)


def _hosts(value: str, name: str) -> tuple[str, ...]:
    hosts = tuple(h.strip().lower() for h in value.split(",") if h.strip())
    if not hosts:
        raise ValidationError(f"{name} names no host")
    return hosts


@dataclass(frozen=True, slots=True)
class Rate:
    """A token bucket's refill per second and size (``RATE[:BURST]``; 0: no limit)."""

    per_second: float
    burst: float

    def __str__(self) -> str:
        return f"{self.per_second:g}:{self.burst:g}"


def _rate(value: str, name: str) -> Rate:
    """``RATE[:BURST]``: a rate per second and a bucket size (default 10 x the rate)."""
    rate_text, _, burst_text = value.partition(":")
    try:
        rate = float(rate_text)
        burst = float(burst_text) if burst_text else rate * 10
    except ValueError:
        raise ValidationError(
            f"{name} must be RATE[:BURST] (per second, e.g. 100:1000; 0 turns it off), "
            f"got {value!r}"
        ) from None
    if not (0 <= rate < float("inf") and 0 <= burst < float("inf")) or (rate and burst < 1):
        raise ValidationError(
            f"{name}: the rate is 0 or more and the burst 1 or more, got {value!r}"
        )
    return Rate(rate, burst)


def _introspection(value: str, name: str) -> str:
    v = value.strip().lower()
    aliases = {"true": "on", "1": "on", "yes": "on", "false": "off", "0": "off", "no": "off"}
    v = aliases.get(v, v)
    if v not in {"on", "off", "token"}:
        raise ValidationError(f"{name} must be on, off or token, got {value!r}")
    return v


def _at_least(minimum: int) -> Callable[[str, str], int]:
    def parse(value: str, name: str) -> int:
        number = _int(value, name)
        if number < minimum:
            raise ValidationError(f"{name} must be at least {minimum}, got {value!r}")
        return number

    return parse


@dataclass(frozen=True, slots=True)
class Variable:
    """One environment variable: the ``Settings`` field it sets, how its text is read,
    what it means and its default (as the reference shows it)."""

    name: str
    attr: str
    parse: Callable[[str, str], object]
    meaning: str
    default: str


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "TWINQL_DATA_DIR",
        "data_dir",
        _path,
        "where twinql keeps its files: the embedded graph server (graph/), the DuckDB "
        "readings (readings.duckdb), the spill log (spill/), the hashed API keys "
        "(api-keys.json), the first keys (first-keys.json) and the audit log (audit.jsonl)",
        "./.twinql",
    ),
    Variable("TWINQL_HOST", "host", _text, "address the API listens on", "127.0.0.1"),
    Variable("TWINQL_PORT", "port", _int, "port the API listens on", "8000"),
    Variable(
        "TWINQL_NEO4J_URI",
        "neo4j_uri",
        _text,
        "Bolt URI of Neo4j 5 (bolt://host:7687 or neo4j://...); unset: the "
        "embedded graph server in the data directory",
        "unset",
    ),
    Variable("TWINQL_NEO4J_USER", "neo4j_user", _text, "Neo4j user", "neo4j"),
    Variable("TWINQL_NEO4J_PASSWORD", "neo4j_password", _text, "Neo4j password", "empty"),
    Variable("TWINQL_NEO4J_DATABASE", "neo4j_database", _text, "Neo4j database", "neo4j"),
    Variable(
        "TWINQL_GRAPH_HEAP",
        "graph_heap",
        _text,
        "Java heap of the embedded graph server (-Xmx syntax: 512m, 2g)",
        "1g",
    ),
    Variable(
        "TWINQL_QUESTDB_URL",
        "questdb_url",
        _text,
        "QuestDB HTTP URL, for ILP writes (reads go over PostgreSQL wire to the same "
        "host); unset: DuckDB in the data directory",
        "unset",
    ),
    Variable(
        "TWINQL_QUESTDB_PG_PORT",
        "questdb_pg_port",
        _int,
        "QuestDB's PostgreSQL-wire port (reads)",
        "8812",
    ),
    Variable("TWINQL_QUESTDB_USER", "questdb_user", _text, "QuestDB PostgreSQL-wire user", "admin"),
    Variable(
        "TWINQL_QUESTDB_PASSWORD",
        "questdb_password",
        _text,
        "QuestDB PostgreSQL-wire password",
        "quest",
    ),
    Variable(
        "TWINQL_QUESTDB_TABLE_PREFIX",
        "questdb_table_prefix",
        _text,
        "prefix of twinql's QuestDB table names (letters, digits, '_'), for several twinql "
        "plants or test runs on one QuestDB server",
        "empty",
    ),
    Variable(
        "TWINQL_MQTT_URL",
        "mqtt_url",
        _text,
        "MQTT broker for device connectivity (mqtt://host:1883, mqtts:// for TLS)",
        "unset",
    ),
    Variable(
        "TWINQL_INSTANCE_ID",
        "instance_id",
        _text,
        "this process among several twinql instances: part of its MQTT client ids, so "
        "keep it stable across restarts for the broker to keep its sessions",
        "host name and API port",
    ),
    Variable(
        "TWINQL_RESYNC_S",
        "resync_s",
        _seconds,
        "seconds between checks of the graph's data sources for edits made elsewhere "
        "(another instance, twinql load); 0 turns the check off",
        "30",
    ),
    Variable(
        "TWINQL_TOKENS",
        "tokens",
        _text,
        "API tokens, comma separated, each token:role[:name[:scope|scope]] (tokens of "
        "16 characters or more; scopes are asset ids), beside the API keys of the data "
        "directory; unset: a fresh data directory gets an admin, an operator and an ingest "
        "key, written once to first-keys.json",
        "unset",
    ),
    Variable(
        "TWINQL_JWT_ISSUER",
        "jwt_issuer",
        _text,
        "accept JWT bearer tokens of this issuer (iss), signed RS256/ES256 by a key of "
        "TWINQL_JWT_JWKS or HS256 with TWINQL_JWT_HS256_SECRET(_FILE)",
        "unset (no JWTs)",
    ),
    Variable(
        "TWINQL_JWT_AUDIENCE", "jwt_audience", _text, "the audience (aud) JWTs must hold", "unset"
    ),
    Variable(
        "TWINQL_JWT_JWKS",
        "jwt_jwks",
        _text,
        "the identity provider's public keys: a JWKS file, or an https:// URL (fetched at "
        "start and for unknown key ids)",
        "unset",
    ),
    Variable(
        "TWINQL_JWT_HS256_SECRET",
        "jwt_hs256_secret",
        _text,
        "a shared secret (32 bytes or more) to accept HS256 JWTs; prefer the _FILE form",
        "unset (no HS256)",
    ),
    Variable(
        "TWINQL_JWT_HS256_SECRET_FILE",
        "jwt_hs256_secret_file",
        _path,
        "a file holding the HS256 secret",
        "unset",
    ),
    Variable(
        "TWINQL_JWT_ROLE_CLAIM",
        "jwt_role_claim",
        _text,
        "the claim holding the twinql role (a string or a list, dotted for nested claims "
        "such as realm_access.roles; the highest role wins)",
        "role",
    ),
    Variable(
        "TWINQL_JWT_SCOPES_CLAIM",
        "jwt_scopes_claim",
        _text,
        "the claim holding asset scopes (a list or space-separated ids; absent: the plant)",
        "asset_scopes",
    ),
    Variable(
        "TWINQL_JWT_NAME_CLAIM", "jwt_name_claim", _text, "the claim naming the caller", "sub"
    ),
    Variable(
        "TWINQL_ANONYMOUS_READ",
        "anonymous_read",
        _bool,
        "let callers without a token run queries and read /metrics (true or false; off "
        "unless set: every caller needs a key)",
        "false",
    ),
    Variable(
        "TWINQL_RATE_MUTATIONS",
        "rate_mutations",
        _rate,
        "mutations per second per token, RATE[:BURST] (a token bucket of BURST, refilled at "
        "RATE; one per root field; beyond it RATE_LIMITED with retryAfter); 0 turns it off",
        "100:1000",
    ),
    Variable(
        "TWINQL_RATE_INGEST",
        "rate_ingest",
        _rate,
        "POST /ingest requests per second per token, RATE[:BURST] (beyond it HTTP 429 with "
        "Retry-After); 0 turns it off",
        "500:5000",
    ),
    Variable(
        "TWINQL_INTROSPECTION",
        "introspection",
        _introspection,
        "GraphQL introspection (__schema, __type): on (anyone who may query), token (callers "
        "with a token of any role) or off (nobody; FORBIDDEN)",
        "on when the host is a loopback address, else token",
    ),
    Variable(
        "TWINQL_GRAPHIQL",
        "graphiql",
        _bool,
        "serve GraphiQL at GET /graphql (true or false; false: 404, the API itself unchanged)",
        "true",
    ),
    Variable("TWINQL_MAX_DEPTH", "max_depth", _int, "GraphQL query depth limit", "12"),
    Variable("TWINQL_MAX_COST", "max_cost", _int, "GraphQL query estimated cost limit", "100000"),
    Variable(
        "TWINQL_ALLOWED_HOSTS",
        "allowed_hosts",
        _hosts,
        "host names this twinql answers to (Host header, else 421 MISDIRECTED_HOST) and "
        "pages may call it from (Origin, else 403 FORBIDDEN_ORIGIN), comma separated; "
        ".example.com allows subdomains, * any: guards against DNS rebinding",
        "localhost, 127.0.0.1, ::1 on loopback, else *",
    ),
    Variable(
        "TWINQL_MAX_WEBSOCKETS",
        "max_websockets",
        _at_least(1),
        "WebSocket connections open at once; beyond it a new one is closed at once "
        "(code 1013, reason UNAVAILABLE: ...)",
        "200",
    ),
    Variable(
        "TWINQL_MAX_BODY",
        "max_body",
        _at_least(1024),
        "largest request body in bytes, every route (413 PAYLOAD_TOO_LARGE above it); the "
        "default fits importPlant's largest (32 MiB) document, JSON-escaped",
        "67108864",
    ),
    Variable(
        "TWINQL_CORS_ORIGINS",
        "cors_origins",
        _origins,
        "browser origins allowed to call the API from another site, comma separated "
        "(https://hmi.example.com; * for any)",
        "unset",
    ),
    Variable(
        "TWINQL_NUMBA_CACHE_DIR",
        "numba_cache_dir",
        _path,
        "where compiled simulation code is cached (never inside the installed package)",
        "$XDG_CACHE_HOME/twinql/numba, else ~/.cache/twinql/numba",
    ),
    Variable(
        "XDG_CACHE_HOME",
        "xdg_cache_home",
        _text,
        "the platform's cache root (not twinql's own): the numba cache's default is below it",
        "unset",
    ),
    Variable(
        "TWINQL_HEALTH_INTERVAL",
        "health_interval_s",
        _seconds,
        "seconds between health assessments of every asset whose sensors declare failure "
        "limits or that has an anomaly model (stored, work orders opened); 0 turns them off",
        "900",
    ),
    Variable(
        "TWINQL_HEALTH_WINDOW",
        "health_window_s",
        _seconds,
        "length in seconds of the windows health, RUL and anomaly features are computed "
        "over (a whole number of TWINQL_HEALTH_STEP)",
        "86400",
    ),
    Variable(
        "TWINQL_HEALTH_STEP",
        "health_step_s",
        _seconds,
        "seconds between the starts of two health windows",
        "21600",
    ),
    Variable(
        "TWINQL_HEALTH_BASELINE",
        "health_baseline_s",
        _seconds,
        "seconds at the start of an asset's life (after its last failure or replacement, "
        "or from its first data) whose levels count as normal (health 1)",
        "345600",
    ),
    Variable(
        "TWINQL_LOG_LEVEL",
        "log_level",
        _text,
        "log level: debug, info, warning, error (the --log-level option wins)",
        "info",
    ),
)


def reference_markdown(variables: Sequence[Variable] = VARIABLES) -> str:
    """The variables as a Markdown table (the configuration reference)."""
    lines = ["| variable | meaning | default |", "|---|---|---|"]
    for v in variables:
        meaning, default = (text.replace("|", "\\|") for text in (v.meaning, v.default))
        lines.append(f"| `{v.name}` | {meaning} | {default} |")
    return "\n".join(lines) + "\n"


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
    questdb_table_prefix: str = ""
    mqtt_url: str | None = None
    instance_id: str | None = None
    resync_s: float = 30.0
    tokens: str | None = field(default=None, repr=False)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks: str | None = None
    jwt_hs256_secret: str | None = field(default=None, repr=False)
    jwt_hs256_secret_file: Path | None = None
    jwt_role_claim: str = "role"
    jwt_scopes_claim: str = "asset_scopes"
    jwt_name_claim: str = "sub"
    anonymous_read: bool = False
    rate_mutations: Rate = Rate(100.0, 1000.0)
    rate_ingest: Rate = Rate(500.0, 5000.0)
    introspection: str | None = None  # None: effective_introspection decides
    graphiql: bool = True
    max_depth: int = 12
    max_cost: int = 100_000
    max_body: int = 64 * 1024 * 1024
    allowed_hosts: tuple[str, ...] | None = None
    max_websockets: int = 200
    log_level: str = "info"
    cors_origins: tuple[str, ...] = ()
    numba_cache_dir: Path | None = None  # None: sim.fastpath.default_cache_dir(xdg_cache_home)
    xdg_cache_home: str | None = None
    health_interval_s: float = 900.0
    health_window_s: float = 86_400.0
    health_step_s: float = 21_600.0
    health_baseline_s: float = 4 * 86_400.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for var in VARIABLES:
            if text := env.get(var.name):
                values[var.attr] = var.parse(text, var.name)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)  # type: ignore[arg-type]

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
    def effective_introspection(self) -> str:
        """TWINQL_INTROSPECTION, else open on loopback and for token holders elsewhere."""
        if self.introspection is not None:
            return self.introspection
        return "on" if self.host in _LOOPBACK else "token"

    @property
    def allow_anonymous_read(self) -> bool:
        """Anonymous reads only when enabled explicitly (TWINQL_ANONYMOUS_READ=true)."""
        return bool(self.anonymous_read)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m api.settings --markdown")
    sys.stdout.write(reference_markdown())
