"""The layers stay visible: who may import whom, read from the code's own imports.

``graph`` is the kernel and the Bolt adapter; ``sim`` and ``analytics`` are pure; ``ingest``
is the readings path; ``api`` is the outermost ring (nothing imports it), with its
application layer in ``api/services`` free of GraphQL and HTTP. No module imports another
module's ``_private`` names.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = {"api", "graph", "ingest", "sim", "analytics"}
IO_LIBRARIES = {"neo4j", "duckdb", "psycopg", "questdb", "aiomqtt", "asyncua", "pymodbus",
                "strawberry", "starlette", "uvicorn", "httpx", "socket"}  # fmt: skip


def _modules(package: str) -> Iterator[Path]:
    yield from sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(module, names) of every import in ``path``, relative imports resolved."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = path.relative_to(ROOT).with_suffix("").parts[: -node.level]
                module = ".".join([*base, module] if module else base)
            yield module, [a.name for a in node.names]


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("package", ["graph", "ingest", "sim", "analytics"])
def test_nothing_below_the_api_imports_it(package: str) -> None:
    bad = [
        f"{p.relative_to(ROOT)}: {m}"
        for p in _modules(package)
        for m, _ in _imports(p)
        if _top(m) == "api"
    ]
    assert not bad


@pytest.mark.parametrize(
    ("package", "allowed"),
    [("graph", {"graph"}), ("sim", {"sim", "graph"}), ("analytics", {"analytics", "graph", "sim"})],
)
def test_lower_layers_import_only_what_is_below_them(package: str, allowed: set[str]) -> None:
    bad = [
        f"{p.relative_to(ROOT)}: {m}"
        for p in _modules(package)
        for m, _ in _imports(p)
        if _top(m) in FIRST_PARTY and _top(m) not in allowed
    ]
    assert not bad


@pytest.mark.parametrize(
    "where",
    ["sim", "analytics", "graph/model.py", "graph/errors.py", "graph/timeutil.py",
     "graph/changes.py", "graph/plantfile"],  # fmt: skip
)
def test_the_pure_parts_import_no_io_library(where: str) -> None:
    target = ROOT / where
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    bad = [
        f"{p.relative_to(ROOT)}: {m}"
        for p in files
        for m, _ in _imports(p)
        if _top(m) in IO_LIBRARIES
    ]
    assert not bad


def test_the_application_layer_knows_no_graphql_and_no_http() -> None:
    bad = [
        f"{p.relative_to(ROOT)}: {m}"
        for p in _modules("api/services")
        for m, _ in _imports(p)
        if _top(m) in {"strawberry", "starlette", "uvicorn", "graphql"}
    ]
    assert not bad


def test_the_api_keeps_its_host_at_the_top_and_the_rest_in_folders() -> None:
    top = sorted(p.name for p in (ROOT / "api").glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 8, top


@pytest.mark.parametrize("package", [*sorted(FIRST_PARTY), "tests", "bench"])
def test_no_module_imports_another_modules_private_names(package: str) -> None:
    def private(name: str) -> bool:
        return name.startswith("_") and not name.startswith("__")

    bad = [
        f"{p.relative_to(ROOT)}: from {m} import {names}"
        for p in _modules(package)
        for m, names in _imports(p)
        if _top(m) in FIRST_PARTY | {"tests", "bench"}
        and (any(private(part) for part in m.split(".")) or any(map(private, names)))
    ]
    assert not bad
