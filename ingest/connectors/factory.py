"""Build the connector for a data source by its protocol (the manager's one entry point)."""

from __future__ import annotations

from pathlib import Path

from graph.errors import ValidationError
from graph.model import DataSource, DeviceProtocol
from ingest.connectors.base import Bindings, ErrorSink, EventSink, Sink
from ingest.connectors.modbus import ModbusConnector
from ingest.connectors.mqtt import MqttConnector
from ingest.connectors.opcua import OpcUaConnector
from ingest.connectors.runtime import ConnectorBase

__all__ = ["make_connector"]


def make_connector(
    source: DataSource,
    bindings: Bindings,
    sink: Sink,
    *,
    on_error: ErrorSink | None = None,
    on_event: EventSink | None = None,
    instance_id: str | None = None,
    session_dir: Path | None = None,
) -> ConnectorBase:
    """A stopped connector for ``source``; ``await c.start()`` (or ``async with c``).

    Raises ``ValidationError`` for a protocol without a device connector (``http`` data
    sources are fed by the HTTP ingest endpoint) or a malformed endpoint/binding.
    ``instance_id`` tells twinql processes apart in MQTT client ids (default: host name);
    ``session_dir`` keeps MQTT session memos (``ingest.connectors.mqtt_memo``).
    """
    if source.protocol is DeviceProtocol.MQTT:
        return MqttConnector(
            source,
            bindings,
            sink,
            on_error=on_error,
            on_event=on_event,
            instance_id=instance_id,
            session_dir=session_dir,
        )
    if source.protocol is DeviceProtocol.OPCUA:
        return OpcUaConnector(source, bindings, sink, on_error=on_error)
    if source.protocol is DeviceProtocol.MODBUS:
        return ModbusConnector(source, bindings, sink, on_error=on_error)
    raise ValidationError(f"data source {source.id}: protocol {source.protocol} has no connector")
