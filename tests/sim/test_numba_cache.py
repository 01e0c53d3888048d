"""numba's on-disk cache never writes into the installed ``sim`` package.

The package is copied into a fresh site-packages-like directory and run in a subprocess
(no ``NUMBA_CACHE_DIR``, bytecode writing off so any file that appears under the package
is numba's): the compiled RK4 and dopri5 paths run, nothing appears in the package, and
the cache lands in the default per-user directory, or in the one ``use_cache_dir`` names.
A model only one process can import (a test's) leaves the cache usable by the others.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from sim.fastpath import default_cache_dir

ROOT = Path(__file__).resolve().parents[2]

RUN = """
import sys
from pathlib import Path
import sim
from sim.fastpath import use_cache_dir
assert Path(sim.__file__).parent == Path(sys.argv[1]), sim.__file__
if len(sys.argv) > 2:
    use_cache_dir(sys.argv[2])
for step in (None, 0.01):
    r = sim.run_scenario(sim.Scenario(model="pump", horizon_s=30.0, step_s=step))
    assert r.outputs["flow_m3h"].size > 1
print("ran")
"""


def _run(site: Path, home: Path, *extra: str, code: str = RUN, path: str = "") -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_"))}
    env.update(
        HOME=str(home),
        # the copy of sim first, graph from the tree
        PYTHONPATH=os.pathsep.join(p for p in (str(site), str(ROOT), path) if p),
        PYTHONDONTWRITEBYTECODE="1",
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(site / "sim"), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=home,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ran" in done.stdout


def _cached(where: Path) -> list[Path]:
    return sorted(p for p in where.rglob("*") if p.suffix in (".nbi", ".nbc"))


def _installed(tmp_path: Path) -> Path:
    site = tmp_path / "site-packages"
    shutil.copytree(
        ROOT / "sim", site / "sim", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    return site


def test_compiling_leaves_the_installed_package_untouched(tmp_path: Path) -> None:
    site = _installed(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    _run(site, home)
    assert not list((site / "sim").rglob("__pycache__")), "numba wrote into the package"
    assert not _cached(site)
    cached = _cached(default_cache_dir(home=home))
    names = {p.name.split("-")[0] for p in cached}
    assert {
        "fastpath._advance__sim_models_pump_PumpModel",
        "dopri._advance__sim_models_pump_PumpModel",
        "pump.PumpModel.kernel",
    } <= names, names
    assert all(p.is_relative_to(home / ".cache" / "twinql" / "numba") for p in cached)


def test_use_cache_dir_moves_the_cache(tmp_path: Path) -> None:
    site = _installed(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    chosen = tmp_path / "chosen cache"
    _run(site, home, str(chosen))
    assert _cached(chosen)
    assert not _cached(site)
    assert not (home / ".cache").exists()


def test_default_cache_dir_follows_xdg() -> None:
    assert default_cache_dir("/x/cache") == Path("/x/cache/twinql/numba")
    assert default_cache_dir(None, Path("/h")) == Path("/h/.cache/twinql/numba")


LOCAL_MODEL = """
from typing import Any
from sim.model import Model, StateSpec, ParamSpec, OutputSpec

class Lag(Model):
    name = "lag"
    description = "a model only this process can import"
    states = (StateSpec("x", "1", "state", 1.0),)
    parameters = (ParamSpec("k", "1/s", "rate", 1.0, (0.1, 10.0)),)
    outputs = (OutputSpec("x", "1", "state"),)

    @staticmethod
    def kernel(t: float, x: Any, u: Any, c: Any, dx: Any) -> None:
        dx[0] = -c[0] * x[0]

    def prepare(self, p: Any) -> Any:
        return (p[:, 0],)

    def observe(self, t: float, x: Any, u: Any, prep: Any) -> Any:
        return x[:, :1].copy()
"""

RUN_LOCAL = """
import sys
from sim import dopri5, rk4
from sim.fastpath import use_cache_dir
from lagmodel import Lag
use_cache_dir(sys.argv[2])
dopri5(Lag(), [1.0], horizon_s=5.0, output_every_s=1.0)
rk4(Lag(), [1.0], horizon_s=5.0, dt=0.1, path="compiled")
print("ran")
"""


def test_a_model_only_one_process_imports_leaves_the_cache_usable(tmp_path: Path) -> None:
    # numba indexes every signature of a function in one file; a loop taking kernels as
    # arguments would record the test model's kernel there, and every later process
    # loading that index would fail to import it
    site = _installed(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    private = tmp_path / "private"
    private.mkdir()
    (private / "lagmodel.py").write_text(LOCAL_MODEL)
    cache = tmp_path / "shared cache"
    _run(site, home, str(cache))  # pump compiled first
    _run(site, home, str(cache), code=RUN_LOCAL, path=str(private))
    _run(site, home, str(cache))  # pump again, loading from the cache, without lagmodel
