"""`python -m verify schema`: the JSON Schema (draft 2020-12) of the case format, for editors and CI.

The schema describes one YAML document (one case) as plain data, the way verify reads it (YAML
1.2 floats). It checks structure: keys, types, names, the dtype, device, mode and check-kind
vocabularies, sizes. What it cannot say is left to `python -m verify` itself: whether an
expression parses and its names are declared, whether `low < high`, whether a check or a point
names a declared function or variable, and whether shapes fit.
"""

from __future__ import annotations

import argparse
import json
import keyword
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from verify.vocabulary import CHECK_KINDS, DEVICES, DTYPES, MODES, RESERVED

__all__ = ["build_schema", "main"]

MAX_DIMENSIONS = 4  # verify.case.MAX_DIMENSIONS (kept in step by a test)
MAX_DIMENSION = 1_048_576  # verify.case.MAX_ENTRIES
MAX_RANDOM_POINTS = 1_000_000  # verify.case.MAX_RANDOM_POINTS
MAX_EXPRESSION_CHARS = 20_000  # verify.expr.LIMITS.max_chars
NAME_PATTERN = "^[A-Za-z][A-Za-z0-9_]*$"
IMPL_PATTERN = "^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*$"

TOP_LEVEL = {
    "name": "The case's name, unique within its file; a case id is FILE::NAME. Default: the file stem "
            "(with -N appended for the Nth document of a multi-document file).",
    "description": "Free text about what the case checks; shown in reports.",
    "tags": "Labels for selecting cases (`-k`, pytest marks): a list of strings, or one string.",
    "constants": "Named exact constants usable in every expression (not differentiated; shown in reports), "
                 "e.g. {beta: 2, eps: 1e-5}.",
    "variables": "The case's inputs, in order: a list of names, or a map from name to its sampling interval "
                 "and shape.",
    "functions": "The functions to verify, by name, in order; a definition may call functions defined above it.",
    "checks": "What to verify. Without it, every function gets a jacobian check and every composition also "
              "a chain_rule check.",
    "points": "Where derivatives are compared. Default: {random: 64}.",
    "seed": "Seed for every random draw of the case, so a file always gives the same points. Default: 0.",
    "dtypes": "Floating-point precisions to check torch in. Default: [float64].",
    "devices": "Where torch runs. auto is cuda when available, else cpu; an unavailable device is "
               "reported as skip. Default: [auto].",
    "modes": "Autograd modes: rev (reverse, vjp/jacrev) and fwd (forward, jvp/jacfwd). Default: [rev, fwd].",
    "tolerance": "Agreement means abs(a - r) <= atol + rtol * abs(r) elementwise, r the exact value: one "
                 "{rtol, atol} for every dtype, or one per dtype. Unset parts keep verify's defaults.",
    "xfail": "The reason the case is expected to fail: a failure is reported as xfail, a pass as xpass.",
}

CHECK_KIND_TEXT = {
    "value": "Forward values of the named function: exact values vs torch.",
    "jacobian": "Exact Jacobian (outputs x inputs) of the named function vs torch autograd, in each mode.",
    "gradient": "Exact gradient of the named scalar function vs torch autograd.",
    "hessian": "Exact Hessian of the named scalar function vs torch (forward-over-reverse and "
               "reverse-over-reverse).",
    "chain_rule": "The named function must be a composition F(G(...)): the product of its stage Jacobians, "
                  "each at its stage's own inputs, must equal its Jacobian, symbolically and at every point.",
    "jvp": "Probe check: torch.func.jvp of the named function along seeded random directions vs the exact "
           "directional derivative J u (no Jacobian is formed; for tensors up to 1,048,576 entries).",
    "vjp": "Probe check: torch.func.vjp with seeded random output cotangents vs the exact w^T J.",
    "hvp": "Probe check: the Hessian-vector product of the named scalar function (forward-over-reverse) vs "
           "the exact H u.",
}

CHECK_OPTION_TEXT = {
    "expect": "A hand-derived result, written like the derivative (nested lists: rows are outputs, columns "
              "inputs), or one expression where it has a single entry; checked symbolically against the "
              "derived one.",
    "at": "Judge `expect` only at these points (a point or a list of points, giving every argument of the "
          "function), not as a function. Needs `expect`.",
    "xfail": "The reason this check is expected to fail: a failure is reported as xfail, a pass as xpass.",
    "tolerance": "This check's tolerance; overrides the case's.",
    "probes": "Probe checks: the number of random directions per point (default 4, at most 64).",
}


