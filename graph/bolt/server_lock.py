"""Who runs the embedded graph server of a data directory: a small JSON record file.

``server.json`` in the server's root names the java process, the twinql process that
owns it (pid and, on Linux, its start time, so a recycled pid is not mistaken for it)
and the Bolt port. It is written as soon as the child is spawned and removed when the
owner stops it. At start-up:

- no record, or a record whose java process is gone: start as usual;
- a record whose owner is dead but whose java process lives: a stale server left by a
  killed twinql. It is stopped (SIGTERM, then SIGKILL) if, and only if, ``/proc``
  shows that pid is an ArcadeDB server started for this very directory; any other
  process is left alone;
- a live owner with a live server: the directory is in use. ``twinql load`` attaches
  to that server over Bolt; a second server refuses to start with a clear error.

On Linux the child also gets a parent-death signal (``PR_SET_PDEATHSIG``), so it stops
with its parent in the first place; the record covers the cases that cannot (a parent
killed between fork and prctl, other systems).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "ServerRecord",
    "die_with_parent",
    "is_our_server",
    "owner_alive",
    "pid_alive",
    "read_record",
    "remove_record",
    "stop_stale",
    "write_record",
]

log = logging.getLogger(__name__)

RECORD_FILE = "server.json"
_MAIN_CLASS = "com.arcadedb.server.ArcadeDBServer"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class ServerRecord:
    pid: int  # the java process
    owner: int  # the twinql process that started it
    owner_started: str | None  # the owner's start time (/proc/<pid>/stat field 22)
    host: str
    bolt: int


def process_started(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    fields = stat.rsplit(")", 1)[-1].split()
    return not fields or fields[0] != "Z"


def owner_alive(rec: ServerRecord) -> bool:
    if not pid_alive(rec.owner):
        return False
    if rec.owner_started is None:
        return True
    return process_started(rec.owner) == rec.owner_started


def is_our_server(pid: int, root: Path) -> bool:
    """True when ``pid`` is an ArcadeDB server started by twinql for ``root``."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    args = raw.decode(errors="replace").split("\0")
    return _MAIN_CLASS in args and f"-Darcadedb.server.rootPath={root}" in args


def read_record(root: Path) -> ServerRecord | None:
    path = root / RECORD_FILE
    try:
        data = json.loads(path.read_text())
        return ServerRecord(
            pid=int(data["pid"]),
            owner=int(data["owner"]),
            owner_started=data.get("owner_started"),
            host=str(data["host"]),
            bolt=int(data["bolt"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring an unreadable %s (%s)", path, exc)
        return None


def write_record(root: Path, rec: ServerRecord) -> None:
    path = root / RECORD_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(rec)))
    tmp.replace(path)


def remove_record(root: Path, pid: int) -> None:
    """Remove the record if it still names ``pid`` (a newer server may have replaced it)."""
    rec = read_record(root)
    if rec is not None and rec.pid == pid:
        with contextlib.suppress(FileNotFoundError):
            (root / RECORD_FILE).unlink()


async def stop_stale(rec: ServerRecord, root: Path, *, grace_s: float = 20.0) -> bool:
    """Stop the server a dead twinql left running for ``root``; True if one was stopped."""
    if not (pid_alive(rec.pid) and is_our_server(rec.pid, root)):
        return False
    log.warning(
        "stopping a stale embedded graph server (pid %d) left by twinql pid %d, which is gone",
        rec.pid,
        rec.owner,
    )
    with contextlib.suppress(ProcessLookupError):
        os.kill(rec.pid, signal.SIGTERM)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_s
    while pid_alive(rec.pid):
        if loop.time() > deadline:
            log.warning("the stale graph server ignored SIGTERM; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.kill(rec.pid, signal.SIGKILL)
            deadline = loop.time() + grace_s
        await asyncio.sleep(0.1)
    return True


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel send SIGTERM to the child when its parent
    dies (Linux ``PR_SET_PDEATHSIG``); None elsewhere. The signal follows the thread
    that forks, so spawn from the thread that runs the event loop for the whole run."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec
