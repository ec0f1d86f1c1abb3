"""Probe checks (jvp, vjp, hvp) and large tensors: verdicts against exact directional derivatives.

The seeded bug of the issue that introduced them is here: a custom Function whose backward is
right below index 4096 and wrong above it must fail, with the entry named; written correctly, it
passes in float64 and float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy
import torch

from verify.case import load_file
from verify.errors import Location
from verify.results import Result
from verify.run import RunOptions, run_case
from verify.tensor import Tangent, build_graph, jvp, vjp

OPS = '''
import torch


class Softmax(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x, broken):
        return torch.softmax(x, -1)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)
        ctx.broken = inputs[1]

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        out = y * (grad - (grad * y).sum(-1, keepdim=True))
        if ctx.broken:  # a tiling bug: the tile from 4096 on forgets the shared reduction
            out[..., 4096:] = y[..., 4096:] * grad[..., 4096:]
        return out, None


def correct(x):
    return Softmax.apply(x, False)


def tiled_bug(x):
    return Softmax.apply(x, True)
'''

CASE = """
name: softmax-6000
variables: {x: {low: -3, high: 3, shape: [6000]}}
functions:
  f: {args: [x], expr: softmax(x), impl: "probe_ops:IMPL"}
checks:
  - vjp: f
    probes: 2
points: {random: 1}
dtypes: [float64, float32]
"""


@pytest.fixture
def run_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "probe_ops.py").write_text(OPS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))

    def run(text: str) -> list[Result]:
        path = tmp_path / "case.yaml"
        path.write_text(text, encoding="utf-8")
        return [r for case in load_file(path, "case.yaml") for r in run_case(case, RunOptions())]

    return run


def test_a_tiling_bug_above_index_4096_fails_with_the_entry_named(run_text) -> None:
    rows = [r for r in run_text(CASE.replace("IMPL", "tiled_bug")) if r.mode == "vjp"]
    assert [r.status for r in rows] == ["fail", "fail"]
    for row in rows:
        entry = int(row.message.split(", entry ")[1].split(" ")[0])
        assert entry >= 4096, row.message
        assert f"x[{entry}]" in row.message


def test_the_same_function_written_correctly_passes_in_both_precisions(run_text) -> None:
    rows = run_text(CASE.replace("IMPL", "correct"))
    assert {(r.mode, r.dtype, r.status) for r in rows} == {
        ("value", "float64", "pass"), ("value", "float32", "pass"), ("vjp", "float64", "pass"),
        ("vjp", "float32", "pass")}


def test_a_dense_check_on_a_large_function_names_the_probe_checks(run_text) -> None:
    (row,) = run_text("""
variables: {x: {shape: [20000]}}
functions:
  f: {args: [x], expr: sum(exp(x))}
checks:
  - gradient: f
points: {random: 1}
""")
    assert row.status == "error"
    assert "jvp" in row.message and "vjp" in row.message and "hvp" in row.message


def test_probe_checks_agree_with_dense_derivatives_on_a_small_function(run_text) -> None:
    rows = run_text("""
variables: {x: {low: -2, high: 2, shape: [5]}, y: {low: 0.5, high: 2}}
functions:
  f: {args: [x, y], expr: "sum(sin(x) * y**2) + logsumexp(x * y)"}
checks:
  - jvp: f
  - vjp: f
  - hvp: f
  - hessian: f
points: {random: 8}
dtypes: [float64, float32]
""")
    assert rows and all(r.status == "pass" for r in rows), [r.message for r in rows if r.status != "pass"]


def test_hvp_of_a_vector_function_is_an_error_with_a_hint(run_text) -> None:
    (row,) = run_text("""
variables: {x: {shape: [3]}}
functions:
  f: {args: [x], expr: sin(x)}
checks:
  - hvp: f
