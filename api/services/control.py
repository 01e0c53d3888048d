"""The setpoint procedure: check, audit, write, confirm, publish.

``ControlService.write_setpoint`` needs the ``operator`` role and, for a token limited to
asset subtrees, the actuator's asset in scope. Every command that passed those checks is
audited as a ``SetpointCommand`` targeting the actuator: it is created ``pending`` and
completes as ``applied`` (the device acknowledged or read back the value), ``failed`` (no
binding, device down, refused, no ack) or ``rejected`` (the value is outside the
actuator's limits). Refusals before the device is reached (out of range, no ``DRIVES``
binding) raise ``ValidationError`` with ``details["commandId"]``; device outcomes are
data: the returned command's ``status``/``message``. Each final command is published on
``outcomes`` (a bounded fan-out; ``setpointOutcomes`` subscribes to it). No command stays
``pending``: an unexpected error or a cancellation (the caller went away, shutdown) while
the device is being written completes it ``failed`` saying so, shielded from that
cancellation, before the error goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from api.services.auth import Principal, Scopes
from graph.bolt.commands import CommandRepository, CommandStatus, SetpointCommand, new_command_id
from graph.bolt.devices import DeviceRepository
from graph.bolt.sources import SourceRepository
from graph.errors import TwinqlError, ValidationError
from graph.timeutil import utcnow
from ingest.connectors import ConnectorStatus
from ingest.fanout import Fanout
from ingest.manager import ConnectorManager

__all__ = ["ControlService"]

log = logging.getLogger("twinql.api.control")

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


class ControlService:
    """Setpoint writes to devices, their audit trail and their outcomes."""

    def __init__(
        self,
        devices: DeviceRepository,
        sources: SourceRepository,
        commands: CommandRepository,
        connectors: ConnectorManager,
        scopes: Scopes,
    ) -> None:
        self._devices = devices
        self._sources = sources
        self._commands = commands
        self._connectors = connectors
        self._scopes = scopes

    @property
    def outcomes(self) -> Fanout[Any]:
        """Every completed command, as it completes."""
        return self._connectors.outcomes

    def status(self, source_id: str) -> ConnectorStatus | None:
        """The connector status of a data source (None: no device connector)."""
        return self._connectors.status(source_id)

    async def command(self, command_id: str) -> SetpointCommand:
        return await self._commands.get(command_id)

    async def commands_of(
        self, actuator_ids: list[str], limit: int
    ) -> dict[str, list[SetpointCommand]]:
        return await self._commands.for_actuators(actuator_ids, limit)

    async def write_setpoint(
        self, principal: Principal, actuator_id: str, value: float, reason: str
    ) -> SetpointCommand:
        """Check, audit, write, confirm and publish one setpoint command."""
        principal.require("operator")
        actuator = await self._devices.actuator(actuator_id)
        await self._scopes.check(principal, actuator.asset_id)
        command = await self._commands.create(
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

        async def finish(done: SetpointCommand) -> SetpointCommand:
            finishing.append(done)
            return await _shielded(self._complete(done))

        try:
            try:
                actuator.check_value(value)
            except ValidationError as exc:
                await finish(command.completed(CommandStatus.REJECTED, exc.message))
                raise ValidationError(exc.message, details={"commandId": command.id}) from None
            binding = await self._sources.binding_of_actuator(actuator.id)
            if binding is None:
                message = (
                    f"actuator {actuator.id} has no DRIVES binding to a data source; "
                    "bind it with upsertDataSource(actuatorBindings: ...)"
                )
                await finish(command.completed(CommandStatus.FAILED, message))
                raise ValidationError(message, details={"commandId": command.id})
            source_id = binding.source_id
            try:
                outcome = await self._connectors.write(binding, value)
            except TwinqlError as exc:
                return await finish(
                    command.completed(CommandStatus.FAILED, exc.message, source_id=source_id)
                )
            status = CommandStatus.APPLIED if outcome.ok else CommandStatus.FAILED
            return await finish(
                command.completed(
                    status, outcome.message, outcome.confirmed_value, source_id=source_id
                )
            )
        except BaseException as exc:
            if not finishing:  # interrupted before any outcome: never leave it pending
                failed = command.completed(
                    CommandStatus.FAILED, _interrupted(exc), source_id=source_id
                )
                await _shielded(self._complete(failed))
            raise

    async def _complete(self, done: SetpointCommand) -> SetpointCommand:
        await self._commands.complete(done)
        self._connectors.outcomes.publish(done)
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
