"""Typed connector settings, parsed once from a ``DataSource`` (endpoint + settings map).

- MQTT: ``mqtt://host:port`` or ``mqtts://host:port``; settings ``username``,
  ``password``, ``shared_group``, ``client_id`` (default: derived from the data source
  and the twinql instance id, stable across reconnects), ``ack_timeout_s``,
  ``keepalive_s``, ``max_queued_messages``, ``mqtt_version`` (``"3.1.1"`` or ``"5"``),
  ``session_expiry_s`` (MQTT 5: how long the broker keeps the session of a disconnected
  twinql; with 3.1.1 the broker's own setting decides), ``ack_tolerance`` (relative
  tolerance of a device's applied value against the requested one). With ``mqtts``:
  ``tls_ca_file`` (PEM bundle of the CAs that sign the broker's certificate; default:
  the system's trusted CAs), ``tls_cert_file`` and ``tls_key_file`` (a client
  certificate, for brokers with ``require_certificate``), ``tls_key_password``. The
  broker's certificate is always verified, host name included.
- OPC UA: ``opc.tcp://host:port/path``; settings ``sampling_interval_ms`` (for nodes
  whose sensors have no ``samplingRateSeconds`` registered; a registered rate wins, and
  each monitored item queues the samples taken between two publishes),
  ``publishing_interval_ms``, ``username``, ``password``, ``security``
  (``"Policy,Mode,client_cert,client_key[::key_password][,server_cert]"``, asyncua's
  security string, e.g. ``"Basic256Sha256,SignAndEncrypt,cert.der,key.pem"``; policy one
  of ``OPCUA_SECURITY_POLICIES``, mode ``Sign`` or ``SignAndEncrypt``; without a server
  certificate the client takes the one the server's endpoint offers), ``timeout_s``,
  ``watchdog_s``.
- Modbus: ``modbus://host:port?unit=1&timeout=2&poll=1.0&max_gap=10``; the settings map
  may carry the same keys (``unit``, ``timeout``, ``poll``, ``max_gap``) and wins.
  ``single_register_writes`` (``true``/``false``, default false): write one-register
  setpoints with function 6 (Write Single Register) instead of 16, for devices that
  only implement 6; two-register values (int32, float32) always use 16.

Every protocol also takes ``reconnect_min_s`` and ``reconnect_max_s`` (backoff bounds).
Anything malformed raises ``ValidationError`` naming the key.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypedDict
from urllib.parse import parse_qsl, urlsplit

from graph.errors import ValidationError
from graph.model import DataSource

__all__ = [
    "OPCUA_SECURITY_MODES",
    "OPCUA_SECURITY_POLICIES",
    "ModbusSettings",
    "MqttSettings",
    "OpcUaSettings",
    "ReconnectSettings",
    "check_opcua_security",
]

# asyncua's ``SecurityPolicy<Name>`` classes (asyncua.crypto.security_policies); the
# last two are deprecated by the OPC Foundation but still met on older servers.
OPCUA_SECURITY_POLICIES = (
    "Basic256Sha256",
    "Aes128Sha256RsaOaep",
    "Aes256Sha256RsaPss",
    "Basic256",
    "Basic128Rsa15",
)
OPCUA_SECURITY_MODES = ("Sign", "SignAndEncrypt")
_SECURITY_FORMAT = "'Policy,Mode,client_cert,client_key[::key_password][,server_cert]'"


def _num(settings: Mapping[str, object], key: str, default: float, *, low: float = 0.0) -> float:
    raw = settings.get(key, default)
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError(f"setting {key} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value <= low:
        raise ValidationError(f"setting {key} must be a number above {low}, got {raw!r}")
    return value


def _int(settings: Mapping[str, object], key: str, default: int, low: int, high: int) -> int:
    raw = settings.get(key, default)
    try:
        value = int(str(raw))
    except ValueError:
        raise ValidationError(f"setting {key} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ValidationError(f"setting {key} must be within [{low}, {high}], got {value}")
    return value


def _bool(settings: Mapping[str, object], key: str, default: bool) -> bool:
    raw = settings.get(key, default)
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValidationError(f"setting {key} must be true or false, got {raw!r}")


def _opt_str(settings: Mapping[str, object], key: str) -> str | None:
    raw = settings.get(key)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise ValidationError(f"setting {key} must be a string")
    return raw


def _host_port(endpoint: str, schemes: tuple[str, ...], default_port: int) -> tuple[str, int]:
    parts = urlsplit(endpoint)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValidationError(
            f"endpoint {endpoint!r} must look like {schemes[0]}://host:port",
            path="endpoint",
        )
    try:
        port = parts.port or default_port
    except ValueError:
        raise ValidationError(f"endpoint {endpoint!r} has a bad port", path="endpoint") from None
    return parts.hostname, port


@dataclass(frozen=True, slots=True)
class ReconnectSettings:
    min_s: float = 0.5
    max_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Mapping[str, object]) -> ReconnectSettings:
        lo = _num(settings, "reconnect_min_s", 0.5)
        hi = _num(settings, "reconnect_max_s", max(30.0, lo))
        if hi < lo:
            raise ValidationError("reconnect_max_s must not be below reconnect_min_s")
        return cls(lo, hi)


@dataclass(frozen=True, slots=True)
class MqttSettings:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    shared_group: str | None = None
    client_id: str | None = None
    qos: int = 1
    ack_timeout_s: float = 5.0
    keepalive_s: int = 30
    max_queued_messages: int = 10_000
    mqtt_version: str = "3.1.1"
    session_expiry_s: int = 3600
    ack_tolerance: float = 1e-6
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_key_password: str | None = None
    reconnect: ReconnectSettings = ReconnectSettings()

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of an ``mqtts`` source (None for plain ``mqtt``); an unreadable
        or malformed file raises ``ssl.SSLError`` or ``OSError`` (a connection error)."""
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.tls_ca_file)
        if self.tls_cert_file is not None:
            context.load_cert_chain(self.tls_cert_file, self.tls_key_file, self.tls_key_password)
        return context

    @classmethod
    def from_source(cls, source: DataSource) -> MqttSettings:
        s = source.settings
        host, port = _host_port(source.endpoint, ("mqtt", "mqtts"), 1883)
        tls = source.endpoint.startswith("mqtts")
        if tls and urlsplit(source.endpoint).port is None:
            port = 8883
        group = _opt_str(s, "shared_group")
        if group is not None and any(c in group for c in "/+#"):
            raise ValidationError("setting shared_group must not contain '/', '+' or '#'")
        return cls(
            host=host,
            port=port,
            tls=tls,
            username=_opt_str(s, "username"),
            password=_opt_str(s, "password"),
            shared_group=group,
            client_id=_opt_str(s, "client_id"),
            ack_timeout_s=_num(s, "ack_timeout_s", 5.0),
            keepalive_s=_int(s, "keepalive_s", 30, 1, 65535),
            max_queued_messages=_int(s, "max_queued_messages", 10_000, 1, 10_000_000),
            mqtt_version=_mqtt_version(s),
            session_expiry_s=_int(s, "session_expiry_s", 3600, 0, 2**32 - 1),
            ack_tolerance=_tolerance(s),
            **_mqtt_tls(s, tls),
            reconnect=ReconnectSettings.from_settings(s),
        )


