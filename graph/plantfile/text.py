"""Plant text to plain data plus a line tree (YAML event stream or JSON), and line lookup.

A line tree mirrors the data: a mapping becomes {key: (line, subtree)}, a list becomes
[(line, subtree), ...], a scalar None. Lines are 1-based; a value's line is its key's.
"""

from __future__ import annotations

import bisect
import json
import re
import sys
from json.decoder import scanstring  # type: ignore[attr-defined]

import yaml

MAX_DEPTH = 64
_MAX_ALIASED = 1_000_000  # nodes reachable through YAML aliases (no billion laughs)

LineTree = dict[str, tuple[int, "LineTree"]] | list[tuple[int, "LineTree"]] | None
KeyPath = tuple[str | int, ...]


class Fault(Exception):
    def __init__(self, message: str, path: KeyPath = (), line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.path, self.line = message, path, line


_Y = "tag:yaml.org,2002:"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _YamlBuilder:
    """Plain data plus a line tree, straight from libyaml's event stream (no node graph).

    Timestamps stay strings (checked as RFC 3339 later); anchors/aliases work, alias
    expansion is bounded (no billion laughs); recursive aliases, merge keys, non-string
    keys and tags other than str/int/float/bool/null/timestamp/seq/map are refused.
    """

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.anchors: dict[str, tuple[object, LineTree, int]] = {}
        self.count = 0  # nodes built, aliases counted at their expanded size
        self.expanded = 0  # of which through aliases

    def scalar(self, event: yaml.ScalarEvent, path: KeyPath) -> object:
        tag = event.tag
        if tag is None or tag == "!":
            if not event.implicit[0]:
                return event.value  # quoted: a string
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag in (_Y + "str", _Y + "timestamp"):
            return event.value
        if tag == _Y + "null":
            return None
        constructor = {
            _Y + "int": self.loader.construct_yaml_int,
            _Y + "float": self.loader.construct_yaml_float,
            _Y + "bool": self.loader.construct_yaml_bool,
        }.get(tag)
        line = event.start_mark.line + 1
        if tag == _Y + "merge":
            raise Fault("YAML merge keys (<<) are not supported", path, line)
        if constructor is None:
            raise Fault(f"unsupported YAML tag {tag}", path, line)
        try:
            return constructor(yaml.ScalarNode(tag, event.value))
        except (ValueError, yaml.YAMLError) as exc:
            raise Fault(f"bad {tag} value {event.value!r}: {exc}", path, line) from None

    def node(self, event: yaml.Event, path: KeyPath, depth: int) -> tuple[object, LineTree]:
        """The value starting at ``event`` (its end event is consumed too)."""
        self.count += 1
        line = event.start_mark.line + 1
        value: object
        tree: LineTree
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.anchors:
                raise Fault(f"unknown or recursive YAML alias *{event.anchor}", path, line)
            value, tree, size = self.anchors[event.anchor]
            self.count += size
            self.expanded += size
            if self.expanded > _MAX_ALIASED:
                raise Fault(f"aliases expand too large (over {_MAX_ALIASED} nodes)", path, line)
            return value, tree
        start = self.count
        if isinstance(event, yaml.ScalarEvent):
            value, tree = self.scalar(event, path), None
        elif depth > MAX_DEPTH:
            raise Fault(f"nested deeper than {MAX_DEPTH} levels", path, line)
        elif isinstance(event, yaml.SequenceStartEvent) and event.tag in (None, "!", _Y + "seq"):
            items: list[object] = []
            lines: list[tuple[int, LineTree]] = []
            get = self.loader.get_event
            while not isinstance(item := get(), yaml.SequenceEndEvent):
                v, t = self.node(item, (*path, len(items)), depth + 1)
                items.append(v)
                lines.append((item.start_mark.line + 1, t))
            value, tree = items, lines
        elif isinstance(event, yaml.MappingStartEvent) and event.tag in (None, "!", _Y + "map"):
            value, tree = self.mapping(path, depth)
        else:
            raise Fault(f"unsupported YAML tag {event.tag}", path, line)
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, tree, self.count - start)
        return value, tree

    def mapping(self, path: KeyPath, depth: int) -> tuple[dict[str, object], LineTree]:
        value: dict[str, object] = {}
        tree: dict[str, tuple[int, LineTree]] = {}
        get = self.loader.get_event
        while not isinstance(kev := get(), yaml.MappingEndEvent):
            kline = kev.start_mark.line + 1
            if not isinstance(kev, yaml.ScalarEvent | yaml.AliasEvent):
                raise Fault("mapping keys must be strings", path, kline)
            k = self.node(kev, path, depth + 1)[0]
            if not isinstance(k, str):
                raise Fault(f"key {k!r} is a {kind_of(k)}, not a string: quote it", path, kline)
            if k in value:
                raise Fault(f"duplicate key {k!r}", (*path, k), kline)
            v, t = self.node(get(), (*path, k), depth + 1)
            value[k] = v
            tree[k] = (kline, t)
        return value, tree

    def document(self) -> tuple[object, LineTree]:
        get = self.loader.get_event
        get()  # stream start
        if isinstance(event := get(), yaml.StreamEndEvent):
            return None, None
        result = self.node(get(), (), 0)  # after the document start
        get()  # document end
        if not isinstance(event := get(), yaml.StreamEndEvent):
            raise Fault("a plant file holds one YAML document", (), event.start_mark.line + 1)
        return result


