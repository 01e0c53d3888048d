"""The ``twinql`` command as a user runs it: its version, and failures said in one line
before anything starts (a port in use), or after a failed start-up, with the traceback
only on ``--debug``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

TIMEOUT = 120


def twinql(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, **(env or {})},
    )


def twinql_lines(stderr: str) -> list[str]:
    """The lines twinql itself wrote (uvicorn's own lines start with its level)."""
    return [line for line in stderr.splitlines() if line.startswith("twinql")]


def test_version_is_the_installed_distribution() -> None:
    out = twinql("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"twinql {metadata.version('twinql')}"


def test_a_port_in_use_is_one_line_and_nothing_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data = tmp_path / "data"
        out = twinql("serve", "--port", str(port), "--data-dir", str(data))
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        f"twinql: UNAVAILABLE: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(another twinql? choose one with --port)"
    ]
    assert "twinql is ready" not in out.stdout + out.stderr
    assert not data.exists()  # no graph server, no token file was made


def test_a_failed_start_up_is_one_line_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    out = twinql("serve", "--port", port, env={"TWINQL_DATA_DIR": str(not_a_dir)})
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert twinql_lines(out.stderr) == [
        f"twinql: VALIDATION: the data directory {not_a_dir} (TWINQL_DATA_DIR or --data-dir) "
        "cannot be used: File exists"
    ]
    debug = twinql("--debug", "serve", "--port", port, env={"TWINQL_DATA_DIR": str(not_a_dir)})
    assert debug.returncode == 2
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-1].startswith("twinql: VALIDATION: the data dir")
