"""The generated torch programs (verify.engines.lowering): whole-vector operations, built once, right values.

Structure: a dense layer becomes `W @ x` and one tanh (a handful of autograd nodes, not hundreds);
the program is generated once per function and reused across dtypes, modes and chunks; running it
walks no SymPy. Values: blocks that exercise every path of the code generator (padding, constant
and variable matrix products, divisions, duplicates, permutations, mixed heads, where, impl
results) agree with the certified reference, value and Jacobian, in both modes.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
import torch

import verify.engines.autograd as autograd
from verify.engines.autograd import TorchEngine, lower_function
from verify.engines.reference import compile_reference
from verify.engines.symbolic import SymbolicEngine


def dense_case(width: int, constant: bool) -> str:
    rng = np.random.default_rng(3)
    if constant:
        weights = rng.integers(-3, 4, (width, width))  # zeros included: rows of different lengths
        rows = ", ".join("[" + ", ".join(str(w) for w in row) + "]" for row in weights)
        return f"""
            variables: {{x: {{shape: [{width}], low: -1, high: 1}}}}
            functions:
              F: "tanh([{rows}] @ x)"
        """
    return f"""
        variables: {{W: {{shape: [{width}, {width}], low: -1, high: 1}}, x: {{shape: [{width}], low: -1, high: 1}}}}
        functions:
          F: tanh(W @ x)
    """


def graph_nodes(output: Any) -> int:
    seen, stack = set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(n for n, _ in node.next_functions)
    return len(seen)


@pytest.mark.parametrize("constant", [True, False], ids=["constant-W", "variable-W"])
def test_a_dense_layer_is_a_matrix_product_and_one_tanh(make_model, constant: bool) -> None:
    model = make_model(dense_case(20, constant))
    program = lower_function(model.functions["F"])
    assert " @ " in program.source and program.source.count("\n") <= 8, program.source
    fn = TorchEngine(model).torch_function(model.functions["F"], "float64", "cpu")
    z = torch.rand(model.functions["F"].n_inputs, dtype=torch.float64, requires_grad=True)
    assert graph_nodes(fn(z)) <= 6  # the scalarised lowering had 223 for this function


def test_the_program_is_generated_once_per_function(make_model, monkeypatch) -> None:
    model = make_model(dense_case(6, False))
    calls = []
    original = autograd.lower

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(autograd, "lower", counting)
    engine = TorchEngine(model, chunk_size=16)
    function = model.functions["F"]
    points = np.random.default_rng(0).uniform(-1, 1, (40, function.n_inputs))
    for dtype in ("float64", "float32"):
        for mode in ("rev", "fwd"):
            engine.evaluate("jacobian", function, points, dtype, "cpu", mode)  # 3 chunks each
        engine.evaluate("value", function, points, dtype, "cpu")
    assert len(calls) == 1


def test_running_the_program_walks_no_sympy(make_model) -> None:
    model = make_model("""
        variables: {x: {shape: [5], low: 0.5, high: 2}, y: {low: 0.5, high: 2}}
        functions:
          f: "[sum(sin(x) * y), dot(x, x) / y, where(y > 1, x[0]**y, log(x[1])), max(x[2], y, 1)]"
    """)
    fn = TorchEngine(model).torch_function(model.functions["f"], "float64", "cpu")
    z = torch.full((6,), 1.5, dtype=torch.float64)
    files: set[str] = set()

    def profile(frame: Any, event: str, arg: Any) -> None:
        files.add(frame.f_code.co_filename)

    sys.setprofile(profile)
    try:
        torch.func.vmap(torch.func.jacrev(fn))(z.expand(3, 6))
    finally:
        sys.setprofile(None)
    assert not [f for f in files if "sympy" in f], sorted(f for f in files if "sympy" in f)


# Blocks for every path of the generator: rows with different terms (padding), constant and variable
# matrix products, divisions, repeated and permuted entries, mixed heads, where, min/max, powers.
BLOCKS = {
    "sparse-constant-matrix": "[[1, 0, -2, 0.5], [0, 0, 3, 1], [2, 1, 0, 0]] @ v + 1",
    "variable-matrix": "A @ v",
    "matrix-then-layer": "sigmoid(A.T @ tanh(A @ v)) * y",
    "bilinear-and-linear": "v * (A @ v) + 2 * v - y",
    "divisions": "[v[0] / v[1], y / (v[2] * v[3]), 1 / v[0] + 1 / v[1] + 1 / v[2] + 1 / v[3], v[1] / y]",
    "repeated-and-permuted": "[v[3], v[1], v[3], v[0], sin(v[2]), sin(v[2]), y, v[1]]",
    "mixed-heads": "[exp(v[0]), log(v[1]), v[2]**3, sqrt(v[3]), atan2(v[0], y), 7, y**v[1], 2**v[2]]",
    "where-and-extremes": "where(v > y, v**2, -v) + max(v, y) - min(v, 1)",
    "sums-of-mixed-products": "[sum(v * v * y) + sum(v), v[0]*v[1]*v[2] + v[3]**2 - y, 3*v[0] - 2*v[1], y]",
    "wide-sum": "[sum(exp(v) * v) + y + 3, sum(v) * y, norm(v), dot(v, A @ v)]",
    "orders": "[polygamma(1, v[0] + 2), polygamma(1, v[1] + 2), polygamma(2, y + 1), lgamma(v[3] + 1)]",
}


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_generated_programs_match_the_reference(make_model, name: str) -> None:
    model = make_model(f"""
        variables:
          A: {{shape: [4, 4], low: -1, high: 1}}
          v: {{shape: [4], low: 0.5, high: 2}}
          y: {{low: 0.5, high: 2}}
        functions:
          f: "{BLOCKS[name]}"
    """)
    function = model.functions["f"]
    rng = np.random.default_rng(7)
    points = np.concatenate([rng.uniform(-1, 1, (24, 16)), rng.uniform(0.5, 2, (24, 5))], axis=1)
    points[:, 16:] = np.where(np.abs(points[:, 16:] - 1) < 1e-3, 1.25, points[:, 16:])  # off the kinks
    symbols = function.flat_symbols
    value_ref = compile_reference(function.entries.reshape(-1), symbols)(points)
    jac_ref = compile_reference(SymbolicEngine(model).jacobian(function), symbols, derivative=True)(points)
    engine = TorchEngine(model)
    rtol = 1e-8 if name == "orders" else 1e-11  # torch's trigamma is accurate to ~5e-10 (see test_autograd)
    got = engine.evaluate("value", function, points, "float64", "cpu").values.reshape(value_ref.shape)
    np.testing.assert_allclose(got, value_ref, rtol=rtol, atol=1e-13)
    for mode in ("rev", "fwd"):
        got = engine.evaluate("jacobian", function, points, "float64", "cpu", mode).values.reshape(jac_ref.shape)
        np.testing.assert_allclose(got, jac_ref, rtol=rtol, atol=1e-12, err_msg=mode)


def test_impl_results_mix_with_lowered_entries(tmp_path, make_model) -> None:
    (tmp_path / "lowering_test_ops.py").write_text("import torch\n\ndef square(v):\n    return v * v\n")
    model = make_model("""
        variables: {v: {shape: [3], low: 0.5, high: 2}}
        functions:
          S: {args: [v], expr: "v**2", impl: "lowering_test_ops:square"}
          f: "S(v) * v + [S(v)[2], S(2 * v)[0], v[1]]"
    """, name="impl_case.yaml")
    function = model.functions["f"]
    points = np.random.default_rng(1).uniform(0.5, 2, (10, 3))
    exact = compile_reference(SymbolicEngine(model).jacobian(function), function.flat_symbols)(points)
    got = TorchEngine(model).evaluate("jacobian", function, points, "float64", "cpu", "rev").values
    np.testing.assert_allclose(got.reshape(exact.shape), exact, rtol=1e-12)
