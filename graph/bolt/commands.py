"""Setpoint commands: the audit trail of every write to an actuator.

``(:SetpointCommand {id, actuatorId, assetId, value, status, requestedBy, reason,
requestedAt, completedAt, confirmedValue, message, sourceId})-[:TARGETS]->(:Actuator)``.
A command is created ``pending`` and completed once as ``applied``, ``rejected`` or
``failed``; rejected and failed commands are kept like applied ones.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from graph.bolt.client import GraphClient
from graph.bolt.cypher import commands as q
from graph.errors import NotFound, ValidationError
from graph.model import check_id
from graph.timeutil import iso, parse_iso, utcnow

__all__ = ["CommandRepository", "CommandStatus", "SetpointCommand", "new_command_id"]

MAX_COMMANDS_PER_ACTUATOR = 1_000


class CommandStatus(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self is not CommandStatus.PENDING


def new_command_id() -> str:
    return f"cmd-{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class SetpointCommand:
    id: str
    actuator_id: str
    asset_id: str
    value: float
    requested_by: str
    requested_at: datetime
    reason: str = ""
    status: CommandStatus = CommandStatus.PENDING
    completed_at: datetime | None = None
    confirmed_value: float | None = None
    message: str = ""
    source_id: str | None = None

    def __post_init__(self) -> None:
        check_id(self.id, "command id")
        check_id(self.actuator_id, "actuator id")
        if not isinstance(self.status, CommandStatus):
            object.__setattr__(self, "status", CommandStatus(self.status))
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise ValidationError(f"setpoint must be a number, got {self.value!r}")
        if len(self.reason) > 2_000:
            raise ValidationError("reason must be at most 2000 characters")

    def completed(
        self,
        status: CommandStatus,
        message: str,
        confirmed_value: float | None = None,
        source_id: str | None = None,
        at: datetime | None = None,
    ) -> SetpointCommand:
        if not status.final:
            raise ValidationError("a command completes as applied, rejected or failed")
        return replace(
            self,
            status=status,
            message=message,
            confirmed_value=confirmed_value,
            source_id=source_id or self.source_id,
            completed_at=at or utcnow(),
        )


def _num(value: float | None) -> float | None:
    """NaN/inf cannot be stored as graph properties; the audit keeps them as null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _from(row: dict[str, object]) -> SetpointCommand:
    requested = parse_iso(row["requestedAt"])  # type: ignore[arg-type]
    assert requested is not None
    value = row.get("value")
    return SetpointCommand(
        id=str(row["id"]),
        actuator_id=str(row["actuatorId"]),
        asset_id=str(row.get("assetId") or ""),
        value=float(value) if isinstance(value, int | float) else math.nan,
        requested_by=str(row.get("requestedBy") or ""),
        requested_at=requested,
        reason=str(row.get("reason") or ""),
        status=CommandStatus(str(row["status"])),
        completed_at=parse_iso(row.get("completedAt")),  # type: ignore[arg-type]
        confirmed_value=row.get("confirmedValue"),  # type: ignore[arg-type]
        message=str(row.get("message") or ""),
        source_id=row.get("sourceId"),  # type: ignore[arg-type]
    )


class CommandRepository:
    def __init__(self, client: GraphClient) -> None:
        self._client = client

    async def create(self, command: SetpointCommand) -> SetpointCommand:
        """Record a new command targeting its actuator (NotFound when it is unknown)."""
        rows = await self._client.write(
            q.CREATE_COMMAND,
            id=command.id,
            actuatorId=command.actuator_id,
            assetId=command.asset_id,
            value=_num(command.value),
            status=command.status.value,
            requestedBy=command.requested_by,
            reason=command.reason,
            requestedAt=iso(command.requested_at),
            sourceId=command.source_id,
        )
        if not rows:
            raise NotFound(f"actuator {command.actuator_id} not found")
        return command

    async def complete(self, command: SetpointCommand) -> SetpointCommand:
        """Store the final state of ``command`` (status, completion time, outcome)."""
        rows = await self._client.write(
            q.COMPLETE_COMMAND,
            id=command.id,
            status=command.status.value,
            completedAt=iso(command.completed_at),
            confirmedValue=_num(command.confirmed_value),
            message=command.message,
            sourceId=command.source_id,
        )
        if not rows:
            raise NotFound(f"setpoint command {command.id} not found")
        return command

    async def get(self, command_id: str) -> SetpointCommand:
        rows = await self._client.read(q.GET_COMMANDS, ids=[command_id])
        if not rows:
            raise NotFound(f"setpoint command {command_id} not found")
        return _from(rows[0])

    async def for_actuators(
        self, actuator_ids: Iterable[str], limit: int = 50
    ) -> dict[str, list[SetpointCommand]]:
        """Commands per actuator, newest first, at most ``limit`` each (one query)."""
        if not 1 <= limit <= MAX_COMMANDS_PER_ACTUATOR:
            raise ValidationError(f"limit must be between 1 and {MAX_COMMANDS_PER_ACTUATOR}")
        ids = list(dict.fromkeys(actuator_ids))
        out: dict[str, list[SetpointCommand]] = {i: [] for i in ids}
        if not ids:
            return out
        for row in await self._client.read(q.COMMANDS_FOR_ACTUATORS, ids=ids):
            found = out[str(row["actuatorId"])]
            if len(found) < limit:
                found.append(_from(row))
        return out
