"""`python -m verify new NAME`: writes NAME.yaml, a commented case file that passes as written."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from verify.errors import UsageError
from verify.vocabulary import CHECK_KINDS, DEVICES, DTYPES, FUNCTION_NAMES, MODES

__all__ = ["main", "render"]

_STEM = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\Z")

TEMPLATE = """\
# @NAME@.yaml: a verify case file (case format version 1), written by `python -m verify new @NAME@`.
#   run it:            python -m verify @NAME@.yaml
#   see the algebra:   python -m verify show @NAME@.yaml      (add --latex for LaTeX)
#   editor checking:   python -m verify schema --output case.schema.json, then make the first line
#                      of this file:  # yaml-language-server: $schema=case.schema.json
# The example passes as written; edit it into your own case. Every key is explained below; the
# optional ones that the example does not need are commented out. A file may hold several cases,
# separated by a line `---`.
# YAML reads some characters itself: quote an expression that contains [ ] { } or , inside a
# [...] list, that contains ": " or " #", or that starts with * & ! | > % @ or a quote.

# name: the case's name (default: the file stem); a case is reported as FILE::NAME.
name: "@NAME@"

# description: free text, shown in reports.
description: a scalar function with its gradient and Hessian, and the chain rule for H = F(G(x, y))

# tags: labels for selecting cases (python -m verify -k TAG, pytest marks).
tags: [example]

# constants: named exact numbers usable in every expression (not differentiated; shown in reports).
# constants: {beta: 2, eps: 1e-5}

# variables (required): the case's inputs, in order. Either a list of names, [x, y], each sampled
# in [-1, 1], or a map name -> {low, high, shape}: the sampling interval and, for a vector or a
# matrix, shape: [n] or [m, n] (its entries are written v[0], A[1, 2] in expressions).
variables:
  x: {low: -2, high: 2}
  y: {low: -2, high: 2}
  # v: {low: -1, high: 1, shape: [3]}

# functions (required): name -> definition, in order; a definition may call the ones above it.
#   a string               a scalar function of the case variables         f: x**2 + y
#   a list of strings      a vector-valued function of the case variables  F: [x + y, x*y]
#   {args, expr, impl}     its own arguments (written like variables) and expression, and
#                          optionally impl: module:callable, a torch function verified against
#                          expr (imported from the working directory), and let: {m: mean(v),
#                          c: v - m}, local names evaluated in order before expr
# A call whose values do not match the callee's arguments one to one spreads them over its scalar
# arguments: F(G(x, y)) passes G's 2 outputs as F's 2 arguments.
# The expression language (parsed, never evaluated): numbers, pi, E, + - * / ** and @ (matrix
# product), x.T, v[i], A[i, j] with integer literals, and the functions
#   @FUNCTIONS@
# Comparisons < <= > >= == != are allowed only in the first argument of where(cond, a, b).
functions:
  f: x**2 + x*y + y**2
  G: {args: [x, y], expr: [x + y, x**2 - y**2]}
  F: {args: [u, v], expr: [u**2 + v, u*v]}
  H: F(G(x, y))
  # softplus: {args: [x], expr: log(1 + exp(x)), impl: "mypkg.ops:softplus"}

# checks: what to verify. Each item names a function under exactly one kind:
#   value       its values, exact vs torch
#   jacobian    its Jacobian (rows: outputs, columns: inputs), exact vs torch autograd
#   gradient    as jacobian, for a scalar function
#   hessian     the Hessian (of each output entry, for a vector- or matrix-valued function)
#   chain_rule  a composition H = F(G(...)): the product of its stages' Jacobians, each at its
#               own inputs, must equal J_H (symbolically and at every point)
#   jvp vjp hvp probe checks for large tensors (up to 1,048,576 entries): torch's directional
#               derivatives along seeded random directions vs the exact ones; probes: N per point
# and optionally:
#   expect      your hand-derived result, shaped like it (nested lists: rows are outputs,
#               columns inputs; one expression when it has a single entry); checked symbolically
#   at          judge expect only at these points, e.g. at: {x: 1, y: 2}
#   xfail       a reason: the check is expected to fail (a failure reports xfail, a pass xpass)
#   tolerance   this check's own tolerance (see tolerance below)
# Without checks: a jacobian check of every function and a chain_rule check of every composition.
checks:
  - value: f
    at: {x: 1, y: 2}
    expect: 7
  - gradient: f
    expect: [2*x + y, x + 2*y]
  - hessian: f
    expect: [[2, 1], [1, 2]]
  - jacobian: H
    expect: [[4*x + 2*y, 2*x], [3*x**2 + 2*x*y - y**2, x**2 - 3*y**2 - 2*x*y]]
  - chain_rule: H
  - jvp: f
  - vjp: H
  - hvp: f
    probes: 2
  # - jacobian: G
  #   xfail: "known bug #12"

