"""The processes of a soak run: Mosquitto and ``twinql serve`` started as children;
twinql's descendants (the embedded graph server among them) and their resident memory,
seen through /proc; a stop that reports whatever outlived it.

``rss_mb`` reads VmRSS from /proc/PID/status (nan once the process is gone or a zombie);
``stop`` sends SIGTERM, waits, and SIGKILLs (and returns) every process of the tree that
is still alive afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["broker", "descendants", "graph_pid", "rss_mb", "serve", "stop"]

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int | None) -> float:
    """VmRSS of a process in MB; nan when it is gone (or a zombie, which has none)."""
    if pid is None:
        return float("nan")
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _alive(pid: int) -> bool:
    return rss_mb(pid) == rss_mb(pid)  # not nan: running, not a zombie


def descendants(pid: int) -> list[int]:
    """Every live (not zombie) descendant of ``pid``, from /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = ""
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            stat = (entry / "stat").read_text()
        if not stat:
            continue
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]  # after "pid (comm) "
        if state != "Z":
            children.setdefault(int(ppid), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def graph_pid(pid: int) -> int | None:
    """The embedded graph server (ArcadeDB on the bundled JRE) among ``pid``'s descendants."""
    for child in descendants(pid):
        cmdline = b""
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"ArcadeDBServer" in cmdline:
            return child
    return None


def serve(data: Path, port: int, log: Path, heap: str | None) -> subprocess.Popen[bytes]:
    """``twinql serve`` on ``port`` over a fresh ``data`` dir with no TWINQL_ settings but
    the graph heap (when given): the README's defaults, keys in first-keys.json."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINQL_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    if heap:
        env["TWINQL_GRAPH_HEAP"] = heap
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--data-dir", str(data),
             "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def stop(proc: subprocess.Popen[bytes], timeout: float = 120) -> list[int]:
    """SIGTERM to ``proc``, wait up to ``timeout``; the pids of the tree that outlived it
    (SIGKILLed then, ``proc`` itself included when it did not exit in time)."""
    tree = descendants(proc.pid)
    left = []
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            left.append(proc.pid)
    deadline = time.monotonic() + 5  # children reparented on exit: give them a moment
    while any(_alive(p) for p in tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in tree:
        if _alive(pid):
            left.append(pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return left


def broker(work: Path, port: int, max_queued: int) -> subprocess.Popen[bytes]:
    """Mosquitto on ``port`` (loopback), its config and log in ``work``: QoS 1 queues of
    ``max_queued`` messages per client (docker/mosquitto.conf keeps 100,000), $SYS
    counters every second (``$SYS/broker/publish/messages/dropped``)."""
    conf = work / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        f"max_queued_messages {max_queued}\nsys_interval 1\n"
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with (work / "mosquitto.log").open("ab") as out:
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.02)
    proc.kill()
    proc.wait(5)
    raise RuntimeError(
        f"mosquitto did not listen on {port}: {(work / 'mosquitto.log').read_text()}"
    )
