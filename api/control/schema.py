"""Control: setpoint writes (checked, audited, confirmed), data-source status, outcomes.

``writeSetpoint`` needs the ``operator`` role and, for a token limited to asset
subtrees, the actuator's asset (or one of its ancestors) in scope. Every command that
passed those checks is audited as a ``SetpointCommand`` targeting the actuator: it is
created ``pending`` and completes as ``applied`` (the device acknowledged or read back
the value), ``failed`` (no binding, device down, refused, no ack) or ``rejected`` (the
value is outside the actuator's limits). Refusals before the device is reached (out of
range, no ``DRIVES`` binding) are GraphQL errors (``VALIDATION``) whose extensions carry
``commandId``; device outcomes are data: the returned command's ``status``/``message``.
Each final command is published on ``setpointOutcomes``. No command stays ``pending``:
an unexpected error or a cancellation (the caller went away, shutdown) while the device
is being written completes it ``failed`` saying so, shielded from that cancellation,
before the error goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.dataloader import DataLoader

from api.assets.types import ActuatorNode, Info
from api.services.auth import Principal
from graph.bolt.commands import CommandStatus, SetpointCommand, new_command_id
from graph.errors import Forbidden, TwinqlError, Unavailable, ValidationError
from graph.timeutil import utcnow
from ingest.connectors import ConnectorStatus

if TYPE_CHECKING:
    from api.services.container import Services
    from ingest.manager import ConnectorManager

__all__ = [
    "ControlMutation",
    "actuator_commands",
    "ControlQuery",
    "DataSourceStatusNode",
    "SetpointCommandNode",
    "commands_loader",
    "execute_setpoint",
    "status_node",
]

log = logging.getLogger("twinql.api.control")


@strawberry.enum(name="ConnectorState", description="State of a data source's connector.")
class ConnectorStateEnum(Enum):
    CONNECTED = "connected"
    CONNECTING = "connecting"
    DISCONNECTED = "disconnected"
    ERROR = "error"


@strawberry.enum(name="SetpointStatus", description="Where a setpoint command stands.")
class SetpointStatusEnum(Enum):
    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"
    FAILED = "failed"


@strawberry.type(name="DataSourceStatus", description="The live state of a device connector.")
class DataSourceStatusNode:
    state: ConnectorStateEnum
    connected: bool
    endpoint: str = strawberry.field(description="The endpoint in use (MQTT default applied).")
    connected_since: datetime | None
    last_value_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    messages: int
    readings: int
    errors: int
    reconnects: int
    restarts: int = strawberry.field(
        description="Restarts of the connector after an unexpected error (see lastError)."
    )
    overflows: int = strawberry.field(
        description="Incoming messages that found the connector's queue full; each is kept "
        "as a dead letter (rejectedReadings), not processed."
    )
    pauses: int = strawberry.field(
        description="Times the connector stopped reading from the broker because its queue "
        "was full (backpressure: the messages wait on the broker). Often: the pipeline "
        "does not keep up with this source."
    )
    writes: int
    write_failures: int


def status_node(s: ConnectorStatus | None) -> DataSourceStatusNode | None:
    if s is None:
        return None
    return DataSourceStatusNode(
        state=ConnectorStateEnum(s.state.value),
        connected=s.state.value == "connected",
        endpoint=s.endpoint,
        connected_since=s.connected_since,
        last_value_at=s.last_value_at,
        last_error=s.last_error,
        last_error_at=s.last_error_at,
        messages=s.messages,
        readings=s.readings,
        errors=s.errors,
        reconnects=s.reconnects,
        restarts=s.restarts,
        overflows=s.overflows,
        pauses=s.pauses,
        writes=s.writes,
        write_failures=s.write_failures,
    )


@strawberry.type(name="SetpointCommand", description="One audited setpoint write.")
class SetpointCommandNode:
    id: strawberry.ID
    actuator_id: strawberry.ID
    asset_id: strawberry.ID
    value: float
    status: SetpointStatusEnum
    requested_by: str
    reason: str
    requested_at: datetime
    completed_at: datetime | None
    confirmed_value: float | None = strawberry.field(
        description="The value the device acknowledged or read back (engineering units)."
    )
    message: str
    source_id: strawberry.ID | None

    @classmethod
    def from_domain(cls, c: SetpointCommand) -> SetpointCommandNode:
        return cls(
            id=strawberry.ID(c.id),
            actuator_id=strawberry.ID(c.actuator_id),
            asset_id=strawberry.ID(c.asset_id),
            value=c.value,
            status=SetpointStatusEnum(c.status.value),
            requested_by=c.requested_by,
            reason=c.reason,
            requested_at=c.requested_at,
            completed_at=c.completed_at,
            confirmed_value=c.confirmed_value,
            message=c.message,
            source_id=strawberry.ID(c.source_id) if c.source_id else None,
        )

    @strawberry.field
    async def actuator(self, info: Info) -> ActuatorNode:
        return ActuatorNode.from_domain(
            await info.context.loaders.actuator.load(str(self.actuator_id))
        )


def _manager(services: Services) -> ConnectorManager:
    if services.connectors is None:
        raise Unavailable("the connector manager is not running")
    return services.connectors


def commands_loader(services: Services, limit: int) -> DataLoader[str, list[SetpointCommand]]:
    repo = services.repo.commands

    async def load(ids: list[str]) -> list[list[SetpointCommand]]:
        found = await repo.for_actuators(ids, limit)
        return [found.get(i, []) for i in ids]

    return DataLoader(load)


async def check_scope(services: Services, principal: Principal, asset_id: str) -> None:
    """A token limited to subtrees may operate only assets at or below its scopes."""
    if not principal.scopes:
        return
    if asset_id in principal.scopes:
        return
    ancestors = await services.repo.assets.ancestors(asset_id)
    if any(n.asset.id in principal.scopes for n in ancestors):
        return
    raise Forbidden(
        f"{principal.name} may operate only below {', '.join(principal.scopes)}; "
        f"asset {asset_id} is outside"
    )


_completing: set[asyncio.Task[Any]] = set()  # strong references to shielded completions


def _log_failed_completion(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("cannot complete a setpoint command", exc_info=task.exception())


async def _shielded(work: Coroutine[Any, Any, SetpointCommand]) -> SetpointCommand:
    """Run ``work`` to its end even if the caller is cancelled meanwhile."""
    task = asyncio.ensure_future(work)
    _completing.add(task)
    task.add_done_callback(_completing.discard)
    task.add_done_callback(_log_failed_completion)
    return await asyncio.shield(task)


def _interrupted(exc: BaseException) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled before the device confirmed (the caller went away or twinql stopped)"
    return f"unexpected error while writing to the device: {exc!r}"


async def execute_setpoint(
    services: Services, principal: Principal, actuator_id: str, value: float, reason: str
) -> SetpointCommand:
    """Check, audit, write, confirm and publish one setpoint command."""
    principal.require("operator")
    repo = services.repo
    actuator = await repo.devices.actuator(actuator_id)
    await check_scope(services, principal, actuator.asset_id)
    manager = _manager(services)
    commands = repo.commands
    command = await commands.create(
        SetpointCommand(
            id=new_command_id(),
            actuator_id=actuator.id,
            asset_id=actuator.asset_id,
            value=value,
            requested_by=principal.name,
            requested_at=utcnow(),
            reason=reason,
        )
    )
    finishing: list[SetpointCommand] = []
    source_id: str | None = None

    async def complete(done: SetpointCommand) -> SetpointCommand:
        await commands.complete(done)
        manager.outcomes.publish(done)
        log.info(
            "setpoint %s %s=%s by %s: %s (%s)",
            done.id,
            done.actuator_id,
            done.value,
            done.requested_by,
            done.status,
            done.message,
        )
        return done

    async def finish(done: SetpointCommand) -> SetpointCommand:
        finishing.append(done)
        return await _shielded(complete(done))

    try:
        try:
            actuator.check_value(value)
        except ValidationError as exc:
            await finish(command.completed(CommandStatus.REJECTED, exc.message))
            raise ValidationError(exc.message, details={"commandId": command.id}) from None
        binding = await repo.sources.binding_of_actuator(actuator.id)
        if binding is None:
            message = (
                f"actuator {actuator.id} has no DRIVES binding to a data source; "
                "bind it with upsertDataSource(actuatorBindings: ...)"
            )
            await finish(command.completed(CommandStatus.FAILED, message))
            raise ValidationError(message, details={"commandId": command.id})
        source_id = binding.source_id
        try:
            outcome = await manager.write(binding, value)
        except TwinqlError as exc:
            return await finish(
                command.completed(CommandStatus.FAILED, exc.message, source_id=source_id)
            )
        status = CommandStatus.APPLIED if outcome.ok else CommandStatus.FAILED
        return await finish(
            command.completed(status, outcome.message, outcome.confirmed_value, source_id=source_id)
        )
    except BaseException as exc:
        if not finishing:  # interrupted before any outcome: never leave it pending
            failed = command.completed(CommandStatus.FAILED, _interrupted(exc), source_id=source_id)
            await _shielded(complete(failed))
        raise


@strawberry.type
class ControlQuery:
    @strawberry.field(description="One setpoint command by id; null when unknown.")
    async def setpoint_command(self, info: Info, id: strawberry.ID) -> SetpointCommandNode | None:
        info.context.reader()
        try:
            found = await info.context.repo.commands.get(str(id))
        except TwinqlError as exc:
            if exc.code == "NOT_FOUND":
                return None
            raise
        return SetpointCommandNode.from_domain(found)

    @strawberry.field(
        description="The connector status of a data source; null for sources without a "
        "device connector (HTTP) or unknown ids."
    )
    async def data_source_status(
        self, info: Info, id: strawberry.ID
    ) -> DataSourceStatusNode | None:
        info.context.reader()
        return status_node(_manager(info.context.services).status(str(id)))


@strawberry.type
class ControlMutation:
    @strawberry.mutation(
        description="Write a setpoint to an actuator through its data source; waits for the "
        "device's acknowledgement or read-back. Needs role operator (and the asset in the "
        "token's scopes). Out-of-range values and unbound actuators are refused with a "
        "VALIDATION error (extensions.commandId); device failures return status FAILED."
    )
    async def write_setpoint(
        self, info: Info, actuator_id: strawberry.ID, value: float, reason: str = ""
    ) -> SetpointCommandNode:
        principal = info.context.need("operator")
        done = await execute_setpoint(
            info.context.services, principal, str(actuator_id), value, reason
        )
        return SetpointCommandNode.from_domain(done)


async def actuator_commands(info: Info, actuator_id: str, first: int) -> list[SetpointCommandNode]:
    """``Actuator.commands``: one query for every actuator of the request (per ``first``)."""
    if not 1 <= first <= 500:
        raise ValidationError("first must be between 1 and 500")
    services = info.context.services
    loader = info.context.loader(f"commands:{first}", lambda: commands_loader(services, first))
    return [SetpointCommandNode.from_domain(c) for c in await loader.load(actuator_id)]
