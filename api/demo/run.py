"""Start the example plant's simulated devices beside a running twinql (``twinql demo``)."""

from __future__ import annotations

import contextlib
from typing import Any

from api.demo.devices import DemoDevices, DemoSettings
from api.services.container import Services
from graph.plantfile import PlantDescription

__all__ = ["start_demo_devices"]


async def start_demo_devices(
    services: Services,
    stack: contextlib.AsyncExitStack,
    plant: PlantDescription,
    **demo: Any,
) -> DemoDevices:
    """Start the simulated devices of ``plant`` and point its data sources in the graph at
    them, so the connectors reconnect. ``demo`` overrides ``DemoSettings`` fields
    (``speedup``, ``seed``, ...). They stop when ``stack`` closes: the connectors first,
    or they would see the devices vanish."""
    settings = DemoSettings(mqtt_url=services.settings.mqtt_url, **demo)
    devices = DemoDevices(plant, settings)
    await devices.start()

    async def stop() -> None:
        await services.connectors.aclose()
        await devices.aclose()

    stack.push_async_callback(stop)
    await services.registry.upsert_sources(devices.sources())
    return devices
