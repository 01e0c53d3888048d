"""Secrets kept out of answers and logs: endpoint credentials and secret settings.

Pure text functions, used wherever an endpoint or a data source's settings leave the
process (GraphQL answers to callers other than admins, log lines, CLI output):

- ``redact_url("mqtt://user:pw@host:1883")`` -> ``"mqtt://user:***@host:1883"``; query
  parameters with secret names (``?token=...``) are masked the same way;
- ``redact_text`` masks every such URL inside a message (connector errors quote them);
- ``redact_settings`` drops settings with secret names (``password``, ``apiKey``,
  ``auth_header``, ``token`` ...), nested maps included, and keeps only the policy part
  of OPC UA's ``security`` string (``policy,mode,cert::key_password``);
- ``RedactSecrets``, a logging filter the CLI puts on its log handlers, passes every
  record's message through ``redact_text``.
"""

from __future__ import annotations

import logging
import re

__all__ = [
    "MASK",
    "RedactSecrets",
    "is_secret_setting",
    "redact_settings",
    "redact_text",
    "redact_url",
]

MASK = "***"

# Setting names that hold secrets (matched case-insensitively, anywhere in the name;
# "key" and "auth" as words of it: apiKey, private_key, auth_header, but not keepalive
# or author).
_SECRET_PARTS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "credential",
    "private",
    "authorization",
    "cookie",
    "bearer",
)
_SECRET_WORDS = {"key", "apikey", "auth", "pass"}
_WORDS = re.compile(r"[a-z0-9]+|[A-Z][a-z0-9]*")
# scheme://user:password@  (the password: anything up to the last @ of the authority)
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*):[^/\s]*@")
_QUERY_PARAM = re.compile(r"(?P<head>[?&;](?P<name>[^=&;#\s]+)=)(?P<value>[^&;#\s]*)")


def is_secret_setting(name: str) -> bool:
    low = name.lower()
    words = {w.lower() for w in _WORDS.findall(name)}
    return any(part in low for part in _SECRET_PARTS) or bool(words & _SECRET_WORDS)


def _mask_param(match: re.Match[str]) -> str:
    if is_secret_setting(match.group("name")) and match.group("value"):
        return match.group("head") + MASK
    return match.group(0)


def redact_text(text: str) -> str:
    """``text`` with the passwords of URLs in it, and secret query values, masked."""
    text = _USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
    return _QUERY_PARAM.sub(_mask_param, text)


def redact_url(url: str) -> str:
    """An endpoint fit to show: ``scheme://user:***@host`` (secret query values too)."""
    return redact_text(url)


def redact_settings(settings: dict[str, object]) -> dict[str, object]:
    """Data source settings fit to serve back: secrets dropped, nested maps included."""
    out: dict[str, object] = {}
    for name, value in settings.items():
        if name.lower() == "security":
            if isinstance(value, str):
                out[name] = ",".join(p.split("::", 1)[0] for p in value.split(","))
        elif is_secret_setting(name):
            continue
        elif isinstance(value, dict):
            out[name] = redact_settings(value)
        elif isinstance(value, list):
            out[name] = [redact_settings(v) if isinstance(v, dict) else v for v in value]
        elif isinstance(value, str):
            out[name] = redact_text(value)
        else:
            out[name] = value
    return out


class RedactSecrets(logging.Filter):
    """Masks endpoint credentials in log messages (the record's text, args resolved)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
