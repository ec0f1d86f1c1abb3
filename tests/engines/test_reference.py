"""The exact reference: SymPy entries evaluated with NumPy/SciPy in float64, nan where undefined.

Values are compared with independent implementations (math, numpy, scipy called directly), never
with the torch engine.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import sympy
from sympy.codegen.cfunctions import expm1, log1p

from verify.engines.reference import compile_reference
from verify.engines.symbolic import jacobian_of
from verify.functions import relu, sigmoid, softplus

x, y = sympy.symbols("x y", real=True)
XY = [x, y]


def entries(*exprs: object) -> np.ndarray:
    return np.array(exprs, dtype=object)


def evaluate(exprs: np.ndarray, points: list[list[float]]) -> np.ndarray:
    return compile_reference(exprs, XY)(np.array(points, dtype=np.float64))


# (SymPy expression, independent scalar implementation, x values where it is defined); y is 0.75
ONE_ARG = [
    (sympy.sin(x), math.sin, [-2.0, 0.3, 1.5]),
    (sympy.tan(x), math.tan, [-1.2, 0.3, 1.0]),
    (sympy.acos(x), math.acos, [-0.9, 0.0, 0.7]),
    (sympy.atanh(x), math.atanh, [-0.9, 0.1, 0.5]),
    (sympy.acosh(x), math.acosh, [1.0, 1.5, 3.0]),
    (sympy.atan2(x, y), lambda v: math.atan2(v, 0.75), [-2.0, 0.0, 3.0]),
    (log1p(x), math.log1p, [-0.5, 1e-12, 3.0]),
    (expm1(x), math.expm1, [-2.0, 1e-12, 2.0]),
    (sympy.log(x, 2), math.log2, [0.25, 3.0, 1024.0]),
    (sympy.erfc(x), math.erfc, [-2.0, 0.0, 3.0]),
    (sympy.gamma(x), math.gamma, [-0.5, 0.2, 4.5]),
    (sympy.loggamma(x), math.lgamma, [0.2, 1.0, 30.0]),
    (sympy.digamma(x), scipy.special.digamma, [0.2, 1.0, 7.5]),
    (sympy.sign(x), lambda v: math.copysign(1.0, v) if v else 0.0, [-2.0, 0.0, 3.0]),
    (relu(x), lambda v: max(v, 0.0), [-2.0, 0.0, 3.0]),
    (sigmoid(x), lambda v: 1 / (1 + math.exp(-v)), [-30.0, 0.0, 2.5]),
    (softplus(x), lambda v: math.log1p(math.exp(v)), [-30.0, 0.0, 2.5]),
    (sympy.Max(x, y, sympy.Rational(1, 2)), lambda v: max(v, 0.75, 0.5), [-2.0, 0.6, 3.0]),
    (sympy.Min(x, y), lambda v: min(v, 0.75), [-2.0, 0.6, 3.0]),
    (sympy.Piecewise((x**2, x > 0), (-x, True)), lambda v: v * v if v > 0 else -v, [-2.0, 0.0, 1.5]),
]


@pytest.mark.parametrize(("expr", "scalar", "xs"), ONE_ARG, ids=[str(e[0]) for e in ONE_ARG])
def test_values_match_independent_implementations(expr, scalar, xs: list[float]) -> None:
    got = evaluate(np.array(expr, dtype=object), [[v, 0.75] for v in xs])  # one 0-d entry
    assert got.shape == (len(xs),) and got.dtype == np.float64
    np.testing.assert_allclose(got, [float(scalar(v)) for v in xs], rtol=1e-13, atol=1e-300)


def test_stable_sigmoid_and_softplus_far_from_zero() -> None:
    got = evaluate(entries(sigmoid(x), softplus(x)), [[-1000.0, 0.0], [1000.0, 0.0]])
    # log(1 + exp(1000)) overflows if computed naively; the exact values are 1000 (+ tiny) and 0
    np.testing.assert_allclose(got, [[0.0, 0.0], [1.0, 1000.0]], rtol=1e-15, atol=1e-300)


def test_output_shape_is_batch_then_entry_shape() -> None:
    matrix = np.array([[x, y, x * y], [sympy.sin(x), 2, x + y]], dtype=object)
    points = np.array([[1.0, 2.0], [0.5, -1.0], [0.0, 3.0], [2.0, 2.0]])
    got = compile_reference(matrix, XY)(points)
    assert got.shape == (4, 2, 3)
    np.testing.assert_allclose(got[:, 0, 2], points[:, 0] * points[:, 1])
    np.testing.assert_allclose(got[:, 1, 0], np.sin(points[:, 0]))


def test_constant_entries_broadcast_to_the_batch() -> None:
    jac = np.array([[sympy.Integer(1), sympy.Integer(1)], [2 * x, sympy.Rational(-1, 2)]], dtype=object)
    got = compile_reference(jac, XY)(np.array([[1.0, 0.0], [2.0, 5.0], [-3.0, 1.0]]))
    assert got.shape == (3, 2, 2)
    np.testing.assert_array_equal(got[:, 0, :], np.ones((3, 2)))
    np.testing.assert_array_equal(got[:, 1, 0], [2.0, 4.0, -6.0])
    np.testing.assert_array_equal(got[:, 1, 1], [-0.5, -0.5, -0.5])


def test_all_constant_and_zero_dimensional_entries() -> None:
    points = np.zeros((5, 2))
    constant = compile_reference(np.array([[sympy.Integer(2), sympy.pi]], dtype=object), XY)(points)
    assert constant.shape == (5, 1, 2)
    np.testing.assert_allclose(constant, np.broadcast_to([[2.0, math.pi]], (5, 1, 2)))
    scalar = compile_reference(np.array(sympy.Integer(3), dtype=object), XY)(points)
    assert scalar.shape == (5,)
    np.testing.assert_array_equal(scalar, np.full(5, 3.0))


def test_repeated_subexpressions_are_evaluated_correctly() -> None:
    shared = sympy.exp(x * y) + sympy.sin(x * y)
    exprs = entries(shared, shared**2, x * shared, shared / (1 + y**2))
    point = [0.3, -1.2]
    s = math.exp(0.3 * -1.2) + math.sin(0.3 * -1.2)
    np.testing.assert_allclose(evaluate(exprs, [point])[0], [s, s * s, 0.3 * s, s / (1 + 1.44)], rtol=1e-14)


# -- undefined and non-finite points: nan or inf, never a made-up number -------------------------

def test_outside_the_real_domain_gives_nan() -> None:
    got = evaluate(entries(sympy.sqrt(x), sympy.log(x), sympy.asin(x), sympy.acosh(x)), [[-2.0, 0.0], [-4.0, 0.0]])
    assert np.isnan(got).all()


def test_poles_are_not_finite() -> None:
    got = evaluate(entries(1 / x, sympy.log(x), sympy.gamma(x), 1 / (x - y)),
                   [[0.0, 0.0], [-2.0, -2.0]])
    assert not np.isfinite(got[0]).any()
    assert not np.isfinite(got[1, [2, 3]]).any()  # gamma at -2, 1/(x - y) at x = y


@pytest.mark.parametrize(
    ("expr", "kink"),
    [(relu(x), [0.0, 0.3]), (sympy.Max(x, y), [0.5, 0.5]), (sympy.Min(x, y), [-1.0, -1.0]),
     (sympy.Max(x, y, sympy.Rational(1, 2)), [0.5, 0.2]), (relu(x - y), [0.25, 0.25])],
    ids=["relu", "max", "min", "max3", "relu-shifted"],
)
def test_derivative_at_a_kink_is_nan_and_elsewhere_defined(expr: sympy.Expr, kink: list[float]) -> None:
    jac = jacobian_of(entries(expr), XY)
    got = compile_reference(jac, XY)(np.array([kink, [kink[0] + 0.5, kink[1] - 0.25]]))
    assert np.isnan(got[0]).any(), f"{expr}: derivative at the kink {kink} should be undefined"
    assert np.isfinite(got[1]).all()


def test_derivative_of_abs_at_its_kink_is_nan() -> None:
    jac = jacobian_of(entries(sympy.Abs(x), sympy.Abs(x - y)), XY)
    got = compile_reference(jac, XY, derivative=True)(np.array([[0.0, 0.0]]))
    assert np.isnan(got[0, 0, 0]) and np.isnan(got[0, 1, 0])
    # as a value, sign(0) is 0: only in a derivative does it mark a kink
    assert compile_reference(entries(sympy.sign(x)), XY)(np.array([[0.0, 0.0]]))[0, 0] == 0


def test_derivative_of_abs_away_from_its_kink() -> None:
    jac = jacobian_of(entries(sympy.Abs(x)), XY)
    got = compile_reference(jac, XY)(np.array([[-2.0, 0.0], [0.5, 0.0]]))
    np.testing.assert_array_equal(got[:, 0, 0], [-1.0, 1.0])


def test_derivative_of_sign_is_zero_except_at_zero() -> None:
    jac = jacobian_of(entries(sympy.sign(x)), XY)
    got = compile_reference(jac, XY)(np.array([[-2.0, 0.0], [3.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_array_equal(got[:2, 0, 0], [0.0, 0.0])
    assert np.isnan(got[2, 0, 0])
