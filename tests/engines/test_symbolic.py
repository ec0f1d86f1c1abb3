"""The symbolic engine: exact Jacobians, gradients, Hessians and chain-rule products.

Expected derivatives are derived by hand (the seed notes' examples) or with SymPy's own Matrix
calculus on the composed expression, independently of verify's code.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from verify.engines.reference import compile_reference
from verify.engines.symbolic import SymbolicEngine, jacobian_of

x, y = sympy.symbols("x y", real=True)


def assert_same(derived: np.ndarray, expected: object) -> None:
    """Entry by entry, the difference simplifies to 0."""
    expected = np.array(expected, dtype=object)
    assert derived.shape == expected.shape, (derived.shape, expected.shape)
    for index in np.ndindex(*derived.shape):
        difference = sympy.simplify(sympy.sympify(derived[index]) - sympy.sympify(expected[index]))
        assert difference == 0, f"entry {index}: {derived[index]} != {expected[index]}"


def symbols_of(model, name: str) -> dict[str, sympy.Symbol]:
    return {str(s): s for s in model.functions[name].flat_symbols}


# -- jacobian_of --------------------------------------------------------------------------------

def test_jacobian_of_rows_are_entries_in_c_order_and_columns_are_symbols() -> None:
    entries = np.array([[x * y, x**2], [sympy.sin(y), sympy.Integer(3)]], dtype=object)
    jac = jacobian_of(entries, [x, y])
    assert jac.shape == (4, 2)
    assert_same(jac, [[y, x], [2 * x, 0], [0, sympy.cos(y)], [0, 0]])


def test_jacobian_of_missing_symbols_gives_exact_zero() -> None:
    jac = jacobian_of(np.array([x**2], dtype=object), [x, y])
    assert jac[0, 1] is sympy.S.Zero


# -- the seed notes' examples, derived by hand -----------------------------------------------------

def test_jacobian_of_vector_function(make_model) -> None:
    model = make_model("""
        variables: [x, y]
        functions:
          F: [x**2 + y**2, x + y]
    """)
    s = symbols_of(model, "F")
    assert_same(SymbolicEngine(model).jacobian(model.functions["F"]), [[2 * s["x"], 2 * s["y"]], [1, 1]])


def test_gradient_and_hessian_of_scalar_function(make_model) -> None:
    model = make_model("""
        variables: [x, y]
        functions:
          f: x**2 + x*y + y**2
    """)
    engine, f = SymbolicEngine(model), model.functions["f"]
    s = symbols_of(model, "f")
    assert_same(engine.gradient(f), [2 * s["x"] + s["y"], s["x"] + 2 * s["y"]])
    assert_same(engine.hessian(f), [[2, 1], [1, 2]])


def test_scalar_derivative_and_second_derivative(make_model) -> None:
    model = make_model("""
        variables: [x]
        functions:
          f: x**3 + 3*x**2 - 2*x + 1
    """)
    engine, f = SymbolicEngine(model), model.functions["f"]
    X = symbols_of(model, "f")["x"]
    assert_same(engine.gradient(f), [3 * X**2 + 6 * X - 2])
    assert_same(engine.hessian(f), [[6 * X + 6]])


def test_vector_variable_derivatives_are_taken_entrywise(make_model) -> None:
    model = make_model("""
        variables: {v: {shape: [3]}, t: {}}
        functions:
          f: "t * dot(v, v) + v[0] * v[2]"
    """)
    engine, f = SymbolicEngine(model), model.functions["f"]
    s = symbols_of(model, "f")
    v0, v1, v2, t = s["v[0]"], s["v[1]"], s["v[2]"], s["t"]
    expr = t * (v0**2 + v1**2 + v2**2) + v0 * v2
    order = [v0, v1, v2, t]
    assert_same(engine.gradient(f), [sympy.diff(expr, a) for a in order])
    hess = engine.hessian(f)
    assert_same(hess, sympy.hessian(expr, order).tolist())
    assert_same(hess, hess.T)


def test_derivatives_are_cached_and_read_only(make_model) -> None:
    model = make_model("""
        variables: [x, y]
        functions:
          f: sin(x*y)
    """)
    engine, f = SymbolicEngine(model), model.functions["f"]
    first = engine.jacobian(f)
    assert engine.jacobian(f) is first
    assert engine.hessian(f) is engine.hessian(f)
    with pytest.raises(ValueError, match="read-only"):
        first[0, 0] = sympy.Integer(0)


# -- chain-rule products --------------------------------------------------------------------------

DEPTH_THREE = """
    variables: {x: {low: -1, high: 1}, y: {low: -1, high: 1}}
    functions:
      K: {args: [x, y], expr: [x*y, x + y**2, sin(x)]}
      G: {args: [a, b, c], expr: [a + exp(b), a*c]}
      F: {args: [u, v], expr: [u**2 + v, u*v, tanh(u)]}
      H: F(G(K(x, y)))
