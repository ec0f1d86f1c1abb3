"""Forward-mode Jacobians along grouped tangents: the groups, the expansion, and agreement with jacfwd."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.case import Tolerance
from verify.compare import agree
from verify.engines.autograd import TorchEngine
from verify.engines.grouping import ColumnGroups, column_groups
from verify.model import Model


def _layer(n: int) -> str:
    return f"""
        variables:
          W: {{shape: [{n}, {n}], low: -1, high: 1}}
          x: {{shape: [{n}], low: -1, high: 1}}
        functions:
          F: tanh(W @ x)
        checks: [{{jacobian: F}}]
        """


def test_a_dense_layer_needs_two_tangents_per_output(make_model: Callable[..., Model]) -> None:
    function = make_model(_layer(6)).functions["F"]
    groups = column_groups(list(function.entries.reshape(-1)), function.flat_symbols)
    assert groups is not None and groups.n_groups == 12  # 6 for the columns of W, one per column of x
    # inputs in one group never reach the same output
    reach = {j: {i for i, e in enumerate(function.entries.reshape(-1)) if s in e.free_symbols}
             for j, s in enumerate(function.flat_symbols)}
    for g in range(groups.n_groups):
        members = np.flatnonzero(groups.group == g)
        seen: set[int] = set()
        for j in members:
            assert not seen & reach[int(j)]
            seen |= reach[int(j)]


def test_an_elementwise_function_needs_one_tangent() -> None:
    x = sympy.symbols("x0:50", real=True)
    groups = column_groups([sympy.sin(s) ** 2 for s in x], list(x))
    assert groups is not None and groups.n_groups == 1


def test_grouping_is_refused_where_it_saves_little() -> None:
    x = sympy.symbols("x0:8", real=True)
    assert column_groups([sympy.Add(*x) * s for s in x], list(x)) is None  # every output reaches every input


def test_a_value_where_the_pattern_says_zero_is_reported() -> None:
    x, y, z = sympy.symbols("x y z", real=True)
    # outputs: [x, y, x*z]: x and y share a tangent (rows 0 and 1); z is alone; so is nothing else
    entries = [x, y, x * z, x + z]
    symbols = [x, y, z]
    groups = column_groups(entries, symbols, at_most=1.0)  # 2 tangents for 3 inputs: grouped only when asked
    assert groups is not None and groups.n_groups == 2
    exact = np.array([[1.0, 0, 0], [0, 1, 0], [3, 0, 2], [1, 0, 1]])
    compressed = exact @ _seeds(groups)
    assert np.array_equal(groups.expand(compressed[None])[0], exact)
    leaked = compressed.copy()
    leaked[1, groups.group[0]] += 1e-3  # torch's d y / d x nonzero: lands in row 1 of x's tangent
    assert groups.expand(leaked[None])[0][1, 1] == 1 + 1e-3  # reported at the entry sharing the tangent
    leaked = compressed.copy()
    leaked[0, groups.group[2]] += 1e-3  # torch's d x / d z nonzero: no entry of row 0 shares z's tangent
    assert groups.expand(leaked[None])[0][0, 2] == 1e-3  # reported where the exact Jacobian has 0


def _seeds(groups: ColumnGroups) -> np.ndarray:
    seeds = np.zeros((groups.n_inputs, groups.n_groups))
    seeds[np.arange(groups.n_inputs), groups.group] = 1
    return seeds


@pytest.mark.parametrize("n", [3, 8])
def test_grouped_forward_mode_equals_jacfwd(n: int, make_model: Callable[..., Model]) -> None:
    model = make_model(_layer(n))
    function = model.functions["F"]
    engine = TorchEngine(model)
    points = np.random.default_rng(n).uniform(-1, 1, (5, n * n + n))
    computed = engine.evaluate("jacobian", function, points, "float64", "cpu", "fwd")
    assert "tangents" in computed.strategy
    reverse = engine.evaluate("jacobian", function, points, "float64", "cpu", "rev")

    def layer(z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z[: n * n].reshape(n, n) @ z[n * n:])

    expected = torch.func.vmap(torch.func.jacfwd(layer))(torch.as_tensor(points)).numpy()
    np.testing.assert_allclose(computed.values, expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(reverse.values, expected, rtol=1e-13, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(pattern=st.lists(st.lists(st.booleans(), min_size=6, max_size=6), min_size=1, max_size=7),
       data=st.data())
def test_expansion_inverts_compression_for_any_pattern(pattern: list[list[bool]], data: st.DataObject) -> None:
    symbols = list(sympy.symbols("x0:6", real=True))
    entries = [sympy.Add(*(s**2 for s, used in zip(symbols, row) if used)) for row in pattern]
    groups = column_groups(entries, symbols, at_most=1.0)
    assert groups is not None
    values = data.draw(st.lists(st.floats(-10, 10), min_size=len(pattern) * 6, max_size=len(pattern) * 6))
    exact = np.array(values).reshape(len(pattern), 6) * np.array(pattern, dtype=float)
    assert np.array_equal(groups.expand((exact @ _seeds(groups))[None])[0], exact)


@settings(max_examples=40, deadline=None)
@given(pattern=st.lists(st.lists(st.booleans(), min_size=6, max_size=6), min_size=1, max_size=5),
       seed=st.integers(0, 2**32 - 1))
def test_comparing_along_tangents_equals_comparing_the_expanded_jacobians(pattern: list[list[bool]],
                                                                         seed: int) -> None:
    symbols = list(sympy.symbols("x0:6", real=True))
    entries = [sympy.Add(*(s**2 for s, used in zip(symbols, row) if used)) for row in pattern]
    groups = column_groups(entries, symbols, at_most=1.0)
    assert groups is not None
    rng = np.random.default_rng(seed)
    exact = rng.normal(size=(4, len(pattern), 6)) * np.array(pattern, dtype=float)
    exact[1] = np.nan  # an excluded point
    compressed = exact @ _seeds(groups)
    compressed += rng.choice([0.0, 1e-12, 1e-3], size=compressed.shape)  # torch's errors, leaks included
    tolerance = Tolerance(rtol=1e-7, atol=1e-10)
    defined = np.array([True, False, True, True])
    dense = agree(groups.expand(compressed), exact, tolerance, defined)
    along = groups.agree(compressed, exact, tolerance, defined)
    assert (along.mismatched, along.mismatched_points, along.points, along.excluded, along.entries) == (
        dense.mismatched, dense.mismatched_points, dense.points, dense.excluded, dense.entries)
    assert (along.max_abs_err, along.max_rel_err, along.max_ratio) == (dense.max_abs_err, dense.max_rel_err,
                                                                       dense.max_ratio)
    if dense.max_ratio > 0:
        assert (along.worst_point, along.worst_entry, along.worst_actual, along.worst_reference) == (
            dense.worst_point, dense.worst_entry, dense.worst_actual, dense.worst_reference)