def load_yaml(text: str) -> tuple[object, LineTree]:
    loader = _YAML_LOADER(text)
    try:
        return _YamlBuilder(loader).document()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "syntax error"
        raise Fault(f"YAML: {what}", (), mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise Fault(f"YAML: {exc}") from None
    finally:
        loader.dispose()


class _DuplicateKey(Exception):
    pass


def _pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _DuplicateKey
    return out


def load_json(text: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_pairs)
    except json.JSONDecodeError as exc:
        raise Fault(f"JSON: {exc.msg} (column {exc.colno})", (), exc.lineno) from None
    except _DuplicateKey:
        json_lines(text)  # raises the precise fault
        raise Fault("JSON: duplicate key") from None
    except ValueError:  # int() refuses more than sys.get_int_max_str_digits() digits
        digits = sys.get_int_max_str_digits()
        raise Fault(f"JSON: a number has more than {digits} digits") from None


_WS = re.compile(r"[ \t\n\r]*")
_ATOM = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null|NaN|-?Infinity")


def json_lines(text: str) -> LineTree:
    """The line tree of a JSON document that ``json.loads`` accepted (only on errors)."""
    newlines = [m.start() for m in re.finditer("\n", text)]

    def line(pos: int) -> int:
        return bisect.bisect_left(newlines, pos) + 1

    def value(i: int, path: KeyPath) -> tuple[LineTree, int]:
        i = _WS.match(text, i).end()  # type: ignore[union-attr]
        c = text[i]
        if c == "{":
            obj: dict[str, tuple[int, LineTree]] = {}
            i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
            while text[i] != "}":
                kpos = _WS.match(text, i).end()  # type: ignore[union-attr]
                key, i = scanstring(text, kpos + 1)
                if key in obj:
                    raise Fault(f"duplicate key {key!r}", (*path, key), line(kpos))
                i = _WS.match(text, i).end() + 1  # type: ignore[union-attr]  # the ':'
                sub, i = value(i, (*path, key))
                obj[key] = (line(kpos), sub)
                i = _WS.match(text, i).end()  # type: ignore[union-attr]
                i += text[i] == ","
            return obj, i + 1
        if c == "[":
            arr: list[tuple[int, LineTree]] = []
            i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
            while text[i] != "]":
                start = _WS.match(text, i).end()  # type: ignore[union-attr]
                sub, i = value(start, (*path, len(arr)))
                arr.append((line(start), sub))
                i = _WS.match(text, i).end()  # type: ignore[union-attr]
                i += text[i] == ","
            return arr, i + 1
        if c == '"':
            return None, scanstring(text, i + 1)[1]
        return None, _ATOM.match(text, i).end()  # type: ignore[union-attr]

    return value(0, ())[0]


def line_at(tree: LineTree, path: KeyPath) -> int | None:
    """The line of the deepest part of ``path`` found in ``tree`` (1 for the root)."""
    line: int | None = 1
    for step in path:
        if isinstance(tree, dict) and isinstance(step, str) and step in tree:
            line, tree = tree[step]
        elif isinstance(tree, list) and isinstance(step, int) and 0 <= step < len(tree):
            line, tree = tree[step]
        else:
            break
    return line


def format_path(path: KeyPath) -> str:
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _PLAIN_KEY.match(step):
            out += f".{step}" if out else step
        else:
            out += f"[{step!r}]"
    return out or "<root>"


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def kind_of(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    return "mapping" if isinstance(v, dict) else type(v).__name__
