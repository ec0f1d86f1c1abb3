"""Fixtures for the CI-gate tests: a small corpus with every status, run from its own folder.

The corpus holds, across three files: a passing case, a wrong hand derivative (fail), a wrong
implementation (fail, with a worst point), an expected failure (xfail), an unexpected pass
(xpass), an impl without a forward-mode rule (skip), a bad expression (error) and a file whose
YAML does not parse (a load error).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

IMPL = '''
import os

import torch

with open("impl_imported_by.txt", "a") as log:  # which processes ran an impl (see test_jobs.py)
    log.write(f"{os.getpid()}\\n")


def wrong_sin(x):
    return torch.sin(x) * 1.001


class _Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad


def square(x):
    return _Square.apply(x)
'''

MIXED = """
name: good
variables: [x, y]
functions:
  F: [x**2 + y, x*y]
checks:
  - jacobian: F
    expect: [[2*x, 1], [y, x]]
points: {random: 4}
modes: [rev]
---
name: wrong
variables: [x]
functions:
  f: x**3
checks:
  - gradient: f
    expect: 3*x
points: {random: 4}
modes: [rev]
---
name: expected-failure
xfail: the claim is wrong on purpose
variables: [x]
functions: {f: sin(x)}
checks:
  - gradient: f
    expect: sin(x)
points: {random: 4}
modes: [rev]
---
name: unexpected-pass
xfail: said to be wrong, but right
variables: [x]
functions: {f: x**2}
checks:
  - gradient: f
    expect: 2*x
points: {random: 4}
modes: [rev]
"""

IMPLS = """
name: wrong-impl
variables: [x]
functions:
  f: {args: [x], expr: sin(x), impl: "ci_gate_impl:wrong_sin"}
checks:
  - gradient: f
points: {random: 4}
modes: [rev]
---
name: no-forward-rule
variables: [x]
functions:
  f: {args: [x], expr: x**2, impl: "ci_gate_impl:square"}
checks:
  - gradient: f
points: {random: 4}
---
name: bad-expression
variables: [x]
functions:
  f: x +* 2
"""

BROKEN = "name: broken\nvariables: [x\nfunctions: {f: x}\n"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test has its own derivation cache, never the user's."""
    cache = tmp_path / "verify-cache"
    monkeypatch.setenv("VERIFY_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Writes the corpus under tmp_path/cases, makes tmp_path the working directory, returns 'cases'."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ci_gate_impl.py").write_text(textwrap.dedent(IMPL), encoding="utf-8")
    cases = tmp_path / "cases"
    cases.mkdir()
    for name, text in (("a_mixed.yaml", MIXED), ("b_impls.yaml", IMPLS), ("c_broken.yaml", BROKEN)):
        (cases / name).write_text(text.lstrip("\n"), encoding="utf-8")
    return "cases"


@pytest.fixture
def records() -> Any:
    """Reads report.json from a report folder."""

    def read(directory: Path) -> list[dict[str, Any]]:
        return json.loads((Path(directory) / "report.json").read_text(encoding="utf-8"))

    return read