def _string_or_list_of(values: Sequence[str], what: str) -> dict[str, Any]:
    one = {"type": "string", "enum": list(values)}
    return {
        "description": f"{what}: one of {', '.join(values)}, or a non-empty list of them.",
        "anyOf": [one, {"type": "array", "items": one, "minItems": 1}],
    }


def _definitions() -> dict[str, Any]:
    reserved = sorted(RESERVED | set(keyword.kwlist))
    tolerance_numbers = {
        "rtol": {"type": "number", "minimum": 0, "description": "Relative tolerance (not negative)."},
        "atol": {"type": "number", "minimum": 0, "description": "Absolute tolerance (not negative)."},
    }
    return {
        "name": {
            "description": "A name: a letter, then letters, digits and _; not a Python keyword and not a name of "
                           "the expression language.",
            "type": "string",
            "pattern": NAME_PATTERN,
            "not": {"enum": reserved},
        },
        "expression": {
            "description": "An expression of the case language (Python-like, parsed without eval), or a number.",
            "anyOf": [
                {"type": "string", "pattern": "\\S", "maxLength": MAX_EXPRESSION_CHARS},
                {"type": "number"},
            ],
        },
        "nested_expressions": {
            "description": "An expression, or a (nested) list of expressions for a vector- or matrix-valued "
                           "result.",
            "anyOf": [
                {"$ref": "#/$defs/expression"},
                {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/nested_expressions"}},
            ],
        },
        "variable_spec": {
            "description": "A variable's sampling interval (default [-1, 1]) and shape (default: scalar).",
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {
                "low": {"type": "number", "description": "Lower end of the sampling interval (below high)."},
                "high": {"type": "number", "description": "Upper end of the sampling interval (above low)."},
                "shape": {
                    "description": "[n] for a vector, [m, n] for a matrix (at most 4 dimensions); its entries are "
                                   "written x[i], A[i, j].",
                    "type": "array",
                    "maxItems": MAX_DIMENSIONS,
                    "items": {"type": "integer", "minimum": 1, "maximum": MAX_DIMENSION},
                },
            },
        },
        "variables": {
            "description": "A list of names (scalars sampled in [-1, 1]), or a map name -> {low, high, shape}.",
            "anyOf": [
                {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"$ref": "#/$defs/name"}},
                {
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": {"$ref": "#/$defs/name"},
                    "additionalProperties": {"$ref": "#/$defs/variable_spec"},
                },
            ],
        },
        "function": {
            "description": "A string (a scalar function of the case variables), a list (a vector-valued one), or "
                           "a map {args, let, expr, impl} with its own arguments.",
            "anyOf": [
                {"$ref": "#/$defs/nested_expressions"},
                {
                    "type": "object",
                    "required": ["expr"],
                    "additionalProperties": False,
                    "properties": {
                        "args": {
                            "$ref": "#/$defs/variables",
                            "description": "The function's own arguments, written like variables; one named like a "
                                           "case variable takes its spec unless it gives its own. Default: the case "
                                           "variables.",
                        },
                        "let": {
                            "type": "object",
                            "propertyNames": {"$ref": "#/$defs/name"},
                            "additionalProperties": {"$ref": "#/$defs/expression"},
                            "description": "Local names for subexpressions, evaluated in order: each may use the "
                                           "ones before it, and expr may use them all; e.g. {m: mean(x), c: x - m}.",
                        },
                        "expr": {"$ref": "#/$defs/nested_expressions", "description": "The exact definition."},
                        "impl": {
                            "type": "string",
                            "pattern": IMPL_PATTERN,
                            "description": "module:callable of a torch implementation to verify against expr, "
                                           "imported with the working directory on sys.path.",
                        },
                    },
                },
            ],
        },
        "tolerance_pair": {
            "type": "object",
            "additionalProperties": False,
            "properties": tolerance_numbers,
        },
        "tolerance": {
            "description": "{rtol, atol} for every dtype, or a map dtype -> {rtol, atol}; not both in one map.",
            "anyOf": [
                {"$ref": "#/$defs/tolerance_pair"},
                {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": False,
                    "properties": {dtype: {"$ref": "#/$defs/tolerance_pair"} for dtype in DTYPES},
                },
            ],
        },
        "point_value": {
            "description": "A number, or a (nested) list of numbers shaped like the variable.",
            "anyOf": [
                {"type": "number"},
                {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/point_value"}},
            ],
        },
        "point": {
            "description": "A value for each variable (or argument), e.g. {x: 1, y: 2} or {v: [3, -4]}.",
            "type": "object",
            "propertyNames": {"$ref": "#/$defs/name"},
            "additionalProperties": {"$ref": "#/$defs/point_value"},
        },
        "check": {
            "description": "Exactly one kind key naming a function, plus optional expect, at, xfail and tolerance.",
            "type": "object",
            "additionalProperties": False,
            "properties": {
                **{kind: {"type": "string", "pattern": NAME_PATTERN, "description": CHECK_KIND_TEXT[kind]}
                   for kind in CHECK_KINDS},
                "expect": {"$ref": "#/$defs/nested_expressions", "description": CHECK_OPTION_TEXT["expect"]},
                "at": {
                    "description": CHECK_OPTION_TEXT["at"],
                    "anyOf": [
                        {"$ref": "#/$defs/point"},
                        {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/point"}},
                    ],
                },
                "xfail": {"type": "string", "description": CHECK_OPTION_TEXT["xfail"]},
                "tolerance": {"$ref": "#/$defs/tolerance", "description": CHECK_OPTION_TEXT["tolerance"]},
                "probes": {"type": "integer", "minimum": 1, "maximum": 64,
                           "description": CHECK_OPTION_TEXT["probes"]},
            },
            "oneOf": [{"required": [kind]} for kind in CHECK_KINDS],
            "dependentRequired": {"at": ["expect"]},
        },
    }


def build_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one case document of the case format, version 1."""
    properties: dict[str, Any] = {
        "name": {"type": "string", "pattern": "^(?![\\s\\S]*::)[\\s\\S]*\\S[\\s\\S]*$"},
        "description": {"type": "string"},
        "tags": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "constants": {
            "type": "object",
            "propertyNames": {"$ref": "#/$defs/name"},
            "additionalProperties": {"type": "number"},
        },
        "variables": {"$ref": "#/$defs/variables"},
        "functions": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"$ref": "#/$defs/name"},
            "additionalProperties": {"$ref": "#/$defs/function"},
        },
        "checks": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/check"}},
        "points": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "random": {"type": "integer", "minimum": 0, "maximum": MAX_RANDOM_POINTS,
                           "description": "How many points to draw uniformly in the variables' intervals "
                                          "(default 64)."},
                "at": {"type": "array", "items": {"$ref": "#/$defs/point"},
                       "description": "Points to include, each giving every case variable."},
            },
            "if": {"required": ["random"], "properties": {"random": {"const": 0}}},
            "then": {"required": ["at"], "properties": {"at": {"minItems": 1}}},
        },
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
        "dtypes": _string_or_list_of(DTYPES, "dtypes"),
        "devices": _string_or_list_of(DEVICES, "devices"),
        "modes": _string_or_list_of(MODES, "modes"),
        "tolerance": {"$ref": "#/$defs/tolerance"},
        "xfail": {"type": "string"},
    }
    assert set(properties) == set(TOP_LEVEL), "every top-level key needs a description"
    for key, text in TOP_LEVEL.items():
        properties[key] = {"description": text, **properties[key]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "verify case file (format version 1)",
        "description": "One case of a verify case file (a YAML document; a file may hold several, separated by "
                       "---). Structure only: expressions, names used in them, low < high and shapes are checked "
                       "by python -m verify.",
        "type": "object",
        "required": ["variables", "functions"],
        "additionalProperties": False,
        "properties": properties,
        "$defs": _definitions(),
    }


def main(argv: Sequence[str], out: TextIO = sys.stdout) -> int:
    """Prints the JSON Schema of the case format, or writes it to --output."""
    parser = argparse.ArgumentParser(
        prog="python -m verify schema",
        description="Print the JSON Schema (draft 2020-12) of a case document, for editors and CI validators.",
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write the schema to FILE instead of printing it")
    args = parser.parse_args(list(argv))
    text = json.dumps(build_schema(), indent=2) + "\n"
    if args.output is None:
        out.write(text)
        return 0
    path = Path(args.output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        sys.stderr.write(f"python -m verify schema: error: cannot write {path}: {exc}\n")
        return 1
    out.write(f"wrote {path}\n")
    return 0