_TLS_FILES: Final = ("tls_ca_file", "tls_cert_file", "tls_key_file")


class _MqttTls(TypedDict):
    tls_ca_file: str | None
    tls_cert_file: str | None
    tls_key_file: str | None
    tls_key_password: str | None


def _mqtt_tls(settings: Mapping[str, object], tls: bool) -> _MqttTls:
    """The ``tls_*`` settings, checked: only with ``mqtts``, files that exist, a key
    only with a certificate."""
    out = _MqttTls(
        tls_ca_file=_opt_str(settings, "tls_ca_file"),
        tls_cert_file=_opt_str(settings, "tls_cert_file"),
        tls_key_file=_opt_str(settings, "tls_key_file"),
        tls_key_password=_opt_str(settings, "tls_key_password"),
    )
    given = [key for key, value in out.items() if value is not None]
    if given and not tls:
        raise ValidationError(
            f"setting {given[0]} needs an mqtts:// endpoint (TLS)", path=f"settings.{given[0]}"
        )
    for key in _TLS_FILES:
        path = out[key]
        if path is not None and not Path(path).is_file():
            raise ValidationError(f"setting {key}: no such file {path!r}", path=f"settings.{key}")
    if out["tls_cert_file"] is None and (out["tls_key_file"] or out["tls_key_password"]):
        raise ValidationError(
            "settings tls_key_file and tls_key_password need tls_cert_file (the client "
            "certificate)",
            path="settings.tls_cert_file",
        )
    return out


