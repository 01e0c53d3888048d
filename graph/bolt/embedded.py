"""The embedded graph server: ArcadeDB with its Bolt plugin, run as a child process.

The ``arcadedb-embedded`` wheel ships a JRE and the server jars. We start
``java -cp 'jars/*' com.arcadedb.server.ArcadeDBServer`` with every listener (Bolt,
HTTP, HTTPS) on its own free loopback port, wait until Bolt answers, and stop it with
SIGTERM (then SIGKILL after a grace period). The data directory persists across
restarts; the root password is generated once and kept in the data directory (mode 0600),
and the server reads it from there (``arcadedb.server.rootPasswordPath``): it is never on
the java command line, which any local user can read in ``/proc``.
The same neo4j driver and the same Cypher talk to it as to Neo4j 5 in production.

The child never outlives twinql for long: on Linux it gets a parent-death signal, and a
record file names it so the next start stops a server a killed twinql left behind (see
``graph.bolt.server_lock``). ``attach=True`` (``twinql load``) uses the server a running
twinql already owns for the same directory instead of starting a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import subprocess
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from graph.bolt import server_lock as lock
from graph.bolt.settings import EmbeddedGraphSettings, GraphSettings
from graph.errors import Unavailable

__all__ = ["EmbeddedGraphServer", "free_port"]

log = logging.getLogger(__name__)

_PASSWORD_FILE = "root-password"
_LOG_TAIL_LINES = 40


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _wheel_paths() -> tuple[Path, Path]:
    try:
        import arcadedb_embedded
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise Unavailable(
            "the embedded graph server needs the 'arcadedb-embedded' package"
        ) from exc
    root = Path(arcadedb_embedded.__file__).parent
    java = root / "jre" / "bin" / "java"
    jars = root / "jars"
    if not java.exists() or not jars.is_dir():
        raise Unavailable(f"arcadedb-embedded at {root} has no bundled JRE or jars")
    return java, jars


@dataclass(slots=True)
class _Ports:
    bolt: int
    http: int
    https: int


class EmbeddedGraphServer:
    """Start, watch and stop an ArcadeDB server with Bolt on loopback.

    Use as ``async with EmbeddedGraphServer(settings) as server:`` and hand
    ``server.graph_settings()`` to the graph client.
    """

    def __init__(self, settings: EmbeddedGraphSettings) -> None:
        self.settings = settings
        self.root = settings.data_dir.resolve() / "graph"
        self._proc: asyncio.subprocess.Process | None = None
        self._ports: _Ports | None = None
        self._log_tail: deque[str] = deque(maxlen=_LOG_TAIL_LINES)
        self._reader: asyncio.Task[None] | None = None
        self._password = ""
        self._started_seen = False
        self.exit_code: int | None = None
        self.attached_to: int | None = None  # owner pid of a server we attached to

    # -- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> EmbeddedGraphServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def pid(self) -> int | None:
        """The java process we started (None when attached or stopped)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def bolt_uri(self) -> str:
        if self._ports is None:
            raise Unavailable("the embedded graph server is not started")
        return f"bolt://{self.settings.host}:{self._ports.bolt}"

    def graph_settings(self, **overrides: object) -> GraphSettings:
        return GraphSettings(
            uri=self.bolt_uri,
            user="root",
            password=self._password,
            database=self.settings.database,
            **overrides,  # type: ignore[arg-type]
        )

    def log_tail(self) -> str:
        return "\n".join(self._log_tail)

    async def start(self, *, attach: bool = False) -> None:
        """Start the server. When a live twinql already runs one for this directory,
        attach to it with ``attach`` (we then never stop it), else refuse clearly."""
        if self.running or self.attached_to is not None:
            return
        java, jars = _wheel_paths()
        self.root.mkdir(parents=True, exist_ok=True)
        self._password = self._root_password()
        if await self._attached_or_cleared(attach):
            return
        host = self.settings.host
        self._ports = _Ports(
            bolt=self.settings.bolt_port or free_port(host),
            http=free_port(host),
            https=free_port(host),
        )
        props = {
            "server.rootPath": str(self.root),
            "server.databaseDirectory": str(self.root / "databases"),
            "server.rootPasswordPath": str(self.root / _PASSWORD_FILE),
            "server.mode": "development",
            "server.plugins": "Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
            "server.defaultDatabases": f"{self.settings.database}[root]",
            "server.httpIncomingHost": host,
            "server.httpIncomingPort": str(self._ports.http),
            "server.httpsIncomingPort": str(self._ports.https),
            "bolt.host": host,
            "bolt.port": str(self._ports.bolt),
        }
        cmd = [
            str(java),
            f"-Xmx{self.settings.heap}",
            "-XX:+UseSerialGC",
            "-Djava.awt.headless=true",
            *(f"-Darcadedb.{k}={v}" for k, v in props.items()),
            "-cp",
            str(jars / "*"),
            "com.arcadedb.server.ArcadeDBServer",
        ]
        log.info("starting embedded graph server (bolt %s:%d)", host, self._ports.bolt)
        self._proc = await asyncio.create_subprocess_exec(
            *cmd,
            cwd=str(self.root),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lock.die_with_parent(),
        )
        lock.write_record(
            self.root,
            lock.ServerRecord(
                pid=self._proc.pid,
                owner=os.getpid(),
                owner_started=lock.process_started(os.getpid()),
                host=host,
                bolt=self._ports.bolt,
            ),
        )
        self._started_seen = False
        self._reader = asyncio.create_task(self._read_output(), name="arcadedb-log")
        await self._wait_ready()

    async def aclose(self) -> None:
        self.attached_to = None
        proc, self._proc = self._proc, None
        if proc is not None:
            lock.remove_record(self.root, proc.pid)
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=20)
            except TimeoutError:
                log.warning("embedded graph server ignored SIGTERM; killing it")
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None

    # -- internals -------------------------------------------------------------------
    async def _attached_or_cleared(self, attach: bool) -> bool:
        """Look at the record a previous server left: attach to a live one (True),
        refuse it, or stop a stale one a dead twinql left behind (then False)."""
        rec = lock.read_record(self.root)
        if rec is None:
            return False
        server_up = lock.pid_alive(rec.pid) and lock.is_our_server(rec.pid, self.root)
        if server_up and lock.owner_alive(rec):
            if not attach:
                raise Unavailable(
                    f"the graph data in {self.root} is in use by twinql (pid {rec.owner}, "
                    f"graph server pid {rec.pid}); stop it first or use another --data-dir"
                )
            self._ports = _Ports(bolt=rec.bolt, http=0, https=0)
            self.attached_to = rec.owner
            log.info("using the graph server of the running twinql (pid %d)", rec.owner)
            return True
        if server_up:
            await lock.stop_stale(rec, self.root)
        lock.remove_record(self.root, rec.pid)
        return False

    def _root_password(self) -> str:
        path = self.root / _PASSWORD_FILE
        if path.exists():
            return path.read_text().strip()
        password = secrets.token_urlsafe(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password)
        return password

    async def _read_output(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        stream = proc.stdout
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            self._log_tail.append(text)
            if "ArcadeDB Server started" in text:
                self._started_seen = True
            log.debug("arcadedb: %s", text)
        code = await proc.wait()
        if self._proc is proc and self._started_seen:
            # Not asked to stop: say so loudly, with what the server said last.
            self.exit_code = code
            log.error(
                "the embedded graph server exited unexpectedly (code %s); the graph is "
                "unavailable until twinql restarts. Its last output:\n%s",
                code,
                self.log_tail(),
            )

    async def _wait_ready(self) -> None:
        assert self._proc is not None and self._ports is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.startup_timeout_s
        while True:
            if self._proc.returncode is not None:
                raise Unavailable(
                    f"the embedded graph server exited with code {self._proc.returncode} "
                    f"while starting; its last output:\n{self.log_tail()}"
                )
            if self._started_seen:
                if await _port_open(self.settings.host, self._ports.bolt):
                    return
            if loop.time() > deadline:
                await self.aclose()
                raise Unavailable(
                    f"the embedded graph server did not start within "
                    f"{self.settings.startup_timeout_s:.0f}s; its last output:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.1)


async def _port_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=1)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
