"""Control over GraphQL: ``writeSetpoint``, setpoint commands and data-source status.

The procedure itself (scope and range checks, the audit trail, the device write, the
confirmation, the outcome fan-out) is ``api.services.control.ControlService``; here it is
exposed: ``writeSetpoint`` needs the ``operator`` role. Refusals before the device is
reached (out of range, no ``DRIVES`` binding) are GraphQL errors (``VALIDATION``) whose
extensions carry ``commandId``; device outcomes are data: the returned command's
``status``/``message``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

import strawberry
from strawberry.dataloader import DataLoader

from api.assets.types import ActuatorNode, Info
from api.common.scoping import plant_wide_read, seen
from api.permissions import needs, reads
from graph.bolt.commands import SetpointCommand
from graph.errors import TwinqlError, ValidationError
from graph.redact import redact_text, redact_url
from ingest.connectors import ConnectorStatus

if TYPE_CHECKING:
    from api.services.container import Services

__all__ = [
    "ControlMutation",
    "actuator_commands",
    "ControlQuery",
    "DataSourceStatusNode",
    "SetpointCommandNode",
    "commands_loader",
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
    endpoint: str = strawberry.field(
        description="The endpoint in use (MQTT default applied), its credentials masked."
    )
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
        endpoint=redact_url(s.endpoint),
        connected_since=s.connected_since,
        last_value_at=s.last_value_at,
        last_error=redact_text(s.last_error) if s.last_error is not None else None,
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


def commands_loader(services: Services, limit: int) -> DataLoader[str, list[SetpointCommand]]:
    control = services.control

    async def load(ids: list[str]) -> list[list[SetpointCommand]]:
        found = await control.commands_of(ids, limit)
        return [found.get(i, []) for i in ids]

    return DataLoader(load)


@strawberry.type
class ControlQuery:
    @strawberry.field(
        description="One setpoint command by id; null when unknown.", extensions=reads()
    )
    async def setpoint_command(self, info: Info, id: strawberry.ID) -> SetpointCommandNode | None:
        try:
            found = await info.context.services.control.command(str(id))
        except TwinqlError as exc:
            if exc.code == "NOT_FOUND":
                return None
            raise
        if not await seen(info, found.asset_id):
            return None
        return SetpointCommandNode.from_domain(found)

    @strawberry.field(
        extensions=reads(),
        description="The connector status of a data source; null for sources without a "
        "device connector (HTTP) or unknown ids.",
    )
    async def data_source_status(
        self, info: Info, id: strawberry.ID
    ) -> DataSourceStatusNode | None:
        plant_wide_read(info, "the status of data sources")
        return status_node(info.context.services.control.status(str(id)))


@strawberry.type
class ControlMutation:
    @strawberry.mutation(
        extensions=needs("operator"),
        description="Write a setpoint to an actuator through its data source; waits for the "
        "device's acknowledgement or read-back. Needs role operator (and the asset in the "
        "token's scopes). Out-of-range values and unbound actuators are refused with a "
        "VALIDATION error (extensions.commandId); device failures return status FAILED.",
    )
    async def write_setpoint(
        self, info: Info, actuator_id: strawberry.ID, value: float, reason: str = ""
    ) -> SetpointCommandNode:
        principal = info.context.caller
        done = await info.context.services.control.write_setpoint(
            principal, str(actuator_id), value, reason
        )
        return SetpointCommandNode.from_domain(done)


async def actuator_commands(info: Info, actuator_id: str, first: int) -> list[SetpointCommandNode]:
    """``Actuator.commands``: one query for every actuator of the request (per ``first``)."""
    if not 1 <= first <= 500:
        raise ValidationError("first must be between 1 and 500")
    services = info.context.services
    loader = info.context.loader(f"commands:{first}", lambda: commands_loader(services, first))
    return [SetpointCommandNode.from_domain(c) for c in await loader.load(actuator_id)]
