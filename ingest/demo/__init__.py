"""The demo plant: simulated devices speaking OPC UA, Modbus TCP and MQTT, driven by physics.

``DemoPlant`` is the physics (pure, numpy); ``DemoDevices`` puts it behind real protocol
servers and an MQTT gateway; ``start_broker`` runs a broker when none is configured.
"""

from ingest.demo.broker import DemoBroker, start_broker
from ingest.demo.devices import DemoDevices, DemoSettings
from ingest.demo.plant import DemoPlant, WearFault

__all__ = ["DemoBroker", "DemoDevices", "DemoPlant", "DemoSettings", "WearFault", "start_broker"]