"""

SEVERAL_INNER = """
    variables: {x: {low: -1, high: 1}, y: {low: -1, high: 1}}
    functions:
      P: {args: [p], expr: [p**2, 3*p + sin(p)]}
      Q: {args: [q], expr: cos(q)}
      R: {args: [s, t, w], expr: [s*t + w**3, exp(s - w)]}
      S: R(P(x), Q(y))
      V: {args: {m: {shape: [2]}, w: {}}, expr: "m[0]*w + m[1]**2"}
      U: V(P(x), Q(y))
"""


def _composed_jacobian(stages: list[tuple[list[sympy.Expr], list[sympy.Symbol]]], inputs: list[sympy.Symbol]):
    """Stage Jacobians multiplied as matrices (J_F(G(K)) J_G(K) J_K), with SymPy Matrix calculus only."""
    value = sympy.Matrix(inputs)
    product = sympy.eye(len(inputs))
    for exprs, args in stages:
        at = dict(zip(args, list(value)))
        stage = sympy.Matrix(exprs).jacobian(args).xreplace(at)
        product = stage * product
        value = sympy.Matrix(exprs).xreplace(at)
    return product, value


def _numeric(matrix: np.ndarray, symbols: list[sympy.Symbol], points: np.ndarray) -> np.ndarray:
    fn = sympy.lambdify(symbols, sympy.Matrix(matrix), modules="numpy")
    return np.stack([np.asarray(fn(*row), dtype=float) for row in points])


def test_chain_product_at_depth_three_equals_the_jacobian(make_model) -> None:
    model = make_model(DEPTH_THREE)
    engine, H = SymbolicEngine(model), model.functions["H"]
    assert H.call_tree is not None
    product = engine.chain_product(H)
    jac = engine.jacobian(H)
    assert product.shape == jac.shape == (3, 2)
    assert_same(product, jac)

    # and both equal the product of the three stage Jacobians, derived independently
    X, Y = H.flat_symbols
    a, b, c, u, v = sympy.symbols("a b c u v", real=True)
    expected, value = _composed_jacobian([
        ([X * Y, X + Y**2, sympy.sin(X)], [X, Y]),
        ([a + sympy.exp(b), a * c], [a, b, c]),
        ([u**2 + v, u * v, sympy.tanh(u)], [u, v]),
    ], [X, Y])
    points = np.random.default_rng(1).uniform(-1, 1, (16, 2))
    reference = compile_reference(product, [X, Y])(points)
    np.testing.assert_allclose(reference, _numeric(np.array(expected.tolist(), dtype=object), [X, Y], points),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(compile_reference(H.entries.reshape(-1), [X, Y])(points),
                               _numeric(np.array(value.tolist(), dtype=object), [X, Y], points)[:, :, 0],
                               rtol=1e-12)


@pytest.mark.parametrize("name", ["S", "U"])
def test_chain_product_with_several_inner_calls_equals_the_jacobian(make_model, name: str) -> None:
    model = make_model(SEVERAL_INNER)
    engine, function = SymbolicEngine(model), model.functions[name]
    assert function.call_tree is not None
    product = engine.chain_product(function)
    X, Y = function.flat_symbols
    composed = sympy.Matrix(function.entries.reshape(-1).tolist())
    assert_same(product, composed.jacobian([X, Y]).tolist())
    assert_same(product, engine.jacobian(function))


def test_chain_product_of_several_inner_calls_by_hand(make_model) -> None:
    model = make_model(SEVERAL_INNER)
    S = model.functions["S"]
    X, Y = S.flat_symbols
    # R(s, t, w) with (s, t) = P(x) = (x^2, 3x + sin x), w = Q(y) = cos y
    s, t, w = X**2, 3 * X + sympy.sin(X), sympy.cos(Y)
    expected = [
        [2 * X * t + s * (3 + sympy.cos(X)), 3 * w**2 * -sympy.sin(Y)],
        [2 * X * sympy.exp(s - w), sympy.exp(s - w) * sympy.sin(Y)],
    ]
    assert_same(SymbolicEngine(model).chain_product(S), expected)


def test_chain_product_is_cached(make_model) -> None:
    model = make_model(DEPTH_THREE)
    engine, H = SymbolicEngine(model), model.functions["H"]
    assert engine.chain_product(H) is engine.chain_product(H)
