"""docs/: every GraphQL example in the guides (and the README) is valid against the
committed schema.graphql and passes the deployed query limits; the generated parts
(configuration reference, plant file schema) are current; relative links resolve; the
JavaScript examples parse. The Python subscription client runs against the real app in
tests/api/test_docs_clients.py; the OpenAPI examples in tests/api/test_ingest_openapi.py."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from graphql import DocumentNode, build_schema, parse, print_ast, specified_rules, validate
from strawberry.extensions import AddValidationRules

from api.schema import build_schema as build_app_schema
from api.settings import VARIABLES, Settings, reference_markdown

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GUIDES = sorted(DOCS.glob("*.md"))
SDL = build_schema((ROOT / "schema.graphql").read_text())


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def operations(path: Path) -> list[tuple[str, str]]:
    """(where, operation) for each operation of the file's ```graphql blocks."""
    out = []
    for block in blocks(path.read_text(encoding="utf-8"), "graphql"):
        for definition in parse(block).definitions:
            out.append((path.name, print_ast(DocumentNode(definitions=(definition,)))))
    return out


EXAMPLES = [op for path in [*GUIDES, ROOT / "README.md"] for op in operations(path)]


def _limit_rules() -> list[object]:
    schema = build_app_schema()
    rules: list[object] = []
    for ext in schema.extensions:
        made = ext() if not isinstance(ext, AddValidationRules) else ext
        if isinstance(made, AddValidationRules):
            rules += made.validation_rules
    return rules


def test_every_guide_has_graphql_examples() -> None:
    names = {where for where, _ in EXAMPLES}
    assert {"integrator.md", "frontend.md"} <= names


@pytest.mark.parametrize(("where", "operation"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_graphql_examples_are_valid_against_schema_graphql(where: str, operation: str) -> None:
    errors = validate(SDL, parse(operation))
    assert [e.message for e in errors] == [], operation


def test_graphql_examples_pass_the_default_limits() -> None:
    schema = build_app_schema()
    rules = _limit_rules()
    for where, operation in EXAMPLES:
        errors = validate(schema._schema, parse(operation), [*specified_rules, *rules])
        assert [e.message for e in errors] == [], (where, operation)


def test_generated_docs_are_current() -> None:
    done = subprocess.run(
        [sys.executable, str(DOCS / "generate.py"), "--check"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert reference_markdown() in (DOCS / "operations.md").read_text(encoding="utf-8")


def test_the_reference_covers_every_setting_with_its_default() -> None:
    defaults = Settings()
    assert {v.attr for v in VARIABLES} == set(Settings.__slots__)
    assert len({v.name for v in VARIABLES}) == len(VARIABLES)
    for v in VARIABLES:
        value = getattr(defaults, v.attr)
        if isinstance(value, bool | type(None)) or value in ("", ()):
            continue  # "unset", "empty" or a derived default, described in words
        shown = (
            f"./{value}"
            if isinstance(value, Path)
            else f"{value:g}"
            if isinstance(value, float)
            else str(value)
        )
        assert v.default == shown, v.name


def test_every_variable_parses_what_the_reference_shows() -> None:
    env = {v.name: v.default for v in VARIABLES if v.default not in ("unset", "empty")}
    env = {k: val for k, val in env.items() if " " not in val}  # defaults told in words
    settings = Settings.from_env(env)
    assert settings == Settings(data_dir=Path("./.twinql"))


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("path", [*GUIDES, ROOT / "README.md"], ids=lambda p: p.name)
def test_relative_links_resolve(path: Path) -> None:
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if "://" in target:
            continue
        assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


def test_javascript_examples_parse(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: .ci/run installs it (the Cypher lint needs it too)")
    sources = [b for path in GUIDES for b in blocks(path.read_text(encoding="utf-8"), "javascript")]
    assert sources
    for i, source in enumerate(sources):
        script = tmp_path / f"example{i}.mjs"
        script.write_text(source, encoding="utf-8")
        done = subprocess.run([node, "--check", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_metrics_named_in_the_operations_guide_exist() -> None:
    from dataclasses import fields

    from api.status.prometheus import render_metrics
    from api.status.snapshot import ConnectorCounts, SimulationSlots, StatusSnapshot
    from ingest.connectors.base import ConnectorState
    from ingest.pipeline.writer import WriterStats

    def zeros(cls: type) -> dict[str, int]:
        return {f.name: 0 for f in fields(cls) if f.name != "by_state"}

    everything = StatusSnapshot(
        started=True,
        ingest=WriterStats(**zeros(WriterStats)),  # type: ignore[arg-type]
        bus_published=0,
        bus_subscribers=0,
        latest_cache_size=0,
        connectors=ConnectorCounts(
            by_state={s.value: 0 for s in ConnectorState},
            **zeros(ConnectorCounts),  # type: ignore[arg-type]
        ),
        simulation=SimulationSlots(in_use=0, slots=16),
    )
    exposed = set(re.findall(r"^# TYPE (twinql_\w+)", render_metrics(everything), re.M))
    named = set(re.findall(r"\b(twinql_\w+)", (DOCS / "operations.md").read_text()))
    assert named and named <= exposed, named - exposed
    states = set(re.findall(r'state="(\w+)"', (DOCS / "operations.md").read_text()))
    assert states <= {s.value for s in ConnectorState}
