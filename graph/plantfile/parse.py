"""Parse and check a plant file (YAML or JSON) into a ``PlantDescription``, every fault
collected with its path and line (the format: ``graph.plantfile``)."""

from __future__ import annotations

import gc
from collections.abc import Collection
from pathlib import Path
from typing import Literal

from graph.errors import NotFound, ValidationError
from graph.plantfile.check import MAX_ERRORS, PlantChecker
from graph.plantfile.spec import PlantDescription
from graph.plantfile.text import (
    Fault,
    KeyPath,
    LineTree,
    format_path,
    json_lines,
    line_at,
    load_json,
    load_yaml,
)

__all__ = ["load_plant_file", "parse_plant"]


def _guess_format(text: str, source_name: str) -> str:
    suffix = Path(source_name).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return "json" if text.lstrip()[:1] == "{" else "yaml"


def _error(
    source: str, faults: list[tuple[KeyPath, int | None, str]], truncated: bool
) -> ValidationError:
    errors = [{"path": format_path(p), "line": line, "message": m} for p, line, m in faults]
    first = errors[0]
    more = (
        f"; {len(errors) - 1}{'+' if truncated else ''} more in details" if len(errors) > 1 else ""
    )
    return ValidationError(
        f"{first['message']} ({source}{more})",
        path=first["path"],  # type: ignore[arg-type]
        line=first["line"],  # type: ignore[arg-type]
        details={"source": source, "errors": errors, "truncated": truncated},
    )


def parse_plant(
    text: str,
    *,
    fmt: Literal["yaml", "json"] | None = None,
    source_name: str = "<string>",
    sim_models: Collection[str] | None = None,
    external_parents: bool = False,
) -> PlantDescription:
    """Parse and validate a plant description; ``ValidationError`` names every fault.

    ``fmt`` defaults from ``source_name``'s suffix, else from the text (``{`` means JSON).
    ``sim_models``, when given, are the simulation model names a ``sim.model`` may use.
    ``external_parents`` lets a top-level asset's ``parent`` name an asset outside the
    file (one already in the graph: the importer checks it exists); off, it is an error.
    """
    if not isinstance(text, str):
        raise ValidationError(f"plant text must be a string, got {type(text).__name__}")
    fmt = fmt or _guess_format(text, source_name)  # type: ignore[assignment]
    if fmt not in ("yaml", "json"):
        raise ValidationError(f"unknown plant format {fmt!r}; expected yaml or json")
    tree: LineTree = None
    # Parsing allocates millions of small containers and no cycles: the cyclic GC would
    # rescan them over and over (3x slower YAML), so it pauses for the parse.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if fmt == "json":
            data = load_json(text)
        else:
            data, tree = load_yaml(text)
        walker = PlantChecker(sim_models, external_parents)
        walker.document(data)
    except Fault as fault:
        raise _error(source_name, [(fault.path, fault.line, fault.message)], False) from None
    except RecursionError:
        raise _error(
            source_name, [((), None, "the document is nested too deeply")], False
        ) from None
    finally:
        if gc_was_enabled:
            gc.enable()
    if not walker.errors:
        return walker.result()
    if fmt == "json":
        try:
            tree = json_lines(text)
        except (Fault, RecursionError, IndexError, AttributeError):
            tree = None
    faults = []
    for path, message, first in walker.errors:
        line = line_at(tree, path) if tree is not None else None
        if first is not None:
            where = line_at(tree, first) if tree is not None else None
            message += f", first defined at {format_path(first)}" + (
                f" (line {where})" if where else ""
            )
        faults.append((path, line, message))
    raise _error(source_name, faults, len(walker.errors) >= MAX_ERRORS) from None


def load_plant_file(
    path: str | Path,
    *,
    fmt: Literal["yaml", "json"] | None = None,
    sim_models: Collection[str] | None = None,
    external_parents: bool = False,
) -> PlantDescription:
    """Read and parse a plant file (UTF-8); the format follows the suffix unless given."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFound(f"plant file {p} does not exist", details={"path": str(p)}) from None
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"plant file {p} is not UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ValidationError(f"cannot read plant file {p}: {exc.strerror}") from None
    return parse_plant(
        text, fmt=fmt, source_name=str(p), sim_models=sim_models, external_parents=external_parents
    )