""")
    assert row.status == "error" and "not scalar" in row.message and "jvp or vjp" in row.message


@pytest.mark.parametrize("text", ["softmax(v) * v", "log_softmax(v) + v**2", "tanh(A @ v)", "trace(A.T @ A) * sum(v)"])
def test_graph_derivatives_match_torch(text: str) -> None:
    from verify.engines.probes import exact_values

    rng = np.random.default_rng(3)
    graph = build_graph(text, Location("t.yaml", 1, 1), [("v", (4,)), ("A", (4, 4))])
    values = {"v": rng.standard_normal(4), "A": rng.standard_normal((4, 4))}
    u = {"v": rng.standard_normal(4), "A": rng.standard_normal((4, 4))}

    def f(v, a):
        return {"softmax(v) * v": lambda: torch.softmax(v, -1) * v, "log_softmax(v) + v**2":
                lambda: torch.log_softmax(v, -1) + v**2, "tanh(A @ v)": lambda: torch.tanh(a @ v),
                "trace(A.T @ A) * sum(v)": lambda: torch.trace(a.T @ a) * v.sum()}[text]()

    primals = (torch.tensor(values["v"]), torch.tensor(values["A"]))
    _, forward = torch.func.jvp(f, primals, (torch.tensor(u["v"]), torch.tensor(u["A"])))
    exact = exact_values(jvp(graph), values, u, np.full(forward.numel(), 1e-12))
    np.testing.assert_allclose(exact.values.reshape(-1), forward.numpy().reshape(-1), rtol=1e-12, atol=1e-12)
    w = rng.standard_normal(graph.output.shape)
    pulled = vjp(graph, Tangent(graph.output.shape, "w"))
    _, pull = torch.func.vjp(f, *primals)
    got = pull(torch.tensor(w))
    for name, tensor in zip(("v", "A"), got):
        if name in pulled:
            exact = exact_values(pulled[name], values, {"w": w}, np.full(tensor.numel(), 1e-12))
            np.testing.assert_allclose(exact.values.reshape(-1), tensor.numpy().reshape(-1), rtol=1e-12, atol=1e-12)


def test_too_many_point_values_are_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("variables: {v: {shape: [100]}}\nfunctions:\n  f: {args: [v], expr: sum(v)}\n"
                    "points: {random: 1000000}\n", encoding="utf-8")
    (case,) = load_file(path, "big.yaml")
    (row,) = run_case(case, RunOptions())
    assert row.status == "error" and "points: {random:" in row.message


def test_sympy_is_not_asked_for_large_functions(tmp_path: Path) -> None:
    from verify.model import build_model

    path = tmp_path / "wide.yaml"
    path.write_text("variables: {v: {shape: [1048576]}}\nfunctions:\n  f: {args: [v], expr: sum(exp(v) * v)}\n"
                    "checks: [{vjp: f}]\npoints: {random: 1}\n", encoding="utf-8")
    (case,) = load_file(path, "wide.yaml")
    model = build_model(case)
    assert model.functions["f"].large and model.functions["f"].entries.size == 0
    assert sympy  # the graph carries SymPy scalar formulas only


def test_chain_rule_with_probes_holds_stage_by_stage_at_any_size(run_text) -> None:
    rows = run_text("""
name: chain-probes
variables: {x: {low: -1, high: 1, shape: [3000]}}
functions:
  G: {args: [x], expr: "sin(x) * x"}
  F: {args: {u: {shape: [3000]}}, expr: "softmax(u) * u"}
  H: F(G(x))
checks:
  - chain_rule: H
    probes: 2
points: {random: 1}
---
name: chain-small
variables: {x: {low: -2, high: 2}, y: {low: -2, high: 2}}
functions:
  G: {args: [x, y], expr: [x + y, x**2 - y**2]}
  F: {args: [u, v], expr: [u**2 + v, u*v]}
  H: F(G(x, y))
checks:
  - chain_rule: H
    probes: 3
points: {random: 8}
""")
    assert {(r.case, r.mode) for r in rows} == {("chain-probes", "numeric"), ("chain-probes", "jvp"),
                                                ("chain-small", "numeric"), ("chain-small", "jvp")}
    assert all(r.status == "pass" and r.check == "chain_rule" for r in rows), [r.message for r in rows]
