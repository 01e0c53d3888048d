"""numba's on-disk cache never writes into the installed ``sim`` package.

The package is copied into a fresh site-packages-like directory and run in a subprocess
(no ``NUMBA_CACHE_DIR``, bytecode writing off so any file that appears under the package
is numba's): the compiled RK4 and dopri5 paths run, nothing appears in the package, and
the cache lands in the default per-user directory, or in the one ``use_cache_dir`` names.
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


def _run(site: Path, home: Path, *extra: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_"))}
    env.update(
        HOME=str(home),
        PYTHONPATH=f"{site}{os.pathsep}{ROOT}",  # the copy of sim first, graph from the tree
        PYTHONDONTWRITEBYTECODE="1",
    )
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(site / "sim"), *extra],
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
    assert {"fastpath._advance", "dopri._advance", "pump.PumpModel.kernel"} <= names, names
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