def _tolerance(settings: Mapping[str, object]) -> float:
    value = _num(settings, "ack_tolerance", 1e-6, low=-math.inf)
    if value < 0:
        raise ValidationError(f"setting ack_tolerance must not be negative, got {value!r}")
    return value


def _mqtt_version(settings: Mapping[str, object]) -> str:
    raw = str(settings.get("mqtt_version", "3.1.1")).strip()
    aliases = {"3.1.1": "3.1.1", "311": "3.1.1", "4": "3.1.1", "5": "5", "5.0": "5"}
    if raw not in aliases:
        raise ValidationError(f"setting mqtt_version must be '3.1.1' or '5', got {raw!r}")
    return aliases[raw]


def check_opcua_security(security: str | None) -> str | None:
    """The security string asyncua's ``Client.set_security_string`` accepts, or an error.

    The message never repeats the setting: its key part may hold a password.
    """
    if security is None:
        return None
    parts = [p.strip() for p in security.split(",")]
    policies = ", ".join(OPCUA_SECURITY_POLICIES)
    if len(parts) not in (4, 5) or not all(parts):
        raise ValidationError(
            f"setting security must look like {_SECURITY_FORMAT} (4 or 5 non-empty parts, "
            f"got {len(parts)}); policy one of {policies}; mode Sign or SignAndEncrypt",
            path="settings.security",
        )
    policy, mode, _cert, key = parts[:4]
    if policy not in OPCUA_SECURITY_POLICIES:
        raise ValidationError(
            f"setting security: unknown policy {policy!r}, expected one of {policies} "
            f"(format {_SECURITY_FORMAT})",
            path="settings.security",
        )
    if mode not in OPCUA_SECURITY_MODES:
        raise ValidationError(
            f"setting security: unknown mode {mode!r}, expected Sign or SignAndEncrypt "
            f"(format {_SECURITY_FORMAT})",
            path="settings.security",
        )
    if not key.split("::", 1)[0].strip():
        raise ValidationError(
            f"setting security: the client key path is empty (format {_SECURITY_FORMAT})",
            path="settings.security",
        )
    return security


@dataclass(frozen=True, slots=True)
class OpcUaSettings:
    url: str
    sampling_interval_ms: float = 100.0
    publishing_interval_ms: float = 100.0
    username: str | None = None
    password: str | None = None
    security: str | None = None
    timeout_s: float = 4.0
    watchdog_s: float = 1.0
    queue_size: int = 10_000
    reconnect: ReconnectSettings = ReconnectSettings()

    @classmethod
    def from_source(cls, source: DataSource) -> OpcUaSettings:
        s = source.settings
        _host_port(source.endpoint, ("opc.tcp",), 4840)
        security = check_opcua_security(_opt_str(s, "security"))
        return cls(
            url=source.endpoint,
            sampling_interval_ms=_num(s, "sampling_interval_ms", 100.0, low=-1.0),
            publishing_interval_ms=_num(s, "publishing_interval_ms", 100.0),
            username=_opt_str(s, "username"),
            password=_opt_str(s, "password"),
            security=security,
            timeout_s=_num(s, "timeout_s", 4.0),
            watchdog_s=_num(s, "watchdog_s", 1.0),
            queue_size=_int(s, "queue_size", 10_000, 1, 10_000_000),
            reconnect=ReconnectSettings.from_settings(s),
        )


@dataclass(frozen=True, slots=True)
class ModbusSettings:
    host: str
    port: int = 502
    unit: int = 1
    timeout_s: float = 2.0
    poll_s: float = 1.0
    max_gap: int | None = None
    single_register_writes: bool = False
    reconnect: ReconnectSettings = ReconnectSettings()

    @classmethod
    def from_source(cls, source: DataSource) -> ModbusSettings:
        host, port = _host_port(source.endpoint, ("modbus", "modbus+tcp"), 502)
        query = dict(parse_qsl(urlsplit(source.endpoint).query))
        merged: dict[str, object] = {**query, **source.settings}
        gap = merged.get("max_gap")
        return cls(
            host=host,
            port=port,
            unit=_int(merged, "unit", 1, 0, 255),
            timeout_s=_num(merged, "timeout", 2.0),
            poll_s=_num(merged, "poll", 1.0),
            max_gap=None if gap is None else _int(merged, "max_gap", 0, 0, 125),
            single_register_writes=_bool(merged, "single_register_writes", False),
            reconnect=ReconnectSettings.from_settings(merged),
        )
