"""Fixtures of the console's browser tests: ``twinql demo`` as a child process (the
example plant, its simulated devices, three tokens) and the system Chromium driven by
Playwright (``executable_path``: no browser download).

Screenshots go to the test's temporary directory; with ``TWINQL_SCREENSHOTS=DIR`` they
also go to DIR (``docs/screenshots`` refreshes the ones in the repository).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]

TOKENS = {
    "admin": "console-admin-token-0123456789",
    "operator": "console-operator-token-0123456",
    "viewer": "console-viewer-token-012345678",
}
NAMES = {"admin": "alice", "operator": "olga", "viewer": "victor"}


def chromium_path() -> str:
    found = os.environ.get("TWINQL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        pytest.fail(
            "Chromium not found: `apt-get install chromium` (.ci/run does) or set TWINQL_CHROMIUM"
        )
    return found


@dataclass(frozen=True, slots=True)
class Demo:
    base: str
    log: Path

    def gql(self, query: str, variables: dict[str, Any] | None = None, role: str = "admin") -> Any:
        r = httpx.post(
            f"{self.base}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {TOKENS[role]}"},
            timeout=60,
        )
        return r.json()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("console-demo")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINQL_")}
    env["TWINQL_GRAPH_HEAP"] = "512m"
    env["TWINQL_ANONYMOUS_READ"] = "true"  # enabled explicitly: the read-only browse test
    env["TWINQL_TOKENS"] = ",".join(f"{t}:{role}:{NAMES[role]}" for role, t in TOKENS.items())
    log = tmp / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "demo", "--port", str(port),
             "--data-dir", str(tmp / "data"), "--speedup", "10"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"twinql demo exited with {proc.returncode}:\n{log.read_text()}")
            try:
                r = httpx.get(f"{base}/readyz", timeout=2)
                if r.status_code == 200 and r.json().get("status") == "ready":
                    break
            except httpx.HTTPError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                pytest.fail(f"twinql demo not ready:\n{log.read_text()}")
            time.sleep(0.5)
        yield Demo(base, log)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


class Console:
    """A page of the console, with the JavaScript errors it raised."""

    def __init__(self, page: Page, demo: Demo, shots: list[Path]) -> None:
        self.page = page
        self.demo = demo
        self.errors: list[str] = []
        self.elsewhere: list[str] = []  # requests leaving twinql: none (no CDN)
        self.shots = shots
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        origin = demo.base.removeprefix("http://")
        page.on(
            "request",
            lambda r: None if origin in r.url.split("/")[2:3] else self.elsewhere.append(r.url),
        )

    def open(self, hash_: str = "") -> None:
        self.page.goto(f"{self.demo.base}/{hash_}")

    def login(self, role: str) -> None:
        self.open()
        self.page.fill("input[name=token]", TOKENS[role])
        self.page.click("button[type=submit]")
        self.page.wait_for_selector("[data-testid=who]")

    def screenshot(self, name: str) -> None:
        for d in self.shots:
            d.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(d / f"{name}.png"))


@pytest.fixture
def console(browser: Browser, demo: Demo, tmp_path: Path) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1200, "height": 760})
    shots = [tmp_path]
    if os.environ.get("TWINQL_SCREENSHOTS"):
        shots.append(ROOT / os.environ["TWINQL_SCREENSHOTS"])
    c = Console(context.new_page(), demo, shots)
    try:
        yield c
        assert c.errors == [], c.errors
        assert c.elsewhere == [], c.elsewhere
    finally:
        context.close()
