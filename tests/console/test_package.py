"""The console's built files are complete and shipped: the page names only files that
exist, every asset has its gzip twin where it is served gzipped, and the package data in
pyproject.toml covers every file, so ``pip install .`` ships the console."""

from __future__ import annotations

import fnmatch
import gzip
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "api" / "console" / "static"


def test_the_page_names_only_built_files() -> None:
    html = (STATIC / "index.html").read_text()
    named = re.findall(r'(?:src|href)="/console/assets/([^"]+)"', html)
    assert named
    built = {p.name for p in (STATIC / "assets").iterdir() if p.suffix != ".gz"}
    assert set(named) == built  # nothing missing, nothing stale


def test_gzip_twins_hold_the_same_bytes() -> None:
    for packed in (STATIC / "assets").glob("*.gz"):
        raw = packed.with_suffix("")
        assert gzip.decompress(packed.read_bytes()) == raw.read_bytes(), packed.name


def test_package_data_covers_every_built_file() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["api"]
    for f in STATIC.rglob("*"):
        if f.is_file():
            rel = f.relative_to(ROOT / "api").as_posix()
            assert any(fnmatch.fnmatch(rel, g) and rel.count("/") == g.count("/") for g in globs), (
                rel
            )
