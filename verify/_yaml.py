"""Safe YAML loading that keeps line numbers, reads floats as YAML 1.2 and rejects duplicate keys."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from verify.errors import CaseError, Location

__all__ = ["MAX_DEPTH", "Y", "load_documents", "looks_like_case"]

# YAML 1.1 wants a dot in floats, so PyYAML reads `1e-6` as a string; YAML 1.2 does not.
_FLOAT_12 = re.compile(
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


MAX_DEPTH = 64  # nested maps and lists; a case needs far fewer, and PyYAML's composer recurses per level


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats and a nesting limit; object-building tags stay unsupported."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self._depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"the YAML nests deeper than {MAX_DEPTH} levels",
                                              self.peek_event().start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


# YAML 1.2 core schema: only true/false are booleans (not yes/no/on/off), integers are decimal,
# 0o octal or 0x hex (010 is ten, not eight), and floats need no dot.
_REPLACED = {"tag:yaml.org,2002:float", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int"}
_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag not in _REPLACED]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
                              list("-+0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789.in"))


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)

@dataclass(frozen=True)
class Y:
    """A YAML value with its location: dict[str, Y], list[Y] or a scalar (str, int, float, bool, None)."""

    value: Any
    where: Location
    quoted: bool = False
    block: bool = False
    keys: Mapping[str, Location] | None = None  # for a map: where each key is written
    # for a scalar YAML folded from several lines: (offset in the value, line, column) of each line's text
    segments: tuple[tuple[int, int, int], ...] = ()

    def key_where(self, key: str) -> Location:
        """Where `key` of this map is written (the map itself when unknown)."""
        return (self.keys or {}).get(key, self.where)

    def plain(self) -> Any:
        """The value without locations, recursively."""
        if isinstance(self.value, dict):
            return {key: item.plain() for key, item in self.value.items()}
        if isinstance(self.value, list):
            return [item.plain() for item in self.value]
        return self.value


def node_location(file: str, node: yaml.Node) -> Location:
    """Where `node` starts, as a 1-based Location."""
    mark = node.start_mark
    return Location(file, mark.line + 1, mark.column + 1)


def _yaml_hint(problem: str, line_text: str) -> str:
    if "mapping values are not allowed" in problem:
        return 'a ": " inside an expression or text ends the YAML key; quote the whole value: expr: "..."'
    if "found character '\\t'" in problem:
        return "YAML does not allow tabs for indentation; use spaces"
    if "flow" in problem or "expected ',' or ']'" in problem or "expected ',' or '}'" in problem:
        return (
            "an expression with [, ], {, } or , inside a [...] list must be quoted, "
            'e.g. ["v[0]/norm(v)", "v[1]/norm(v)"]'
        )
    if "found undefined alias" in problem or "found character '*'" in problem:
        return "an expression that starts with *, &, !, |, >, %, @ or a quote must be quoted"
    if "nests deeper than" in problem:
        return f"case files nest a few levels; at most {MAX_DEPTH} nested lists and maps are read"
    if "could not determine a constructor" in problem:
        return "YAML tags (!!python/..., !tag) are not allowed in case files; remove the tag"
    if line_text.lstrip().startswith(("*", "&", "!", "%", "@")):
        return "a value that starts with *, &, !, %, or @ must be quoted"
    return "check the indentation and quote expressions that contain YAML characters"


_MAX_NODES = 20_000  # aliases can make a small file expand exponentially ("billion laughs")
_PLAIN_TAGS: dict[type, str] = {yaml.MappingNode: "tag:yaml.org,2002:map", yaml.SequenceNode: "tag:yaml.org,2002:seq"}


def _block_start(file: str, node: yaml.Node, lines: list[str]) -> Location:
    # A | or > scalar starts at its indicator; its text starts on the next non-empty line.
    for number in range(node.start_mark.line + 1, min(node.end_mark.line + 1, len(lines))):
        line = lines[number]
        if line.strip():
            return Location(file, number + 1, len(line) - len(line.lstrip()) + 1)
    return node_location(file, node)


def _to_y(file: str, node: yaml.Node, loader: _Loader, budget: list[int], lines: list[str],
          active: tuple[int, ...] = ()) -> Y:
    budget[0] -= 1
    where = node_location(file, node)
    if id(node) in active:
        raise CaseError(where, "a recursive YAML alias: this value contains itself",
                        "remove the alias (*name) that points back into its own anchor (&name)")
    if len(active) >= MAX_DEPTH:
        raise CaseError(where, f"the document nests deeper than {MAX_DEPTH} levels once its aliases are expanded",
                        "case files nest a few levels; remove the aliases (*name) that repeat nested parts")
    active = (*active, id(node))
    plain_tag = _PLAIN_TAGS.get(type(node))
    if plain_tag is not None and node.tag != plain_tag:
        raise CaseError(where, f"YAML tag {node.tag!r} is not allowed",
                        "YAML tags (!!python/..., !tag) are not allowed in case files; remove the tag")
    if budget[0] < 0:
        raise CaseError(where, f"the document expands to more than {_MAX_NODES} YAML values",
                        "case files are small; remove aliases (*name) that repeat large parts")
    if isinstance(node, yaml.MappingNode):
        items: dict[str, Y] = {}
        first_line: dict[str, int] = {}
        keys: dict[str, Location] = {}
        for key_node, value_node in node.value:
            key_where = node_location(file, key_node)
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                raise CaseError(key_where, f"a key must be a plain name, found {key_node.value!r}",
                                "write keys as names, e.g. `name: my-case`")
            key = key_node.value
            if key in items:
                raise CaseError(key_where, f"duplicate key {key!r} (first given at line {first_line[key]})",
                                "give each key once; YAML would silently keep only the last")
            first_line[key] = key_where.line
            keys[key] = key_where
            items[key] = _to_y(file, value_node, loader, budget, lines, active)
        return Y(items, where, keys=keys)
    if isinstance(node, yaml.SequenceNode):
        return Y([_to_y(file, item, loader, budget, lines, active) for item in node.value], where)
    try:
        value = loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise CaseError(where, f"invalid YAML: {exc.problem}", _yaml_hint(exc.problem or "", "")) from None
    style = getattr(node, "style", None)
    literal = style == "|"
    segments = _folded_segments(node, lines) if not literal and node.end_mark.line > node.start_mark.line else ()
    return Y(value, _block_start(file, node, lines) if style in ("|", ">") else where, quoted=style in ("'", '"'),
             block=literal, segments=segments)


def _folded_segments(node: yaml.Node, lines: list[str]) -> tuple[tuple[int, int, int], ...]:
    """Where each source line of a folded scalar lands in its value: YAML joins the lines with one space."""
    first = node.start_mark.line
    style = getattr(node, "style", None)
    if style == ">":
        first += 1  # the text starts below the indicator
        start_col = None
    else:
        start_col = node.start_mark.column + (1 if style in ("'", '"') else 0)
    segments, offset = [], 0
    for number in range(first, min(node.end_mark.line + 1, len(lines))):
        line = lines[number]
        col = start_col if number == first and start_col is not None else len(line) - len(line.lstrip())
        text = line[col:].rstrip()
        if style in ("'", '"') and number == node.end_mark.line:
            text = text[: max(0, node.end_mark.column - 1 - col)]
        if not text:
            continue
        segments.append((offset, number + 1, col + 1))
        offset += len(text) + 1
    return tuple(segments)


def _is_empty(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null" and node.value in ("", "~")


def load_documents(file: str, text: str) -> list[Y | CaseError]:
    """Each YAML document of `text` as a located tree, or the CaseError that document raises.

    Documents before a YAML syntax error are kept; the error itself becomes the last entry,
    since YAML cannot resume after it. Empty documents are skipped.
    """
    lines = text.splitlines()
    loader = _Loader("")
    documents: list[Y | CaseError] = []
    stream = yaml.compose_all(text, Loader=_Loader)
    while True:
        try:
            node = next(stream)
        except StopIteration:
            break
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
            problem = exc.problem or str(exc)
            line_text = lines[mark.line] if mark and mark.line < len(lines) else ""
            documents.append(CaseError(where, f"invalid YAML: {problem}", _yaml_hint(problem, line_text)))
            break
        except yaml.YAMLError as exc:  # reader errors (bad characters) carry no mark
            documents.append(CaseError(Location(file, 1), f"invalid YAML: {exc}", "save the file as UTF-8 text"))
            break
        except RecursionError:  # a limit like any other; MAX_DEPTH should have caught it first
            documents.append(CaseError(Location(file, 1), "the YAML nests too deeply to be read",
                                       f"case files nest a few levels; at most {MAX_DEPTH} are read"))
            break
        if node is None or _is_empty(node):
            continue
        try:
            documents.append(_to_y(file, node, loader, [_MAX_NODES], lines))
        except CaseError as exc:
            documents.append(exc)
        except RecursionError:
            documents.append(CaseError(node_location(file, node), "the document nests too deeply to be read",
                                       f"case files nest a few levels; at most {MAX_DEPTH} are read"))
    return documents


_TOP_KEY = {key: re.compile(rf"^{key}\s*:", re.MULTILINE) for key in ("variables", "functions")}
_COMPOSE_LIMIT = 1 << 20  # characters: larger files are judged by their text alone


def _case_like(node: yaml.Node | None) -> bool:
    if not isinstance(node, yaml.MappingNode):
        return False
    keys = {key.value for key, _ in node.value if isinstance(key, yaml.ScalarNode)}
    return {"variables", "functions"} <= keys


def looks_like_case(text: str) -> bool:
    """Whether `text` holds a case: a YAML document that is a map with the keys `variables` and `functions`.

    Cheap and inert: a text with neither word is not a case; otherwise the YAML is composed into
    nodes only (no tag runs, no alias expands, nesting limited). A file over 1 MiB must have both
    keys at the start of a line; one whose YAML does not parse, one of them (a broken case file
    is reported, not skipped). Directory discovery (the CLI and the pytest plugin) uses this;
    files named explicitly are always loaded.
    """
    if "variables" not in text and "functions" not in text:
        return False
    by_text = [pattern.search(text) is not None for pattern in _TOP_KEY.values()]
    if len(text) > _COMPOSE_LIMIT:
        return all(by_text)
    try:
        return any(_case_like(node) for node in yaml.compose_all(text, Loader=_Loader))
    except (yaml.YAMLError, RecursionError, ValueError):  # broken YAML: load_file will report the error
        return any(by_text)
