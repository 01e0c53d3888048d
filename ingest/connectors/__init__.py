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
from ingest.connectors.factory import make_connector
from ingest.connectors.modbus import ModbusConnector
from ingest.connectors.mqtt import MqttConnector
from ingest.connectors.opcua import OpcUaConnector
from ingest.connectors.settings import ModbusSettings, MqttSettings, OpcUaSettings

__all__ = [
    "AssetEvent",
    "Bindings",
    "Connector",
    "ConnectorState",
    "ConnectorStatus",
    "DeadLetter",
    "ErrorSink",
    "EventSink",
    "ModbusConnector",
    "ModbusSettings",
    "MqttConnector",
    "MqttSettings",
    "OpcUaConnector",
    "OpcUaSettings",
    "SetpointWriter",
    "Sink",
    "WriteOutcome",
    "check_setpoint",
    "make_connector",
]
