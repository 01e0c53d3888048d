"""The ``twinql`` command: serve, demo, load, keys, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import os
import socket
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from api.settings import Settings
from graph.errors import Conflict, TwinqlError, Unavailable, ValidationError
from graph.redact import RedactSecrets, redact_url

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.types import Message, Receive, Scope, Send

    from api.services.container import Services
    from api.services.keys import ApiKey

__all__ = ["main"]

_NOISY_LOGGERS = ("asyncua", "pymodbus", "amqtt", "transitions", "neo4j")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

EXAMPLE_PLANT = Path(__file__).parent / "demo" / "example_plant.yaml"

_DESCRIPTION = """\
twinql: a live digital twin of physical assets.

The knowledge graph (assets, sensors, actuators, relations, maintenance) lives in
Neo4j 5, readings in QuestDB, and a GraphQL API joins them. With no settings,
everything runs embedded: a graph server and a DuckDB readings store in --data-dir.
Point TWINQL_NEO4J_URI, TWINQL_QUESTDB_URL or TWINQL_MQTT_URL at real servers to use them.
"""

_EPILOG = """\
examples:
  twinql demo                      start with the example plant, console at /, GraphiQL at /graphql
  twinql serve --port 9000         serve whatever the data directory holds
  twinql load plant.yaml           import a plant description (idempotent)
  twinql keys create --name scada --role ingest   an API key, shown once
  twinql export-schema -o schema.graphql
"""


def _server_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port to listen on (default 8000)")
    p.add_argument(
        "--data-dir", type=Path, default=None, help="where embedded stores keep data (./.twinql)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="twinql",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"twinql {_version()}")
    parser.add_argument("--log-level", default=None, help="debug, info, warning (default info)")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="log at debug level and show tracebacks of failures (default: one line each)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the GraphQL service")
    _server_args(serve)

    demo = sub.add_parser(
        "demo", help="run the service with the example plant loaded (and its simulated devices)"
    )
    _server_args(demo)
    demo.add_argument(
        "--no-devices", action="store_true", help="load the plant but start no simulated devices"
    )
    demo.add_argument(
        "--speedup",
        type=float,
        default=1.0,
        help="run plant time this many times faster (the pump bearing wears in ~30 plant min)",
    )

    load = sub.add_parser("load", help="import a plant description (YAML or JSON)")
    load.add_argument("file", type=Path, help="the plant file; '-' reads JSON/YAML from stdin")
    load.add_argument("--data-dir", type=Path, default=None)
    load.add_argument("--check", action="store_true", help="only validate the file; write nothing")

    keys = sub.add_parser("keys", help="create, list and revoke API keys (stored hashed)")
    keys.add_argument("--data-dir", type=Path, default=None)
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = keys_sub.add_parser("create", help="make a key; its secret is printed once")
    create.add_argument("--name", required=True, help="who or what uses it (in the audit log)")
    create.add_argument("--role", required=True, help="viewer, ingest, operator, engineer, admin")
    create.add_argument(
        "--scope", action="append", default=[], help="an asset id whose subtree it is limited to"
    )
    keys_sub.add_parser("list", help="every key: id, name, role, scopes, created, revoked")
    revoke = keys_sub.add_parser("revoke", help="revoke a key (a running twinql within 1 s)")
    revoke.add_argument("id", help="the key's id (tq_<id>_...)")

    export = sub.add_parser("export-schema", help="print the GraphQL SDL")
    export.add_argument("-o", "--output", type=Path, default=None, help="write to this file")
    return parser


# The demo's bearing wears out in ~30 plant minutes: health looks at it on that scale
# (2-minute windows every 30 s, the first 5 minutes as normal, assessed every minute), in
# wall-clock seconds at speed-up 1; a TWINQL_HEALTH_* variable that is set wins.
DEMO_WARMUP_S = 4800.0  # 4 bearing thermal time constants (C R = 30 kJ/K x 40 K/kW)
DEMO_HEALTH = {
    "TWINQL_HEALTH_WINDOW": ("health_window_s", 120.0),
    "TWINQL_HEALTH_STEP": ("health_step_s", 30.0),
    "TWINQL_HEALTH_BASELINE": ("health_baseline_s", 300.0),
    "TWINQL_HEALTH_INTERVAL": ("health_interval_s", 60.0),
}


def demo_settings(settings: Settings, speedup: float, env: Mapping[str, str]) -> Settings:
    """The demo's health time scale, divided by ``speedup``, where the environment is silent."""
    scaled = {
        attr: value / speedup for var, (attr, value) in DEMO_HEALTH.items() if not env.get(var)
    }
    return replace(settings, **scaled)  # type: ignore[arg-type]


