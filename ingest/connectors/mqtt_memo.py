"""What the broker's session of an MQTT connector holds, remembered across processes.

A broker keeps a persistent session per client id: the subscriptions and the QoS 1
messages published for them while the client was away or had not acknowledged them.
A connector whose process crashed (``kill -9``, power loss) or was stopped must take
that session up again when the next process starts, or the broker's queued and
unacknowledged messages (acknowledged to their publishers) are dropped by a clean start.

Resuming is safe only when twinql knows what the session holds: the broker does not
list a session's subscriptions, and a filter from an older binding would keep
delivering messages nothing reads. So each connector keeps a memo,
``<dir>/<client id>.json``: the broker (``host:port``) and the filters it subscribed.

- The first connection of a connector resumes the session when the memo names the same
  broker (the stale filters are unsubscribed); without a memo, or for another broker, it
  starts clean (nothing is known about what that session holds).
- The memo is written (temporary file, fsync, rename) after every subscription change,
  before messages of the new filters are taken.
- A data source that is deleted forgets its memo; the broker drops the session when it
  expires (MQTT 5 ``session_expiry_s``; Mosquitto 3.1.1: ``persistent_client_expiration``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

__all__ = ["SessionMemo"]

log = logging.getLogger(__name__)


class SessionMemo:
    """The memo of one client id under ``directory`` (blocking file I/O: call it from a
    worker thread)."""

    def __init__(self, directory: Path, identifier: str) -> None:
        self.directory = directory
        self.path = directory / f"{identifier}.json"

    def load(self, broker: str) -> set[str] | None:
        """The filters the session on ``broker`` holds, or None: start clean (no memo,
        another broker, or a memo that cannot be read, which is logged)."""
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("MQTT session memo %s unreadable (%s): starting clean", self.path, exc)
            return None
        filters = doc.get("filters") if isinstance(doc, dict) else None
        if doc.get("broker") != broker or not isinstance(filters, list):
            return None
        return {f for f in filters if isinstance(f, str)}

    def save(self, broker: str, filters: set[str]) -> None:
        """Write-then-rename, fsynced (file and directory)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        body = json.dumps({"broker": broker, "filters": sorted(filters)}, indent=1)
        with tmp.open("w", encoding="utf-8") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(self.path)
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)
