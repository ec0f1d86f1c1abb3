"""Case files -> frozen Case objects: structure validated, line numbers kept, unknown keys rejected."""

from __future__ import annotations

import ast
import difflib
import hashlib
import keyword
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Union

from verify._yaml import Y, load_documents, looks_like_case
from verify.errors import CaseError, Location
from verify.source import Source
from verify.vocabulary import CHECK_KINDS, DEVICES, DTYPES, FUNCTION_KEYS, MODES, PROBE_KINDS, RESERVED

__all__ = [
    "CHECK_KINDS",
    "DEFAULT_TOLERANCES",
    "DEVICES",
    "DTYPES",
    "MODES",
    "Case",
    "CheckSpec",
    "Discovered",
    "FunctionSpec",
    "LoadFailure",
    "PointsSpec",
    "Tolerance",
    "VariableSpec",
    "discover",
    "find_cases",
    "is_case_file",
    "load_file",
    "load_text",
]

CHECK_OPTIONS = ("expect", "at", "xfail", "tolerance", "probes")
TOP_KEYS = ("name", "description", "tags", "constants", "variables", "functions", "checks", "points", "seed",
            "dtypes", "devices", "modes", "tolerance", "xfail")
MAX_RANDOM_POINTS = 1_000_000
MAX_DIMENSIONS = 4
MAX_ENTRIES = 1_048_576  # entries of one shaped variable (probe and value checks beyond DENSE_ENTRIES)
DENSE_ENTRIES = 10_000  # entries up to which a variable is expanded into symbols for dense checks
MAX_PROBES = 64
MAX_POINT_VALUES = 1 << 25  # points x entries of the sampled variables: 256 MiB of float64

_RESERVED = RESERVED

# Nested list of expression sources (or one source): how `expr` and `expect` are written.
Nested = Union[Source, list["Nested"]]  # noqa: UP007 - a runtime alias needs Union on 3.10


@dataclass(frozen=True)
class Tolerance:
    """Agreement means abs(a - r) <= atol + rtol * abs(r), elementwise."""

    rtol: float
    atol: float


# float64: a 1e-6 relative error must fail; float32: correctly written code must pass.
DEFAULT_TOLERANCES: Mapping[str, Tolerance] = {
    "float64": Tolerance(rtol=1e-7, atol=1e-10),
    "float32": Tolerance(rtol=1e-4, atol=1e-5),
}


@dataclass(frozen=True)
class VariableSpec:
    """A variable or argument: its name, sampling interval and shape (() for a scalar)."""

    name: str
    low: float = -1.0
    high: float = 1.0
    shape: tuple[int, ...] = ()
    where: Location = field(default=Location(""), compare=False)
    has_domain: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class FunctionSpec:
    """A declared function: `args` is None when its arguments are the case variables."""

    name: str
    expr: Nested
    args: tuple[VariableSpec, ...] | None
    impl: str | None
    where: Location
    impl_where: Location | None = None
    let: tuple[tuple[str, Source], ...] = ()  # local bindings, in order: each may use the ones before it


@dataclass(frozen=True)
class Constant:
    """A named exact constant of the case (`constants: {beta: 2}`), usable in every expression."""

    name: str
    value: int | float
    where: Location


@dataclass(frozen=True)
class CheckSpec:
    """One item of `checks`."""

    kind: str
    target: str
    where: Location
    expect: Nested | None = None
    xfail: str | None = None
    tolerance: Mapping[str, Tolerance] | None = None
    at: tuple[Mapping[str, tuple[Any, Location]], ...] = ()  # extension: judge `expect` at these points only
    probes: int = 4  # probe checks (jvp, vjp, hvp, chain_rule with probes): random directions per point
    probed: bool = False  # `probes` was given (chain_rule then compares directional derivatives)


@dataclass(frozen=True)
class PointsSpec:
    """Where to evaluate: `random` uniform draws plus the listed `at` points."""

    random: int = 64
    at: tuple[Mapping[str, tuple[Any, Location]], ...] = ()
    where: Location | None = None


