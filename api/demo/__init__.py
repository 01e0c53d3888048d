"""The demo plant: simulated devices speaking OPC UA, Modbus TCP and MQTT, driven by physics.

``DemoPlant`` is the physics (pure, numpy); ``DemoDevices`` puts it behind real protocol
servers and an MQTT gateway; ``start_broker`` runs a broker when none is configured.
"""

from api.demo.broker import DemoBroker, start_broker
from api.demo.devices import DemoDevices, DemoSettings
from api.demo.plant import DemoPlant, WearFault

__all__ = ["DemoBroker", "DemoDevices", "DemoPlant", "DemoSettings", "WearFault", "start_broker"]
