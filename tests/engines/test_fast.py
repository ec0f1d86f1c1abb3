"""SymEngine acceleration gives SymPy's derivatives and references (verify.engines.fast)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verify.engines import fast
from verify.engines.reference import compile_reference
from verify.engines.symbolic import jacobian_of

pytestmark = pytest.mark.skipif(not fast.available(), reason="symengine is not installed")

x, y, z = sympy.symbols("x y z", real=True)
SYMBOLS = [x, y, z]
UNARY = [sympy.sin, sympy.cos, sympy.tanh, sympy.atan, sympy.exp, sympy.erf, sympy.asinh,
         lambda e: sympy.log(1 + e**2), lambda e: sympy.sqrt(2 + sympy.sin(e))]


@st.composite
def expressions(draw: st.DrawFn, depth: int = 3) -> sympy.Expr:
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from([*SYMBOLS, sympy.Integer(draw(st.integers(-3, 3))), sympy.Rational(1, 3)]))
    kind = draw(st.sampled_from(["unary", "add", "mul", "pow"]))
    a = draw(expressions(depth - 1))
    if kind == "unary":
        return draw(st.sampled_from(UNARY))(a)
    b = draw(expressions(depth - 1))
    if kind == "add":
        return a + b
    if kind == "mul":
        return a * b
    return a ** draw(st.integers(1, 3))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions())
def test_symengine_jacobian_equals_sympy_in_value(expr: sympy.Expr) -> None:
    fast_jacobian = jacobian_of(np.array([expr], dtype=object), SYMBOLS)
    for j, symbol in enumerate(SYMBOLS):
        exact = sympy.diff(expr, symbol)
        for point in ({x: sympy.Rational(1, 3), y: sympy.Rational(-2, 7), z: sympy.Rational(5, 4)},
                      {x: sympy.Rational(-3, 2), y: sympy.Rational(1, 5), z: sympy.Rational(2, 9)}):
            a = sympy.N(fast_jacobian[0, j].xreplace(point), 30)
            b = sympy.N(exact.xreplace(point), 30)
            assert abs(a - b) <= sympy.Float("1e-25") * (1 + abs(b)), (expr, symbol, fast_jacobian[0, j], exact)


def test_tanh_of_a_matrix_product_is_identical_to_sympy() -> None:
    rng = np.random.default_rng(0)
    xs = sympy.symbols("x0:12", real=True)
    matrix = rng.integers(-9, 10, (12, 12))
    entries = np.array([sympy.tanh(sum(int(matrix[i, j]) * xs[j] for j in range(12))) for i in range(12)],
                       dtype=object)
    jacobian = jacobian_of(entries, xs)
    assert all(jacobian[i, j] == sympy.diff(entries[i], xs[j]) for i in range(12) for j in range(12))


@pytest.mark.parametrize("outer", ["sigmoid", "softplus", "erfinv", "lgamma", "relu", "log1p"])
def test_a_function_symengine_lacks_of_an_argument_it_has_is_sympys_chain_rule(outer: str) -> None:
    from verify.functions import ELEMENTWISE

    rng = np.random.default_rng(1)
    xs = sympy.symbols("x0:8", real=True)
    matrix = rng.integers(-9, 10, (3, 8))
    inner = [sympy.tanh(sum(int(matrix[i, j]) * xs[j] for j in range(8))) / 2 for i in range(3)]
    entries = np.array([ELEMENTWISE[outer].build(u) for u in inner], dtype=object)
    assert not any(fast.supported(e) for e in entries)  # the case this path is for
    rows = fast.jacobian_rows(list(entries), xs)
    assert rows is not None and all(row is not None for row in rows)
    jacobian = jacobian_of(entries, xs)
    assert all(jacobian[i, j] == sympy.diff(entries[i], xs[j]) for i in range(3) for j in range(8))


def test_a_derivative_symengine_leaves_unevaluated_is_left_to_sympy() -> None:
    # SymEngine rewrites atan2(y, y) with sign(y), whose derivative it leaves unevaluated
    jacobian = jacobian_of(np.array([x * sympy.atan2(y, y)], dtype=object), [x, y])
    assert not jacobian[0, 1].has(sympy.Derivative)
    assert jacobian[0, 1] == sympy.diff(x * sympy.atan2(y, y), y)


def test_the_certified_reference_agrees_with_numpy() -> None:
    entries = np.array([sympy.tanh(x * y) ** 3, sympy.asinh(y / x), sympy.exp(-x**2) * sympy.erf(z)], dtype=object)
    evaluator = compile_reference(entries, SYMBOLS)
    assert evaluator.backend == "arb"
    points = np.random.default_rng(1).uniform(-2, 2, (50, 3))
    expected = np.stack([np.tanh(points[:, 0] * points[:, 1]) ** 3, np.arcsinh(points[:, 1] / points[:, 0]),
                         np.exp(-points[:, 0] ** 2) * np.vectorize(__import__("math").erf)(points[:, 2])], axis=1)
    np.testing.assert_allclose(evaluator(points), expected, rtol=1e-13, atol=1e-15)