def _version() -> str:
    try:
        return metadata.version("twinql")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            data_dir=getattr(args, "data_dir", None),
            log_level=args.log_level or ("debug" if args.debug else None),
        )
        _configure_logging(settings.log_level)
        if args.command == "export-schema":
            return _export_schema(args.output)
        if args.command == "keys":
            return _keys(settings, args)
        if args.command == "load":
            return asyncio.run(_load(settings, args.file, check=args.check))
        if args.command == "serve":
            return _serve(settings, demo=False, debug=args.debug)
        if args.command == "demo":
            if not args.speedup > 0:
                raise ValidationError("--speedup must be a positive number")
            return _serve(
                demo_settings(settings, args.speedup, os.environ),
                demo=True,
                devices=not args.no_devices,
                speedup=args.speedup,
                debug=args.debug,
            )
    except TwinqlError as exc:
        if args.debug:
            traceback.print_exception(exc)
        print(f"twinql: {exc.code}: {' '.join(exc.message.split())}", file=sys.stderr)
        errors = exc.details.get("errors")
        if isinstance(errors, list):
            for e in errors[1:20]:
                print(f"  also: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a failure nobody coded for: one line, the rest on --debug
        if args.debug:
            traceback.print_exception(exc)
        print(
            f"twinql: INTERNAL: {type(exc).__name__}: {exc}"
            + ("" if args.debug else " (run with --debug for the traceback)"),
            file=sys.stderr,
        )
        return 1
    return 0


def _configure_logging(level: str) -> None:
    name = level.strip().upper()
    if name not in _LOG_LEVELS:
        raise ValidationError(
            f"log level must be one of {', '.join(n.lower() for n in _LOG_LEVELS)}, got {level!r}"
        )
    logging.basicConfig(level=name, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # endpoint credentials never reach a log
        handler.addFilter(RedactSecrets())
    if name != "DEBUG":
        # Protocol libraries log every request at INFO; keep their warnings only.
        for noisy in _NOISY_LOGGERS:
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _export_schema(output: Path | None) -> int:
    from api.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if output is None:
        sys.stdout.write(sdl)
    else:
        output.write_text(sdl)
        print(f"wrote {output}", file=sys.stderr)
    return 0


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from api.services.auth import TokenStore
    from api.services.keys import KEYS_FILE, KeyFile

    store = TokenStore({}, KeyFile(settings.data_dir / KEYS_FILE))
    if args.keys_command == "create":
        key, token = store.create_key(args.name, args.role.strip().lower(), args.scope)
        print(json.dumps({**_key_json(key), "key": token}, indent=2))
        print(
            "twinql: the key above is shown once and stored only hashed: keep it now",
            file=sys.stderr,
        )
    elif args.keys_command == "list":
        print(json.dumps([_key_json(k) for k in store.keys()], indent=2))
    else:
        print(json.dumps(_key_json(store.revoke_key(args.id)), indent=2))
    return 0


def _key_json(key: ApiKey) -> dict[str, object]:
    data = key.to_json()
    del data["hash"]
    return data


async def _load(settings: Settings, file: Path, *, check: bool) -> int:
    from api.services.container import open_graph, serving_twinql
    from graph.bolt.importer import import_plant
    from graph.plantfile import load_plant_file, parse_plant
    from sim import MODELS

    if str(file) == "-":
        plant = parse_plant(
            sys.stdin.read(), source_name="<stdin>", sim_models=set(MODELS), external_parents=True
        )
    else:
        plant = load_plant_file(file, sim_models=set(MODELS), external_parents=True)
    if check:
        print(json.dumps({"valid": True, "counts": plant.counts()}, indent=2))
        return 0
    # The graph alone: no readings store, no connectors (which would reach real devices),
    # no simulations. Never behind a running twinql's back: its connectors would follow
    # changed data sources to other devices without a word.
    owner = serving_twinql(settings)
    if owner is not None:
        raise Conflict(
            f"a running twinql (pid {owner}) serves {settings.data_dir}: import through it "
            "with the importPlant mutation (its result lists changed data-source endpoints, "
            "and its connectors and caches follow at once), or stop it first; "
            "`twinql load --check FILE` validates a file without importing it"
        )
    async with contextlib.AsyncExitStack() as stack:
        repo, _ = await open_graph(settings, stack)
        report = await import_plant(repo, plant)
    print(json.dumps(report.as_dict(), indent=2))
    for change in report.endpoint_changes:
        print(
            f"twinql: data source {change.source_id}: endpoint {redact_url(change.before)} -> "
            f"{redact_url(change.after)}",
            file=sys.stderr,
        )
    return 0


def _serve(
    settings: Settings,
    *,
    demo: bool,
    devices: bool = True,
    speedup: float = 1.0,
    debug: bool = False,
) -> int:
    import uvicorn

    from api.app import create_app
    from api.common.gc_tuning import settle_heap

    # The port first: a port in use is said before anything starts (no graph server, no
    # token file, no "ready" for a service that could never answer).
    sock = _listen(settings.host, settings.port)

    async def on_started(svc: Services, stack: contextlib.AsyncExitStack) -> None:
        extra: list[str] = []
        if demo:
            from api.demo.run import start_demo_devices
            from graph.changes import RegistryChange
            from graph.plantfile import load_plant_file

            plant = load_plant_file(EXAMPLE_PLANT)
            report = await svc.registry.import_plant(plant, publish=False)
            logging.getLogger("twinql").info("example plant loaded: %s", report.as_dict())
            if devices:  # before the connectors look: they find the devices' real ports
                running = await start_demo_devices(
                    svc, stack, plant, speedup=speedup, warmup_s=DEMO_WARMUP_S
                )
                extra = ["simulated devices of the example plant:", *running.describe()]
            await svc.registry.publish(RegistryChange.everything())
        _banner(settings, svc, extra)
        settle_heap()  # start-up objects live as long as the process: out of GC's walks

    app = create_app(settings, on_started=on_started)
    config = uvicorn.Config(
        _OneLineStartupErrors(app, debug=debug),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        ws="websockets-sansio",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except SystemExit:  # uvicorn's exit on a failed start-up: say why, in one line
        failure = getattr(app.state, "startup_error", None)
        if failure is not None:
            raise failure from None
        raise
    finally:
        sock.close()
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or UNAVAILABLE saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise Unavailable(f"cannot listen on {host}:{port}: {exc}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)  # early callers wait in the backlog until start-up is done
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        hint = " (another twinql? choose one with --port)" if exc.errno == errno.EADDRINUSE else ""
        raise Unavailable(f"cannot listen on {host}:{port}: {reason}{hint}") from None
    sock.set_inheritable(True)
    return sock


class _OneLineStartupErrors:
    """Keeps uvicorn from printing a start-up failure's traceback: the CLI says it in
    one line after uvicorn exits (``api.app`` keeps the exception in
    ``app.state.startup_error``); ``--debug`` keeps the traceback."""

    def __init__(self, app: Starlette, *, debug: bool) -> None:
        self.app = app
        self.debug = debug

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan" or self.debug:
            await self.app(scope, receive, send)
            return

        async def quiet(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                message = {**message, "message": ""}
            await send(message)

        await self.app(scope, receive, quiet)


def _banner(settings: Settings, services: Services, extra: Sequence[str] = ()) -> None:
    url = f"http://{settings.host}:{settings.port}/graphql"
    lines = [f"twinql is ready: console at {url.removesuffix('graphql')}, GraphiQL at {url}"]
    first = services.tokens.first_keys_file
    if first is not None and first.exists():
        lines.append(
            f"{'mutations and subscriptions need' if settings.allow_anonymous_read else 'every call needs'}"
            f' an API key as header {{"Authorization": '
            f'"Bearer <key>"}}: the first admin, operator and ingest keys are in {first} '
            "(readable by you only; keep them elsewhere, then delete the file); "
            "more with `twinql keys create`"
        )
    lines.extend(f"  {line}" if i else line for i, line in enumerate(extra))
    print("\n".join(lines), file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
