"""Benchmark: the console's bundle size and its time to first render (tree, asset page).

1. Bundle: each built file in ``api/console/static`` raw and as served gzipped (the
   ``.gz`` copy twinql sends to browsers that accept gzip), and the total a first visit
   downloads.
2. First render: ``twinql demo --no-devices`` (the example plant, no simulated devices)
   as a child process, headless Chromium (the system one, through Playwright). Each
   round opens a fresh browser context (empty cache), signed in (the token already in
   sessionStorage), and measures in the browser's own clock, from navigation start, when
   the first tree node is in the DOM (roots fetched over GraphQL and drawn), and, opening
   ``#/asset/pump-101``, when its analytics panel shows its figures (asset query, then
   ``Asset.health`` computed from the readings store and ``healthHistory``). Reference,
   same browser and server, fresh context too: loading ``/healthz`` (one request, no
   script) until its load event. min / median over ``--rounds``; machine load beside.

    python bench/bench_console.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Browser, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "api" / "console" / "static"
TOKEN = "bench-console-admin-token-0123"

# Set before any script of the page runs: notes when the first tree node appears and
# when the asset page's analytics panel has its figures.
WATCH = (
    f"sessionStorage.setItem('twinql.token', {TOKEN!r});"
    + """
window.__at = {};
new MutationObserver((_, obs) => {
  const seen = { tree: '[data-testid^="tree-"]', health: '[data-testid=health-method]' };
  for (const [k, sel] of Object.entries(seen)) {
    if (window.__at[k] === undefined && document.querySelector(sel)) window.__at[k] = performance.now();
  }
  if (Object.keys(window.__at).length === Object.keys(seen).length) obs.disconnect();
}).observe(document, { childList: true, subtree: true });
"""
)
ASSET = "pump-101"


def bundle() -> None:
    print("bundle (api/console/static):")
    total_raw = total_gz = 0
    files = [STATIC / "index.html", *sorted((STATIC / "assets").iterdir())]
    for f in files:
        if f.suffix == ".gz":
            continue
        raw = f.read_bytes()
        packed = f.with_name(f.name + ".gz")
        served = packed.stat().st_size if packed.exists() else len(raw)
        total_raw += len(raw)
        total_gz += served
        print(
            f"  {f.relative_to(STATIC)}: {len(raw) / 1024:.1f} KiB raw, "
            f"{served / 1024:.1f} KiB served{' (gzip)' if packed.exists() else ''}, "
            f"{len(gzip.compress(raw, 9)) / 1024:.1f} KiB gzip -9"
        )
    print(f"  first visit downloads {total_gz / 1024:.1f} KiB ({total_raw / 1024:.1f} KiB raw)")


def start(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINQL_")}
    env["TWINQL_GRAPH_HEAP"] = "512m"
    env["TWINQL_TOKENS"] = f"{TOKEN}:admin"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "demo", "--no-devices", "--port", str(port),
             "--data-dir", str(data_dir)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"twinql demo exited:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass  # not listening yet
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"twinql demo not ready:\n{log.read_text()}")


def render_ms(browser: Browser, base: str, hash_: str, what: str) -> float:
    """Milliseconds from navigation start until ``what`` (a key of WATCH) is drawn."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_init_script(WATCH)
        page.goto(f"{base}/{hash_}")
        page.wait_for_function(f"() => window.__at.{what} !== undefined", timeout=30_000)
        return float(page.evaluate(f"window.__at.{what}"))
    finally:
        context.close()


def reference_ms(browser: Browser, base: str) -> float:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(base + "/healthz", wait_until="load")
        return float(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
    finally:
        context.close()


def first_render(rounds: int) -> None:
    chromium = os.environ.get("TWINQL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as tmp:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        proc = start(Path(tmp) / "data", port, Path(tmp) / "demo.log")
        base = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium)
                version = browser.version
                render_ms(browser, base, "", "tree")  # warm the server (first queries, caches)
                render_ms(browser, base, f"#/asset/{ASSET}", "health")
                tree, health, ref = [], [], []
                for _ in range(rounds):
                    ref.append(reference_ms(browser, base))
                    tree.append(render_ms(browser, base, "", "tree"))
                    health.append(render_ms(browser, base, f"#/asset/{ASSET}", "health"))
                browser.close()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
    load = os.getloadavg()
    print(f"first render, headless Chromium {version}, {rounds} rounds:")
    print(
        f"  console / (page, bundle, session check, roots query, render): "
        f"min {min(tree):.0f} ms, median {statistics.median(tree):.0f} ms"
    )
    print(
        f"  #/asset/{ASSET} until the analytics panel has its figures:   "
        f"min {min(health):.0f} ms, median {statistics.median(health):.0f} ms"
    )
    print(
        f"  reference /healthz (one request, no script):                 "
        f"min {min(ref):.0f} ms, median {statistics.median(ref):.0f} ms"
    )
    print(
        f"  ratio of medians {statistics.median(tree) / statistics.median(ref):.1f}x (tree), "
        f"{statistics.median(health) / statistics.median(ref):.1f}x (asset page); "
        f"machine load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    bundle()
    first_render(args.rounds)


if __name__ == "__main__":
    main()
