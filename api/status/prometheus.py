"""Prometheus text exposition of the status snapshot at ``GET /metrics``.

``/metrics`` needs a token of role ``viewer`` (any role implies it) unless the
deployment allows anonymous reads (``Settings.allow_anonymous_read``), like queries.
Metric names start with ``twinql_``; counters end in ``_total``. A component that is not
running gives no sample.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from api.services.container import Services
from api.status.snapshot import StatusSnapshot, snapshot
from graph.errors import Forbidden, Unauthenticated

__all__ = ["CONTENT_TYPE", "metrics_endpoint", "render_metrics", "routes"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


_Sample = tuple[str, str, str, list[tuple[str, float]]]  # name, type, help, [(labels, v)]


def _samples(s: StatusSnapshot) -> Iterator[_Sample]:
    def one(name: str, kind: str, text: str, value: float) -> _Sample:
        return (name, kind, text, [("", float(value))])

    yield one("twinql_up", "gauge", "1 when every component has started, else 0", s.started)
    if (w := s.ingest) is not None:
        for name, value, text in (
            ("received", w.received, "readings submitted to the batching writer"),
            ("stored", w.stored, "readings written to the store (directly or by replay)"),
            ("rejected", w.rejected, "rejected readings kept in rejected_readings"),
            ("spilled", w.spilled, "readings appended to the spill log (store down)"),
            ("replayed", w.replayed, "readings written back from the spill log"),
            ("store_errors", w.store_errors, "failed writes to the readings store"),
            ("dead_lettered", w.dead_lettered, "readings the store refused, kept as dead letters"),
            ("quarantined", w.quarantined, "rows refused even as dead letters (quarantine log)"),
            ("faults", w.faults, "cycles that could neither write nor spill (disk full)"),
        ):
            yield one(f"twinql_ingest_{name}_total", "counter", text, value)
        yield one("twinql_ingest_queue_depth", "gauge", "readings queued in memory", w.queue_depth)
        yield one(
            "twinql_ingest_lag_seconds",
            "gauge",
            "age of the oldest reading not yet in the store",
            w.lag_s,
        )
        yield one(
            "twinql_ingest_spill_pending",
            "gauge",
            "1 while the spill log holds readings not yet replayed",
            w.spill_pending,
        )
        yield one(
            "twinql_ingest_fault",
            "gauge",
            "1 while readings can go neither to the store nor to the spill log",
            w.fault is not None,
        )
    if s.bus_published is not None:
        yield one(
            "twinql_live_bus_published_total", "counter", "batches published", s.bus_published
        )
    if s.bus_subscribers is not None:
        yield one("twinql_live_bus_subscribers", "gauge", "live bus subscribers", s.bus_subscribers)
    if s.latest_cache_size is not None:
        yield one(
            "twinql_latest_cache_sensors",
            "gauge",
            "sensors held in the latest-value cache",
            s.latest_cache_size,
        )
    if (c := s.connectors) is not None:
        yield (
            "twinql_connectors",
            "gauge",
            "device connectors by state",
            [(f'state="{state}"', float(n)) for state, n in sorted(c.by_state.items())],
        )
        for name, value, text in (
            ("dead_letters", c.dead_letters, "device messages that could not be decoded"),
            ("events", c.events, "asset events received from connectors"),
            ("events_stored", c.events_stored, "asset events written to the store"),
            (
                "event_queue_waits",
                c.event_queue_waits,
                "asset events that waited for room in the full queue",
            ),
            ("event_store_errors", c.event_store_errors, "failed asset-event writes"),
            ("reconciles", c.reconciles, "reconciliations of connectors with the graph"),
            ("reconcile_errors", c.reconcile_errors, "failed reconciliations"),
        ):
            yield one(f"twinql_connector_{name}_total", "counter", text, value)
    if (sim := s.simulation) is not None:
        yield one(
            "twinql_simulation_slots_in_use",
            "gauge",
            "simulation jobs queued or running",
            sim.in_use,
        )
        yield one("twinql_simulation_slots", "gauge", "simulation job slots", sim.slots)


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def render_metrics(s: StatusSnapshot) -> str:
    """The snapshot in the Prometheus text format (version 0.0.4)."""
    lines: list[str] = []
    for name, kind, text, values in _samples(s):
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in values:
            lines.append(
                f"{name}{{{labels}}} {_number(value)}" if labels else f"{name} {_number(value)}"
            )
    return "\n".join(lines) + "\n"


def metrics_endpoint(services: Services) -> Callable[[Request], object]:
    async def metrics(request: Request) -> Response:
        try:
            principal = services.tokens.authenticate(request.headers.get("authorization"))
            if principal is None and not services.settings.allow_anonymous_read:
                raise Unauthenticated("GET /metrics needs an API token (Authorization: Bearer ...)")
            if principal is not None:
                principal.require("viewer")
        except (Unauthenticated, Forbidden) as exc:
            status = 401 if exc.code == "UNAUTHENTICATED" else 403
            response = JSONResponse(
                {"error": {"code": exc.code, "message": exc.message}}, status_code=status
            )
            if status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return PlainTextResponse(render_metrics(snapshot(services)), media_type=CONTENT_TYPE)

    return metrics


def routes(services: Services) -> list[BaseRoute]:
    """``GET /metrics``, for ``api.app.ROUTE_FACTORIES``."""
    return [Route("/metrics", metrics_endpoint(services), methods=["GET"])]