# points: where derivatives are compared: random: N points drawn uniformly in the variables'
# intervals (default 64), plus at: listed points, each giving every case variable (a vector as a
# list: {v: [3, -4]}). A point where the exact value is undefined is reported and left out.
points: {random: 64, at: [{x: 1, y: 2}, {x: 0, y: 0}]}

# seed: the seed of every random draw (default 0); the same file always gives the same points.
seed: 0

# dtypes: the precisions torch is checked in: @DTYPES@ (default [float64]).
dtypes: [float64, float32]

# devices: @DEVICES@ (auto: cuda when available, else cpu; default [auto]). A device that is not
# available is reported as skip, never as a failure.
devices: [auto]

# modes: autograd modes: rev (reverse: vjp, jacrev) and fwd (forward: jvp, jacfwd); default both.
modes: [@MODES@]

# tolerance: agreement means abs(a - r) <= atol + rtol * abs(r) elementwise, r the exact value.
# One {rtol, atol} for every dtype, or one per dtype; what is not given keeps the default
# (@TOLERANCES@).
# tolerance: {float32: {rtol: 1e-4, atol: 1e-5}}

# xfail: the reason the whole case is expected to fail (a failure reports xfail, a pass xpass).
# xfail: "waiting for the fix of #12"
"""


def _wrapped(words: Sequence[str], width: int = 88, indent: str = "#   ") -> str:
    lines, line = [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width - len(indent):
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return f"\n{indent}".join(lines)


def render(name: str) -> str:
    """The template's text for a case named `name`."""
    from verify.case import DEFAULT_TOLERANCES

    assert set(CHECK_KINDS) <= set(TEMPLATE.split()), "the template explains every check kind"
    tolerances = "; ".join(f"{dtype}: rtol {t.rtol:g}, atol {t.atol:g}" for dtype, t in DEFAULT_TOLERANCES.items())
    return (TEMPLATE.replace("@NAME@", name)
            .replace("@FUNCTIONS@", _wrapped(FUNCTION_NAMES))
            .replace("@DTYPES@", ", ".join(DTYPES))
            .replace("@DEVICES@", ", ".join(DEVICES))
            .replace("@MODES@", ", ".join(MODES))
            .replace("@TOLERANCES@", tolerances))


def stem_of(name: str) -> str:
    """`name` as a file stem (a trailing .yaml or .yml dropped); UsageError when it is not one."""
    stem = re.sub(r"\.ya?ml\Z", "", name)
    if not _STEM.match(stem):
        raise UsageError(f"{name!r} is not a usable case name: use letters, digits, '_', '-' and '.', starting "
                         "with a letter, digit or _, at most 100 characters, no directories (use --dir)")
    return stem


def main(argv: Sequence[str], out: TextIO = sys.stdout) -> int:
    """Writes DIR/NAME.yaml from the template; exit status 1 when that file exists already."""
    parser = argparse.ArgumentParser(
        prog="python -m verify new",
        description="Write NAME.yaml: a case file with every key explained in comments and a working example.",
    )
    parser.add_argument("name", metavar="NAME", help="the case name, also the file stem (NAME.yaml)")
    parser.add_argument("--dir", default=".", metavar="DIR", help="where to write it (default: the current directory)")
    args = parser.parse_args(list(argv))
    stem = stem_of(args.name)
    directory = Path(args.dir)
    path = directory / f"{stem}.yaml"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as file:
            file.write(render(stem))
    except FileExistsError:
        sys.stderr.write(f"python -m verify new: error: {path} exists already; not overwriting it "
                         "(choose another NAME or --dir, or remove the file)\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"python -m verify new: error: cannot write {path}: {exc}\n")
        return 1
    out.write(f"wrote {path}\n  run it:  python -m verify {path}\n  study it: python -m verify show {path}\n")
    return 0