@dataclass(frozen=True)
class Case:
    """One validated case; expressions are still text (see verify.model for their meaning)."""

    file: str
    name: str
    where: Location
    variables: tuple[VariableSpec, ...]
    functions: tuple[FunctionSpec, ...]
    checks: tuple[CheckSpec, ...] | None
    description: str = ""
    tags: tuple[str, ...] = ()
    points: PointsSpec = PointsSpec()
    seed: int = 0
    dtypes: tuple[str, ...] = ("float64",)
    devices: tuple[str, ...] = ("auto",)
    modes: tuple[str, ...] = MODES
    tolerance: Mapping[str, Tolerance] = field(default_factory=dict)
    xfail: str | None = None
    digest: str = ""  # sha256 of the file's text: the key of cached derivations
    constants: tuple[Constant, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"

    def tolerance_for(self, dtype: str, check: CheckSpec | None = None) -> Tolerance:
        """The tolerance in force for `dtype`: the check's, else the case's, else the default."""
        if check is not None and check.tolerance and dtype in check.tolerance:
            return check.tolerance[dtype]
        return self.tolerance.get(dtype, DEFAULT_TOLERANCES[dtype])


@dataclass(frozen=True)
class LoadFailure:
    """A file or document that could not be loaded; it becomes one `load` error record."""

    file: str
    name: str
    error: CaseError
    tags: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


# -- small typed readers -----------------------------------------------------------------------

def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {dict: "a map", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number"}.get(type(value), type(value).__name__)


def _map(y: Y, what: str, example: str) -> dict[str, Y]:
    if not isinstance(y.value, dict):
        raise CaseError(y.where, f"{what} must be a map, found {_type_name(y.value)}", f"e.g. {example}")
    return y.value


def _list(y: Y, what: str, example: str) -> list[Y]:
    if not isinstance(y.value, list):
        raise CaseError(y.where, f"{what} must be a list, found {_type_name(y.value)}", f"e.g. {example}")
    return y.value


def _string(y: Y, what: str, example: str) -> str:
    if not isinstance(y.value, str):
        raise CaseError(y.where, f"{what} must be a string, found {_type_name(y.value)} {y.plain()!r}",
                        f"e.g. {example}")
    return y.value


def _number(y: Y, what: str) -> float:
    if isinstance(y.value, bool) or not isinstance(y.value, (int, float)) or not math.isfinite(y.value):
        raise CaseError(y.where, f"{what} must be a finite number, found {_type_name(y.value)} {y.plain()!r}",
                        "write a number such as -1, 0.5 or 1e-3")
    return float(y.value)


def _integer(y: Y, what: str, low: int, high: int) -> int:
    if isinstance(y.value, bool) or not isinstance(y.value, int) or not low <= y.value <= high:
        raise CaseError(y.where, f"{what} must be an integer from {low} to {high}, found {y.value!r}",
                        f"e.g. {what.split()[-1]}: {max(low, min(high, 64))}")
    return int(y.value)


def _known_keys(y: Y, keys: Mapping[str, Y], valid: tuple[str, ...], what: str) -> None:
    for key in keys:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            guess = f"did you mean {close[0]!r}? " if close else ""
            raise CaseError(y.key_where(key), f"unknown key {key!r} in {what}", f"{guess}valid keys: {', '.join(valid)}")


def _choices(y: Y, what: str, valid: tuple[str, ...]) -> tuple[str, ...]:
    items = [y] if isinstance(y.value, str) else _list(y, what, f"{what}: [{', '.join(valid)}]")
    out = []
    for item in items:
        if item.value not in valid:
            raise CaseError(item.where, f"{what} may hold {', '.join(valid)}; found {item.value!r}",
                            f"e.g. {what}: [{valid[0]}]")
        if item.value not in out:
            out.append(item.value)
    if not out:
        raise CaseError(y.where, f"{what} is empty", f"give at least one of {', '.join(valid)}")
    return tuple(out)


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def _identifier(name: Any, where: Location, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or keyword.iskeyword(name):
        raise CaseError(where, f"{what} name {name!r} is not a valid name",
                        "names start with a letter and hold letters, digits and _ (e.g. x, theta_1)")
    if name in _RESERVED:
        raise CaseError(where, f"{what} name {name!r} is taken by the expression language",
                        f"choose another name; reserved: {', '.join(sorted(_RESERVED))}")
    return name


# -- parts of a case ----------------------------------------------------------------------------

def _variables(y: Y, what: str, inherit: Mapping[str, VariableSpec] | None = None) -> tuple[VariableSpec, ...]:
    example = f"{what}: [x, y]  or  {what}: {{x: {{low: -2, high: 2}}, v: {{shape: [3]}}}}"
    if isinstance(y.value, list):
        entries = [(item.value, item.where, None) for item in y.value]
    elif isinstance(y.value, dict):
        entries = [(key, y.key_where(key), spec) for key, spec in y.value.items()]
    else:
        raise CaseError(y.where, f"{what} must be a list of names or a map name -> spec, found "
                        f"{_type_name(y.value)}", f"e.g. {example}")
    if not entries:
        raise CaseError(y.where, f"{what} is empty", f"e.g. {example}")
    out: list[VariableSpec] = []
    for name, at, spec in entries:
        _identifier(name, at, "variable" if what == "variables" else "argument")
        if any(v.name == name for v in out):
            raise CaseError(at, f"{name!r} is declared twice in {what}", "give each name once")
        base = (inherit or {}).get(name) or VariableSpec(name, where=at)
        if spec is None or spec.value is None:
            out.append(VariableSpec(name, base.low, base.high, base.shape, at, base.has_domain))
            continue
        keys = _map(spec, f"the spec of {name!r}", "{low: -1, high: 1, shape: [3]}")
        _known_keys(spec, keys, ("low", "high", "shape"), f"the spec of {name!r}")
        low = _number(keys["low"], "low") if "low" in keys else base.low
        high = _number(keys["high"], "high") if "high" in keys else base.high
        if not low < high:
            raise CaseError(spec.where, f"{name!r}: low ({low:g}) must be below high ({high:g})",
                            "e.g. {low: -1, high: 1}")
        shape = base.shape
        if "shape" in keys:
            shape_y = keys["shape"]
            dims = _list(shape_y, "shape", "shape: [3] or shape: [2, 2]")
            if len(dims) > MAX_DIMENSIONS:
                raise CaseError(shape_y.where, f"shape has {len(dims)} dimensions (at most {MAX_DIMENSIONS})",
                                "e.g. shape: [3] or shape: [2, 2]")
            shape = tuple(_integer(d, "each dimension of shape", 1, MAX_ENTRIES) for d in dims)
            if math.prod(shape) > MAX_ENTRIES:
                raise CaseError(shape_y.where, f"{name!r} has {math.prod(shape)} entries (at most {MAX_ENTRIES:,})",
                                "use smaller shapes; above 10,000 entries only value and probe checks "
                                "(jvp, vjp, hvp) apply")
        has_domain = base.has_domain or "low" in keys or "high" in keys or "shape" in keys
        out.append(VariableSpec(name, low, high, shape, at, has_domain))
    return tuple(out)


def _nested_source(y: Y, what: str, example: str, depth: int = 0) -> Nested:
    if isinstance(y.value, list):
        if not y.value:
            raise CaseError(y.where, f"{what} is an empty list", f"e.g. {example}")
        if depth >= MAX_DIMENSIONS:
            raise CaseError(y.where, f"{what} nests deeper than {MAX_DIMENSIONS} lists", f"e.g. {example}")
        return [_nested_source(item, what, example, depth + 1) for item in y.value]
    if isinstance(y.value, bool) or y.value is None or isinstance(y.value, dict):
        raise CaseError(y.where, f"{what} must be an expression string or a list of them, found "
                        f"{_type_name(y.value)}", f"e.g. {example}; quote expressions that contain YAML characters")
    if isinstance(y.value, (int, float)):
        return Source(repr(y.value), y.where)
    return Source(y.value, y.where, y.quoted and not y.block, y.block, y.segments)


def _constants(y: Y, variables: tuple[VariableSpec, ...]) -> tuple[Constant, ...]:
    example = "constants: {beta: 2, eps: 1e-5}"
    items = _map(y, "constants", example)
    out = []
    for name, value in items.items():
        where = y.key_where(name)
        _identifier(name, where, "constant")
        if any(v.name == name for v in variables):
            raise CaseError(where, f"constant {name!r} has the name of a variable", "rename one of them")
        number = value.value
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            raise CaseError(value.where, f"constant {name!r} must be a finite number, found {number!r}",
                            f"e.g. {example}")
        out.append(Constant(name, number, where))
    return tuple(out)


def _let(y: Y, function: str, taken: Mapping[str, str]) -> tuple[tuple[str, Source], ...]:
    """A function's `let` bindings: names checked against variables, arguments, constants and functions."""
    example = "let: {m: mean(x), c: x - m}"
    items = _map(y, f"let of {function!r}", example)
    out: list[tuple[str, Source]] = []
    for name, value in items.items():
        where = y.key_where(name)
        _identifier(name, where, "let binding")
        if name in taken:
            raise CaseError(where, f"let binding {name!r} of {function!r} shadows the {taken[name]} {name!r}",
                            "give the binding a name of its own (bindings are local names for subexpressions)")
        if any(bound == name for bound, _ in out):
            raise CaseError(where, f"let binding {name!r} is given twice", "give each binding once")
        source = _nested_source(value, f"let binding {name!r}", example)
        if not isinstance(source, Source):
            raise CaseError(value.where, f"let binding {name!r} must be one expression (a string)",
                            "write a vector as one expression, e.g. c: x - m")
        out.append((name, source))
    return tuple(out)


def _functions(y: Y, variables: tuple[VariableSpec, ...], constants: tuple[Constant, ...] = ()) -> tuple[FunctionSpec, ...]:
    example = "functions: {f: x**2 + y, G: {args: [u, v], expr: [u + v, u*v]}}"
    items = _map(y, "functions", example)
    if not items:
        raise CaseError(y.where, "functions is empty", f"e.g. {example}")
    by_name = {v.name: v for v in variables}
    for constant in constants:
        if constant.name in items:
            raise CaseError(y.key_where(constant.name), f"function {constant.name!r} has the name of a constant",
                            "rename one of them")
    out: list[FunctionSpec] = []
    for name, definition in items.items():
        key_where = y.key_where(name)
        _identifier(name, key_where, "function")
        if name in by_name:
            raise CaseError(key_where, f"function {name!r} has the name of a variable", "rename one of them")
        if isinstance(definition.value, dict):
            keys = definition.value
            _known_keys(definition, keys, FUNCTION_KEYS, f"function {name!r}")
            if "expr" not in keys:
                raise CaseError(definition.where, f"function {name!r} has no expr",
                                "add expr: the exact definition (impl, when given, is checked against it)")
            args = _variables(keys["args"], f"args of {name!r}", by_name) if "args" in keys else None
            impl = None
            impl_where = None
            if "impl" in keys:
                impl = _string(keys["impl"], "impl", "impl: mypkg.ops:fused_softplus")
                impl_where = keys["impl"].where
                if not re.match(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*\Z", impl):
                    raise CaseError(impl_where, f"impl {impl!r} is not of the form module:callable",
                                    "e.g. impl: mypkg.ops:fused_softplus")
            expr = _nested_source(keys["expr"], f"expr of {name!r}", "expr: x**2 + y")
            let: tuple[tuple[str, Source], ...] = ()
            if "let" in keys:
                taken = {**{v.name: "variable" for v in variables}, **{a.name: "argument" for a in args or ()},
                         **{c.name: "constant" for c in constants}, **{f: "function" for f in items}}
                let = _let(keys["let"], name, taken)
            out.append(FunctionSpec(name, expr, args, impl, definition.where, impl_where, let))
        else:
            expr = _nested_source(definition, f"function {name!r}", "f: x**2 + y  or  F: [x + y, x*y]")
            out.append(FunctionSpec(name, expr, None, None, definition.where))
    return tuple(out)


def _tolerance(y: Y) -> dict[str, Tolerance]:
    example = "tolerance: {rtol: 1e-6, atol: 1e-9}  or  tolerance: {float32: {rtol: 1e-3}}"
    keys = _map(y, "tolerance", example)
    if keys and set(keys) <= set(DTYPES):
        return {dtype: _one_tolerance(spec, DEFAULT_TOLERANCES[dtype]) for dtype, spec in keys.items()}
    _known_keys(y, keys, ("rtol", "atol", *DTYPES), "tolerance")
    if set(keys) & set(DTYPES):
        raise CaseError(y.where, "tolerance mixes rtol/atol with per-dtype entries", f"e.g. {example}")
    return {dtype: _one_tolerance(y, DEFAULT_TOLERANCES[dtype]) for dtype in DTYPES}


def _one_tolerance(y: Y, default: Tolerance) -> Tolerance:
    keys = _map(y, "a tolerance", "{rtol: 1e-6, atol: 1e-9}")
    _known_keys(y, keys, ("rtol", "atol"), "tolerance")
    values = {}
    for key in ("rtol", "atol"):
        if key in keys:
            values[key] = _number(keys[key], key)
            if values[key] < 0:
                raise CaseError(keys[key].where, f"{key} must not be negative", f"e.g. {key}: 1e-6")
    return Tolerance(values.get("rtol", default.rtol), values.get("atol", default.atol))


def _checks(y: Y, function_names: list[str]) -> tuple[CheckSpec, ...]:
    example = "checks: [{jacobian: H, expect: [[2*x, 1]]}, {chain_rule: H}]"
    out = []
    for item in _list(y, "checks", example):
        if isinstance(item.value, str) and item.value in function_names:
            raise CaseError(item.where, f"a check must name its kind, found just {item.value!r}",
                            f"e.g. - jacobian: {item.value}")
        keys = _map(item, "each check", "- jacobian: f")
        kinds = [k for k in keys if k in CHECK_KINDS]
        _known_keys(item, keys, (*CHECK_KINDS, *CHECK_OPTIONS), "a check")
        if len(kinds) != 1:
            found = ", ".join(kinds) or "none"
            raise CaseError(item.where, f"a check needs exactly one kind key, found {found}",
                            f"kinds: {', '.join(CHECK_KINDS)}; e.g. - jacobian: f")
        kind = kinds[0]
        target_y = keys[kind]
        target = _string(target_y, kind, f"{kind}: f")
        if target not in function_names:
            close = difflib.get_close_matches(target, function_names, n=1)
            guess = f"did you mean {close[0]!r}? " if close else ""
            raise CaseError(target_y.where, f"{kind}: {target!r} is not a declared function",
                            f"{guess}declared: {', '.join(function_names)}")
        expect = None
        if "expect" in keys and kind in PROBE_KINDS:
            raise CaseError(keys["expect"].where, f"expect does not apply to {kind} (a probe check has no formula "
                            "to claim)", f"check the derivative with - jacobian: {target} and expect, or drop expect")
        if "expect" in keys:
            if kind in ("value",):
                expect = _nested_source(keys["expect"], "expect", "expect: x**2 + 1")
            else:
                expect = _nested_source(keys["expect"], "expect", "expect: [[2*x, 1], [y, x]]")
        xfail = _string(keys["xfail"], "xfail", "xfail: known bug (issue 12)") if "xfail" in keys else None
        tolerance = _tolerance(keys["tolerance"]) if "tolerance" in keys else None
        at: tuple[Mapping[str, tuple[Any, Location]], ...] = ()
        if "at" in keys:
            if expect is None:
                raise CaseError(keys["at"].where, "`at` on a check needs an `expect` to judge there",
                                "e.g. - value: l2\n    at: {v: [3, -4]}\n    expect: 5")
            raw = keys["at"]
            points = [raw] if isinstance(raw.value, dict) else _list(raw, "at", "at: {v: [3, -4]}")
            at = tuple({name: (value.plain(), value.where) for name, value in _map(p, "a point", "{x: 1}").items()}
                       for p in points)
            if not at:
                raise CaseError(raw.where, "`at` is empty", "e.g. at: {v: [3, -4]}")
        probes, probed = 4, False
        if "probes" in keys:
            if kind not in (*PROBE_KINDS, "chain_rule"):
                raise CaseError(keys["probes"].where, f"probes applies to {', '.join(PROBE_KINDS)} and chain_rule, "
                                f"not {kind}", "e.g. - jvp: f\n    probes: 8")
            probes, probed = _integer(keys["probes"], "probes", 1, MAX_PROBES), True
        out.append(CheckSpec(kind, target, item.where, expect, xfail, tolerance, at, probes, probed))
    if not out:
        raise CaseError(y.where, "checks is empty", f"leave it out to check every function, or e.g. {example}")
    return tuple(out)


def _points(y: Y, variables: tuple[VariableSpec, ...]) -> PointsSpec:
    example = "points: {random: 256, at: [{x: 1, y: 2}]}"
    keys = _map(y, "points", example)
    _known_keys(y, keys, ("random", "at"), "points")
    random = _integer(keys["random"], "points random", 0, MAX_RANDOM_POINTS) if "random" in keys else 64
    at: list[dict[str, tuple[Any, Location]]] = []
    if "at" in keys:
        for point_y in _list(keys["at"], "points at", "at: [{x: 1, y: 2}]"):
            point = _map(point_y, "each point of at", "{x: 1, y: 2}")
            for name in point:
                if all(v.name != name for v in variables):
                    raise CaseError(point[name].where, f"point gives {name!r}, which is not a case variable",
                                    f"variables: {', '.join(v.name for v in variables)}")
            missing = [v.name for v in variables if v.name not in point]
            if missing:
                raise CaseError(point_y.where, f"point {point_y.plain()} gives no value for {', '.join(missing)}",
                                "give every case variable a value")
            for variable in variables:
                _point_value(point[variable.name], variable)
            at.append({name: (value.plain(), value.where) for name, value in point.items()})
    if random == 0 and not at:
        raise CaseError(y.where, "points selects no point (random: 0 and no at)", f"e.g. {example}")
    return PointsSpec(random, tuple(at), y.where)


def _point_value(y: Y, variable: VariableSpec) -> None:
    """Rejects a point value that is not a finite number (nested) list of the variable's shape."""
    def shape_of(value: Any) -> tuple[int, ...] | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return () if math.isfinite(value) else None
        if isinstance(value, list) and value:
            inner = {shape_of(v) for v in value}
            if len(inner) == 1 and None not in inner:
                return (len(value), *inner.pop())  # type: ignore[misc]
        return None

    shape = shape_of(y.plain())
    if shape != variable.shape:
        wanted = "a number" if not variable.shape else f"a nested list of shape {list(variable.shape)}"
        raise CaseError(y.where, f"point value {y.plain()!r} for {variable.name!r} is not {wanted}",
                        "e.g. {x: 1.5} for a scalar, {v: [3, -4]} for shape [2]")


def _case(file: str, document: Y, default_name: str) -> Case:
    keys = _map(document, "a case", "a map with variables, functions and checks")
    _known_keys(document, keys, TOP_KEYS, "the case")
    for required in ("variables", "functions"):
        if required not in keys:
            raise CaseError(document.where, f"the case has no {required}",
                            "a case needs variables and functions; see the README's case format")
    name = _string(keys["name"], "name", "name: my-case") if "name" in keys else default_name
    if not name.strip() or "::" in name:
        raise CaseError(keys["name"].where, f"invalid case name {name!r}", "use a short name without '::'")
    variables = _variables(keys["variables"], "variables")
    constants = _constants(keys["constants"], variables) if "constants" in keys else ()
    functions = _functions(keys["functions"], variables, constants)
    names = [f.name for f in functions]
    tags: tuple[str, ...] = ()
    if "tags" in keys:
        tag_items = [keys["tags"]] if isinstance(keys["tags"].value, str) else _list(keys["tags"], "tags", "tags: [seed]")
        tags = tuple(_string(t, "each tag", "tags: [seed, chain-rule]") for t in tag_items)
    case = Case(
        file=file,
        name=name,
        where=document.where,
        variables=variables,
        functions=functions,
        checks=_checks(keys["checks"], names) if "checks" in keys else None,
        description=_string(keys["description"], "description", "description: what it checks")
        if "description" in keys else "",
        tags=tags,
        points=_points(keys["points"], variables) if "points" in keys else PointsSpec(),
        seed=_integer(keys["seed"], "seed", 0, 2**63 - 1) if "seed" in keys else 0,
        dtypes=_choices(keys["dtypes"], "dtypes", DTYPES) if "dtypes" in keys else ("float64",),
        devices=_choices(keys["devices"], "devices", DEVICES) if "devices" in keys else ("auto",),
        modes=_choices(keys["modes"], "modes", MODES) if "modes" in keys else MODES,
        tolerance=_tolerance(keys["tolerance"]) if "tolerance" in keys else {},
        xfail=_string(keys["xfail"], "xfail", "xfail: known bug (issue 12)") if "xfail" in keys else None,
        constants=constants,
    )
    _check_point_budget(case, keys.get("points"), document)
    return case


def _check_point_budget(case: Case, points_y: Y | None, document: Y) -> None:
    """Points x entries of the case's variables must fit MAX_POINT_VALUES (the memory of the sample alone)."""
    entries = sum(math.prod(v.shape) for v in case.variables)
    count = case.points.random + len(case.points.at)
    if count * entries > MAX_POINT_VALUES:
        where = points_y.where if points_y is not None else document.where
        most = max(1, MAX_POINT_VALUES // max(1, entries))
        raise CaseError(where, f"{count:,} points of {entries:,} variable entries are {count * entries:,} values, "
                        f"over the limit of {MAX_POINT_VALUES:,}", f"use at most {most:,} points, e.g. points: "
                        f"{{random: {min(most, 4)}}}; large tensors need few points (probe checks)")


def load_file(path: str | Path, display: str | None = None) -> list[Case | LoadFailure]:
    """Loads every case of one YAML file; a document that fails becomes a LoadFailure, never an exception."""
    file = display or str(path)
    stem = Path(path).stem
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return [LoadFailure(file, stem, CaseError(Location(file), f"cannot read the file: {exc}",
                                                  "check the path and its permissions"))]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return [LoadFailure(file, stem, CaseError(Location(file, line, col),
                                                  f"cannot decode the file as UTF-8: byte {raw[exc.start]:#04x} here",
                                                  "save the file as UTF-8"))]
    return load_text(text, file, stem)


def load_text(text: str, display: str = "<string>", stem: str | None = None) -> list[Case | LoadFailure]:
    """Loads every case of YAML `text` as if read from a file named `display` (`stem` names unnamed cases).

    As `load_file`: a document that fails becomes a LoadFailure, never an exception.
    """
    file = display
    stem = stem if stem is not None else Path(display).stem
    try:
        documents = load_documents(file, text)
    except CaseError as exc:
        return [LoadFailure(file, stem, exc)]
    except RecursionError:  # a limit like any other, never a traceback
        return [LoadFailure(file, stem, CaseError(Location(file, 1), "the file nests too deeply to be read",
                                                  "case files nest a few levels"))]
    if not documents:
        return [LoadFailure(file, stem, CaseError(Location(file, 1), "the file holds no case",
                                                  "write a case: variables, functions, checks"))]
    several = len(documents) > 1
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    out: list[Case | LoadFailure] = []
    seen: dict[str, int] = {}
    for number, document in enumerate(documents, start=1):
        default_name = f"{stem}-{number}" if several else stem
        if isinstance(document, CaseError):
            out.append(LoadFailure(file, default_name, document))
            continue
        try:
            case = replace(_case(file, document, default_name), digest=digest)
            if case.name in seen:
                raise CaseError(document.where, f"case name {case.name!r} is used twice in this file "
                                f"(first at line {seen[case.name]})", "give each case of a file its own name")
            seen[case.name] = document.where.line
            out.append(case)
        except CaseError as exc:
            name_y = document.value.get("name") if isinstance(document.value, dict) else None
            name = name_y.value if isinstance(name_y, Y) and isinstance(name_y.value, str) else default_name
            out.append(LoadFailure(file, name, exc))
    return out


@dataclass
class Discovered:
    """What `find_cases` found: case files in order, paths that do not exist, YAML files that are not cases."""

    files: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def is_case_file(path: str | Path) -> bool:
    """Whether the YAML file at `path` looks like a case file (see `verify._yaml.looks_like_case`); reads, never runs."""
    try:
        text = Path(path).read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return False
    return looks_like_case(text)


def find_cases(paths: list[str]) -> Discovered:
    """The case files under `paths`: files named are taken as they are; folders are searched recursively
    for *.yaml and *.yml (sorted, hidden files and folders skipped), keeping the files that look like
    cases (`is_case_file`) and listing the others as skipped."""
    out = Discovered()
    seen: set[Path] = set()

    def take(file: Path) -> None:
        if file not in seen:
            seen.add(file)
            out.files.append(file)

    for raw in paths:
        path = Path(raw)
        if path.is_file():
            take(path)
        elif path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.suffix in (".yaml", ".yml") and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            for file in found:
                if file in seen:
                    continue
                if is_case_file(file):
                    take(file)
                elif file not in out.skipped:
                    out.skipped.append(file)
        else:
            out.missing.append(raw)
    out.skipped = [f for f in out.skipped if f not in seen]
    return out


def discover(paths: list[str]) -> tuple[list[Path], list[str]]:
    """The case files under `paths` and the paths that do not exist (`find_cases` without the skipped files)."""
    found = find_cases(paths)
    return found.files, found.missing


def is_composition(function: FunctionSpec, declared_above: set[str]) -> bool:
    """Whether `function`'s expression is one call of a function declared above it (what chain_rule needs)."""
    if not isinstance(function.expr, Source):
        return False
    try:
        body = ast.parse(function.expr.text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return isinstance(body, ast.Call) and isinstance(body.func, ast.Name) and body.func.id in declared_above


def widest_argument(case: Case, function: FunctionSpec) -> int:
    """The number of entries of the function's largest argument."""
    args = function.args if function.args is not None else case.variables
    return max((math.prod(a.shape) for a in args), default=1)


def is_large(case: Case, function: FunctionSpec) -> bool:
    """Whether a function has an argument above DENSE_ENTRIES entries (only value and probe checks apply)."""
    return widest_argument(case, function) > DENSE_ENTRIES


def in_vector_form(case: Case, function: FunctionSpec, checks: tuple[CheckSpec, ...]) -> bool:
    """Whether the function is kept in vector form (never expanded into SymPy entries).

    Above DENSE_ENTRIES entries it always is; at any size when probe checks target it and no
    dense check does (a dense check expands it, as before).
    """
    if is_large(case, function):
        return True
    called = any(re.search(rf"\b{re.escape(function.name)}\s*\(", text) for other in case.functions
                 if other is not function for text in _texts(other))
    probed = [c for c in checks if c.target == function.name and (c.kind in PROBE_KINDS or c.probed)]
    targeted = ["jvp" if c.probed else c.kind for c in checks if c.target == function.name]
    return (not called and bool(probed)
            and all(kind in ("value", *PROBE_KINDS) for kind in targeted))


def _texts(function: FunctionSpec) -> list[str]:
    """Every expression text of a function: its expr entries and let bindings."""
    out: list[str] = [source.text for _, source in function.let]
    stack: list[Any] = [function.expr]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        else:
            out.append(item.text)
    return out


def checks_of(case: Case) -> tuple[CheckSpec, ...]:
    """The case's checks; without `checks`, a jacobian of every function and a chain_rule of every composition."""
    if case.checks is not None:
        return case.checks
    out: list[CheckSpec] = []
    above: set[str] = set()
    for function in case.functions:
        if is_large(case, function):  # no dense Jacobian at this size: values and probes
            out.extend(CheckSpec(kind, function.name, function.where) for kind in ("value", "jvp", "vjp"))
            above.add(function.name)
            continue
        out.append(CheckSpec("jacobian", function.name, function.where))
        if is_composition(function, above):
            out.append(CheckSpec("chain_rule", function.name, function.where))
        above.add(function.name)
    return tuple(out)
