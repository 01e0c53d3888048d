"""The README's two commands in order, in one virtual environment, as a user runs them.

twinql is installed (``pip install .``, not editable: the package is copied into the
venv's site-packages) into a fresh venv, whose dependencies come from the test's own
environment (a ``.pth`` line; the build backend comes from the index, as for any
``pip install .``). ``twinql demo`` then runs from a directory
outside the source tree, on free ports and a temporary data dir and home, long enough to
compile a simulation (numba's on-disk cache). Afterwards nothing was written into the
installed package, the cache is in the per-user directory, and ``twinql --help`` and
``import sim; sim.MODELS`` still work, also after the test command's editable reinstall
(``pip install -e``, what ``.ci/run`` does): a cache folder left in site-packages once
shadowed the editable ``sim`` and broke every subcommand.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import pytest

from tests.support.net import free_port
from tests.support.polling import eventually_sync

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "install-admin-token-0123456789"
PACKAGES = ("api", "graph", "ingest", "sim", "analytics")
RUN = """mutation { runSimulation(assetId: "pump-102", scenario: {
  horizonSeconds: 600, outputEverySeconds: 60}) { id status } }"""
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")
STATUS = "query($id: ID!) { simulationRun(id: $id) { status } }"


def _source(tmp: Path) -> Path:
    """The tree pip builds from: a copy, so that the build writes nothing into ours."""
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", "*.egg-info")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, src / package, ignore=skip)
    return src


def _venv(tmp: Path) -> tuple[Path, Path]:
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout.strip()
    )  # fmt: skip
    # the dependencies, from this environment (a plain path line: its own .pth files,
    # such as an editable twinql, are not processed)
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python, site


def _env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWINQL_", "NUMBA_", "XDG_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(HOME=str(home), TWINQL_GRAPH_HEAP="512m", TWINQL_TOKENS=f"{TOKEN}:admin:alice")
    return env


def _pip_install(python: Path, *args: str, cwd: Path, env: dict[str, str]) -> None:
    """pip as the README runs it, dependencies excepted (they come from this environment):
    the build backend comes from the package index, as for any ``pip install .``."""
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", *args],
        cwd=cwd, env={**env, "PIP_CACHE_DIR": PIP_CACHE}, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def _works(venv_bin: Path, cwd: Path, env: dict[str, str]) -> None:
    helped = subprocess.run(
        [str(venv_bin / "twinql"), "--help"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert helped.returncode == 0, helped.stderr[-3000:]
    assert "demo" in helped.stdout and "load" in helped.stdout
    models = subprocess.run(
        [str(venv_bin / "python"), "-c", "import sim; print(sorted(sim.MODELS))"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert models.returncode == 0, models.stderr[-3000:]
    assert "pump" in models.stdout


def _compiled(where: Path) -> list[Path]:
    return sorted(p for p in where.rglob("*") if p.suffix in (".nbi", ".nbc"))


def _demo_compiles_a_simulation(venv_bin: Path, work: Path, env: dict[str, str]) -> None:
    port = free_port()
    log = work / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [str(venv_bin / "twinql"), "demo", "--port", str(port), "--data-dir",
             str(work / "data")],
            cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def ready() -> bool:
        assert demo.poll() is None, f"twinql demo exited:\n{log.read_text()[-3000:]}"
        try:
            r = httpx.get(f"{base}/readyz", timeout=2)
        except httpx.HTTPError:
            return False  # not listening yet
        return r.status_code == 200

    def gql(query: str, variables: dict[str, str] | None = None) -> dict[str, object]:
        r = httpx.post(
            f"{base}/graphql", json={"query": query, "variables": variables or {}},
            headers=auth, timeout=60,
        )  # fmt: skip
        body = r.json()
        assert "errors" not in body, body
        return body["data"]

    try:
        eventually_sync(ready, within=180, what="twinql demo ready")
        # the console, from the files of the installed package: the page and every file
        # it names are served locally (nothing from another host)
        page = httpx.get(f"{base}/", timeout=10)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assets = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
        assert any(a.endswith(".js") for a in assets), page.text
        assert not re.search(r'(?:src|href)="(?:https?:)?//', page.text), page.text
        for asset in assets:
            assert httpx.get(f"{base}{asset}", timeout=10).status_code == 200, asset
        run = gql(RUN)["runSimulation"]
        assert isinstance(run, dict)
        status = eventually_sync(
            lambda: gql(STATUS, {"id": str(run["id"])})["simulationRun"],
            done=lambda s: s["status"] not in ("queued", "running"),
            within=400,
            every=1,
            what="the simulation finished",
        )
        assert status["status"] == "succeeded", (status, log.read_text()[-3000:])
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(60)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait(10)


@pytest.mark.timeout(1500)
def test_demo_then_the_test_command_leave_twinql_working(tmp_path: Path) -> None:
    src = _source(tmp_path)
    python, site = _venv(tmp_path)
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = _env(home)
    _pip_install(python, str(src), cwd=work, env=env)  # pip install .
    installed = site / "sim"
    assert (installed / "__init__.py").is_file()  # a copy, not the tree
    venv_bin = python.parent
    _works(venv_bin, work, env)

    _demo_compiles_a_simulation(venv_bin, work, env)

    assert _compiled(site) == [], "numba wrote its cache into the installed package"
    cache = home / ".cache" / "twinql" / "numba"
    assert _compiled(cache), f"no compiled code under {cache}"
    _works(venv_bin, work, env)

    # the test command reinstalls twinql editable over the regular install (.ci/run)
    _pip_install(python, "-e", str(src), cwd=work, env=env)
    assert not installed.exists(), f"{installed} outlived the reinstall: it would shadow sim"
    _works(venv_bin, work, env)
