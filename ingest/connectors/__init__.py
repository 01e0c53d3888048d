"""Device connectors: MQTT, OPC UA and Modbus TCP readers and setpoint writers."""

from ingest.connectors.base import (
    AssetEvent,
    Bindings,
    Connector,
    ConnectorState,
    ConnectorStatus,
    DeadLetter,
    ErrorSink,
    EventSink,
    SetpointWriter,
    Sink,
    WriteOutcome,
    check_setpoint,
)

__all__ = [
    "AssetEvent",
    "Bindings",
    "Connector",
    "ConnectorState",
    "ConnectorStatus",
    "DeadLetter",
    "ErrorSink",
    "EventSink",
    "SetpointWriter",
    "Sink",
    "WriteOutcome",
    "check_setpoint",
]
