"""The committed build (``api/console/static``) is the build of the committed source:
``npm ci`` and ``npm run build`` on a copy of ``api/console/src`` in a temporary
directory (the copy's build lands in its sibling ``static``, as the real one does) give
the same files with the same bytes; the ``.gz`` copies are compared unpacked (gzip
headers may differ between zlib builds, the content may not).

npm fetches the pinned packages from the registry (or its cache); where it cannot, the
test fails and says so: a build that cannot be checked is not a build that matches."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "api" / "console"
REBUILD = "cd api/console/src && npm ci && npm run build, then commit api/console/static"


def npm(args: list[str], cwd: Path, what: str) -> None:
    found = shutil.which("npm")
    if found is None:
        pytest.fail(f"npm not found: install Node.js and npm (.ci/run does) to check {what}")
    done = subprocess.run(
        [found, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        pytest.fail(
            f"`npm {' '.join(args)}` failed ({done.returncode}) while checking {what}; "
            f"is the npm registry (or a mirror in ~/.npmrc) reachable?\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )


def files(root: Path) -> dict[str, bytes]:
    """Every file under root by relative path; ``.gz`` files unpacked."""
    out = {}
    for f in sorted(root.rglob("*")):
        if f.is_file():
            data = f.read_bytes()
            out[f.relative_to(root).as_posix()] = (
                gzip.decompress(data) if f.suffix == ".gz" else data
            )
    return out


def test_committed_static_build_matches_the_source(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(CONSOLE / "src", src, ignore=shutil.ignore_patterns("node_modules", "dist"))
    npm(["ci", "--no-audit", "--no-fund", "--loglevel=error"], src, "the console build")
    npm(["run", "build"], src, "the console build")
    built, committed = files(tmp_path / "static"), files(CONSOLE / "static")
    assert built, "the build wrote nothing"
    missing, stale = (
        sorted(built.keys() - committed.keys()),
        sorted(committed.keys() - built.keys()),
    )
    assert not missing and not stale, (
        f"api/console/static is not the build of api/console/src: the build writes {missing}, "
        f"the committed build has {stale} instead; rebuild: {REBUILD}"
    )
    differ = sorted(name for name in built if built[name] != committed[name])
    assert not differ, (
        f"these built files differ from the committed ones: {differ}; rebuild: {REBUILD}"
    )
