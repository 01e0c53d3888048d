"""The audit log of mutations: ``audit.jsonl`` in the data directory, one JSON object a line.

Each record says who (``actor``: the principal's name, ``keyId`` for an API key, its
``role``), what (``operation``: the mutation field; ``arguments`` with secrets masked),
when (``at``, UTC) and the outcome (``ok`` or the error's code, with its message).
Writing it is ``api.admin.audit``'s, for every root field of every executed mutation
operation, refused ones included. Setpoint commands keep their own trail in the graph.

Durability: group commit. Records handed in while a write is under way wait for the next
one; each write appends its batch and fsyncs once, and ``append`` returns (so the caller
answers) only after its records' fsync. A crash loses no record whose mutation was
answered. The file is opened in append mode, readable by its owner only.

Arguments are kept small and secret-free before they reach the file (``masked``): values
under secret names (``password``, ``token``, ``apiKey``, ``auth_header`` ...:
``graph.redact``) are ``***``, credentials in URLs are masked, strings are cut at 500
characters and lists at 50 items (an imported plant file is not copied into the log).

``query`` reads the file back for admins (``auditLog``): a forward scan, off the event
loop, keeping the newest ``first`` records that match, newest first.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from graph.errors import ValidationError
from graph.redact import MASK, is_secret_setting, redact_text

__all__ = ["AUDIT_FILE", "AuditLog", "AuditRecord", "masked"]

AUDIT_FILE = "audit.jsonl"
MAX_TEXT = 500
MAX_ITEMS = 50
MAX_FIRST = 1000

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: datetime
    actor: str
    key_id: str | None
    role: str | None
    operation: str
    arguments: dict[str, Any]
    outcome: str  # "ok" or an error code
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(timespec="microseconds"),
            "actor": self.actor,
            "keyId": self.key_id,
            "role": self.role,
            "operation": self.operation,
            "arguments": self.arguments,
            "outcome": self.outcome,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AuditRecord:
        return cls(
            at=datetime.fromisoformat(d["at"]),
            actor=d["actor"],
            key_id=d.get("keyId"),
            role=d.get("role"),
            operation=d["operation"],
            arguments=d.get("arguments") or {},
            outcome=d["outcome"],
            message=d.get("message"),
        )


def masked(value: Any, depth: int = 0) -> Any:
    """``value`` with secrets masked and sizes capped (see the module's docstring)."""
    if depth > 8:
        return "…"
    if isinstance(value, Mapping):
        return {
            str(k): MASK if is_secret_setting(str(k)) else masked(v, depth + 1)
            for k, v in list(value.items())[:MAX_ITEMS]
        }
    if isinstance(value, list | tuple):
        items = [masked(v, depth + 1) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"… {len(value) - MAX_ITEMS} more")
        return items
    if isinstance(value, str):
        text = redact_text(value[: MAX_TEXT * 2])
        return text if len(value) <= MAX_TEXT else f"{text[:MAX_TEXT]}… ({len(value)} chars)"
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return masked(str(getattr(value, "value", value)), depth + 1)  # enums, decimals


class AuditLog:
    """Appends records to ``path`` with group commit; reads them back for admins."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._pending: list[tuple[str, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0  # fsyncs done (for tests and status)

    def _open(self) -> IO[str]:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._file = os.fdopen(fd, "a", encoding="utf-8")
        return self._file

    async def append(self, records: Iterable[AuditRecord]) -> None:
        """Write ``records``; returns once they are fsync'ed (or the write failed: logged,
        the records kept in the log line, since the mutations already took effect)."""
        text = "".join(
            json.dumps(r.to_json(), separators=(",", ":"), ensure_ascii=False) + "\n"
            for r in records
        )
        if not text:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((text, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        try:
            await done
        except OSError as exc:
            log.error("audit log %s: cannot write (%s); lost records: %s", self.path, exc, text)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._write, "".join(text for text, _ in batch))
            except OSError as exc:
                for _, done in batch:
                    done.set_exception(exc)
            else:
                for _, done in batch:
                    done.set_result(None)

    def _write(self, text: str) -> None:
        fh = self._open()
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
        self.batches += 1

    async def aclose(self) -> None:
        if self._writer is not None:
            await self._writer
        if self._file is not None:
            self._file.close()
            self._file = None

    async def query(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        actor: str | None = None,
        operation: str | None = None,
        first: int = 100,
    ) -> list[AuditRecord]:
        """The newest ``first`` records in [start, end) by ``actor`` (a name or a key id)
        and of ``operation``, newest first."""
        if not 1 <= first <= MAX_FIRST:
            raise ValidationError(f"first must be 1 to {MAX_FIRST}", path="first")
        if start is not None and end is not None and end <= start:
            raise ValidationError("to must be after from", path="to")
        start, end = (_aware(t) for t in (start, end))
        return await asyncio.to_thread(self._scan, start, end, actor, operation, first)

    def _scan(
        self,
        start: datetime | None,
        end: datetime | None,
        actor: str | None,
        operation: str | None,
        first: int,
    ) -> list[AuditRecord]:
        kept: deque[AuditRecord] = deque(maxlen=first)
        try:
            fh = self.path.open(encoding="utf-8")
        except FileNotFoundError:
            return []
        with fh:
            for line in fh:
                try:
                    record = AuditRecord.from_json(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a crash mid-write
                if start is not None and record.at < start:
                    continue
                if end is not None and record.at >= end:
                    continue
                if actor is not None and actor not in (record.actor, record.key_id):
                    continue
                if operation is not None and record.operation != operation:
                    continue
                kept.append(record)
        return list(reversed(kept))


def _aware(t: datetime | None) -> datetime | None:
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t
