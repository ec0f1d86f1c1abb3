"""The torch engine: the one SymPy -> torch table, dtypes of constants, and agreement with the exact reference.

Every function of the expression language is lowered to torch and compared, value and derivative, with
the exact reference (SymPy evaluated in float64) on an interval where the function is smooth. The points
are float32 numbers, so both precisions see exactly the same inputs and the float32 comparison measures
only float32 arithmetic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sympy
import torch

from verify.engines.autograd import LOWERING, TorchEngine, resolve_device
from verify.engines.reference import compile_reference
from verify.engines.symbolic import SymbolicEngine
from verify.functions import ELEMENTWISE

# name -> (expression over x and y, interval of x); y is always drawn from [0.5, 2].
# Each interval keeps away from poles, branch cuts and kinks of that function.
LANGUAGE = {
    "sin": ("sin(x)", -3, 3),
    "cos": ("cos(x)", -3, 3),
    "tan": ("tan(x)", -1.2, 1.2),
    "asin": ("asin(x)", -0.9, 0.9),
    "acos": ("acos(x)", -0.9, 0.9),
    "atan": ("atan(x)", -3, 3),
    "atan2": ("atan2(x, y)", -2, 2),
    "sinh": ("sinh(x)", -2, 2),
    "cosh": ("cosh(x)", -2, 2),
    "tanh": ("tanh(x)", -2, 2),
    "asinh": ("asinh(x)", -2, 2),
    "acosh": ("acosh(x)", 1.1, 3),
    "atanh": ("atanh(x)", -0.9, 0.9),
    "exp": ("exp(x)", -2, 2),
    "log": ("log(x) + log(y, 2)", 0.1, 4),
    "log1p": ("log1p(x)", -0.5, 3),
    "expm1": ("expm1(x)", -2, 2),
    "sqrt": ("sqrt(x)", 0.1, 4),
    "abs": ("abs(x)", -2, 2),
    "sign": ("sign(x) * y", -2, 2),
    "erf": ("erf(x)", -2, 2),
    "erfc": ("erfc(x)", -2, 2),
    "gamma": ("gamma(x)", 0.2, 4),
    "lgamma": ("lgamma(x)", 0.2, 4),
    "digamma": ("digamma(x)", 0.2, 4),
    "sigmoid": ("sigmoid(x)", -30, 30),
    "softplus": ("softplus(x)", -30, 30),
    "relu": ("relu(x)", -2, 2),
    "min": ("min(x, y, 1)", -3, 3),
    "max": ("max(x, y, 1)", -3, 3),
    "where": ("where(x > 0.5, x**2, sin(x))", -2, 2),
    "erfinv": ("erfinv(x)", -0.9, 0.9),
    "erfcinv": ("erfcinv(x)", 0.1, 1.9),
    "ndtr": ("ndtr(x)", -3, 3),
    "log_ndtr": ("log_ndtr(x)", -3, 3),
    "ndtri": ("ndtri(x)", 0.05, 0.95),
    "sinc": ("sinc(x)", -2, 2),
    "i0": ("i0(x)", -3, 3),
    "i1": ("i1(x)", -3, 3),
    "i0e": ("i0e(x)", 0.1, 3),
    "i1e": ("i1e(x)", 0.1, 3),
    "polygamma": ("polygamma(2, x)", 0.5, 4),  # (torch's trigamma, order 1, is good to ~5e-10 only)
    "xlogy": ("xlogy(x, y)", 0.1, 3),
    "xlog1py": ("xlog1py(x, y)", 0.1, 3),
    "logit": ("logit(x)", 0.05, 0.95),
    "floor": ("floor(x) * x", -3, 3),
    "ceil": ("ceil(x) * x", -3, 3),
    "trunc": ("trunc(x) * x", -3, 3),
    "round": ("round(x) * x", -3, 3),
    "frac": ("frac(x)", -3, 3),
    "fmod": ("fmod(x, y)", 0.3, 3),
    "remainder": ("remainder(x, y)", 0.3, 3),
}

# Tolerances of this test, chosen from the precisions themselves: float64 results should agree to
# a few ulps of a well-conditioned function; float32 to a few float32 ulps (2**-23 ~ 1.2e-7).
# torch's trigamma (the derivative of digamma) is only accurate to ~5e-10 relative in float64
# (checked against mpmath), so that one entry gets a looser float64 bound.
TOLERANCES = {"float64": (1e-10, 1e-12), "float32": (2e-5, 1e-6)}
LOOSE_FLOAT64 = {"digamma": 1e-8}


def values(computed: Any) -> np.ndarray:
    """evaluate() gives the float64 array (or an object holding it as .values)."""
    return np.asarray(getattr(computed, "values", computed))


def float32_points(count: int, columns: list[tuple[float, float]], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    raw = np.stack([rng.uniform(lo, hi, count) for lo, hi in columns], axis=1)
    return raw.astype(np.float32).astype(np.float64)


def heads(expr: sympy.Basic) -> set[type]:
    return {type(node) for node in sympy.preorder_traversal(expr) if not node.is_Atom}


# -- the table --------------------------------------------------------------------------------

def test_language_table_covers_every_elementwise_function() -> None:
    assert set(ELEMENTWISE) <= set(LANGUAGE), set(ELEMENTWISE) - set(LANGUAGE)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_every_language_function_has_a_lowering(name: str) -> None:
    builtin = ELEMENTWISE[name]
    args = sympy.symbols(f"a0:{builtin.arities[0]}", real=True)
    built = builtin.build(*args)
    # Pow (sqrt) is lowered structurally like +, *; every other head must be a key of the one table.
    missing = {h for h in heads(built) if h is not sympy.Pow and h not in LOWERING}
    assert not missing, f"{name}: {built} has no LOWERING entry for {missing}"


def test_where_min_max_and_piecewise_are_in_the_table(make_model) -> None:
    for head in (sympy.Min, sympy.Max, sympy.Piecewise):
        assert head in LOWERING
    model = make_model("""
        variables: [x, y]
        functions:
          f: "where(x > y, min(x, y), max(x, 0.5))"
    """)
    entry = model.functions["f"].entries.reshape(-1)[0]
    # ExprCondPair is the (value, condition) pair inside a Piecewise, lowered with it
    lowered_elsewhere = {sympy.Pow, sympy.functions.elementary.piecewise.ExprCondPair}
    assert {sympy.Piecewise, sympy.Min, sympy.Max} <= heads(entry)
    for head in heads(entry) - lowered_elsewhere:
        assert head in LOWERING, head


# -- every function: value and derivative against the exact reference ----------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(LANGUAGE))
def test_function_value_and_derivative_match_reference(make_model, name: str, dtype: str) -> None:
    text, low, high = LANGUAGE[name]
    model = make_model(f"""
        variables: {{x: {{low: {low}, high: {high}}}, y: {{low: 0.5, high: 2}}}}
        functions:
          f: "{text}"
    """)
    function = model.functions["f"]
    points = float32_points(48, [(low, high), (0.5, 2.0)])
    symbols = function.flat_symbols
    value_ref = compile_reference(function.entries.reshape(1), symbols)(points)
    jac_ref = compile_reference(SymbolicEngine(model).jacobian(function), symbols)(points)
    assert np.isfinite(value_ref).all() and np.isfinite(jac_ref).all(), "the interval must be smooth"
    rtol, atol = TOLERANCES[dtype]
    jac_rtol = LOOSE_FLOAT64.get(name, rtol) if dtype == "float64" else rtol
    engine = TorchEngine(model)

    got = values(engine.evaluate("value", function, points, dtype, "cpu")).reshape(value_ref.shape)
    np.testing.assert_allclose(got, value_ref, rtol=rtol, atol=atol, err_msg=f"value of {text} [{dtype}]")
    for mode in ("rev", "fwd"):
        got = values(engine.evaluate("jacobian", function, points, dtype, "cpu", mode)).reshape(jac_ref.shape)
        np.testing.assert_allclose(got, jac_ref, rtol=jac_rtol, atol=atol,
                                   err_msg=f"derivative of {text} [{mode}, {dtype}]")


def test_derivatives_are_not_trivially_zero(make_model) -> None:
    """Guards the test above: its derivatives are real numbers that vary, so agreement means something."""
    model = make_model("""
        variables: {x: {low: 0.2, high: 4}}
        functions:
          f: "gamma(x) + softplus(x)"
    """)
    function = model.functions["f"]
    points = float32_points(16, [(0.2, 4.0)])
    jac = values(TorchEngine(model).evaluate("jacobian", function, points, "float64", "cpu")).reshape(-1)
    assert np.ptp(jac) > 1.0


@pytest.mark.parametrize("interval", [(-0.95, -0.05), (-1.95, -1.05), (-2.95, -2.05)])
def test_gamma_keeps_its_sign_on_negative_intervals(make_model, interval: tuple[float, float]) -> None:
    low, high = interval
    model = make_model(f"""
        variables: {{x: {{low: {low}, high: {high}}}}}
        functions:
          f: gamma(x)
    """)
    function = model.functions["f"]
    points = float32_points(32, [interval])
    from scipy.special import gamma

    got = values(TorchEngine(model).evaluate("value", function, points, "float64", "cpu")).reshape(-1)
    np.testing.assert_allclose(got, gamma(points[:, 0]), rtol=1e-10)


def test_nested_where_lowers_every_branch(make_model) -> None:
    model = make_model("""
        variables: {x: {low: -3, high: 3}}
        functions:
          f: "where(x < -1, -x, where(x < 1, x**2, 2*x - 1))"
    """)
    function = model.functions["f"]
    points = np.array([[-2.5], [-1.5], [-0.5], [0.25], [0.75], [2.0]])
    expected_value = np.where(points < -1, -points, np.where(points < 1, points**2, 2 * points - 1)).reshape(-1)
    expected_slope = np.where(points < -1, -1.0, np.where(points < 1, 2 * points, 2.0)).reshape(-1)
    engine = TorchEngine(model)
    np.testing.assert_allclose(values(engine.evaluate("value", function, points, "float64", "cpu")).reshape(-1),
                               expected_value, rtol=1e-15)
    for mode in ("rev", "fwd"):
        got = values(engine.evaluate("jacobian", function, points, "float64", "cpu", mode)).reshape(-1)
        np.testing.assert_allclose(got, expected_slope, rtol=1e-15)


def test_where_passes_nan_gradients_from_the_branch_not_taken(make_model) -> None:
    """torch.where's gradient is nan where the untaken branch's is: verify must show it, not hide it."""
    model = make_model("""
        variables: {x: {low: -2, high: 2}}
        functions:
          f: "where(x > 0, sqrt(x), 0)"
    """)
    function = model.functions["f"]
    points = np.array([[-1.0], [1.0]])
    exact = compile_reference(SymbolicEngine(model).jacobian(function), function.flat_symbols)(points).reshape(-1)
    got = values(TorchEngine(model).evaluate("jacobian", function, points, "float64", "cpu", "rev")).reshape(-1)
    assert exact[0] == 0.0 and np.isnan(got[0])
    assert got[1] == pytest.approx(0.5)


# -- constants and dtypes -----------------------------------------------------------------------

CONSTANTS_CASE = """
    variables: {x: {low: 0.5, high: 2}, y: {low: 0.5, high: 2}}
    functions:
      F: [x + y, "3", 0.5*x + pi, x**1.5, 2**x, E**y, "log(x, 2)", 1/x]
      c: "7"
      s: 0.5*x + 0.25
"""


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_constants_become_tensors_of_the_input_dtype(make_model, dtype: torch.dtype) -> None:
    model = make_model(CONSTANTS_CASE)
    engine = TorchEngine(model)
    name = str(dtype).removeprefix("torch.")
    z = torch.tensor([0.7, 1.3], dtype=dtype)
    for function_name in ("F", "c", "s"):
        fn = engine.torch_function(model.functions[function_name], name, "cpu")
        assert fn(z).dtype == dtype, function_name
        assert torch.func.jacrev(fn)(z).dtype == dtype, function_name
        assert torch.func.jacfwd(fn)(z).dtype == dtype, function_name
        batch = z.expand(3, 2)
        assert torch.func.vmap(torch.func.jacfwd(fn))(batch).dtype == dtype, function_name


def test_jacfwd_on_zero_dimensional_float32_input_stays_float32(make_model) -> None:
    model = make_model("""
        variables: {x: {low: 0.5, high: 2}}
        functions:
          f: 0.5*x**2 + pi*x + 3
    """)
    fn = TorchEngine(model).torch_function(model.functions["f"], "float32", "cpu")
    x = torch.tensor(0.3, dtype=torch.float32)  # 0-d
    derivative = torch.func.jacfwd(lambda t: fn(t.reshape(1))[0])(x)
    assert derivative.dtype == torch.float32
    assert derivative.dim() == 0
    assert derivative.item() == pytest.approx(0.3 + np.pi, rel=1e-6)
    second = torch.func.jacfwd(torch.func.jacrev(lambda t: fn(t.reshape(1))[0]))(x)
    assert second.dtype == torch.float32 and second.item() == pytest.approx(1.0, rel=1e-6)


def test_constant_entries_broadcast_to_the_batch(make_model) -> None:
    model = make_model(CONSTANTS_CASE)
    engine = TorchEngine(model)
    points = float32_points(5, [(0.5, 2.0), (0.5, 2.0)])
    F = model.functions["F"]
    value = values(engine.evaluate("value", F, points, "float32", "cpu")).reshape(5, -1)
    np.testing.assert_array_equal(value[:, 1], np.full(5, 3.0))
    for mode in ("rev", "fwd"):
        jac = values(engine.evaluate("jacobian", F, points, "float32", "cpu", mode)).reshape(5, 8, 2)
        np.testing.assert_array_equal(jac[:, 0], np.ones((5, 2)))  # d(x + y)
        np.testing.assert_array_equal(jac[:, 1], np.zeros((5, 2)))  # d 3
        np.testing.assert_allclose(jac[:, 2], np.tile([0.5, 0.0], (5, 1)))
    c = model.functions["c"]
    np.testing.assert_array_equal(values(engine.evaluate("value", c, points, "float64", "cpu")).reshape(-1),
                                  np.full(5, 7.0))
    for mode in ("rev", "fwd"):
        jac = values(engine.evaluate("jacobian", c, points, "float64", "cpu", mode))
        assert jac.size == 10 and not jac.any()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_constant_heavy_function_matches_reference(make_model, dtype: str) -> None:
    model = make_model(CONSTANTS_CASE)
    F = model.functions["F"]
    points = float32_points(32, [(0.5, 2.0), (0.5, 2.0)])
    reference = compile_reference(SymbolicEngine(model).jacobian(F), F.flat_symbols)(points)
    rtol, atol = TOLERANCES[dtype]
    engine = TorchEngine(model)
    for mode in ("rev", "fwd"):
        got = values(engine.evaluate("jacobian", F, points, dtype, "cpu", mode)).reshape(reference.shape)
        np.testing.assert_allclose(got, reference, rtol=rtol, atol=atol)


# -- Hessians -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", ["fwd", "rev"], ids=["fwd-over-rev", "rev-over-rev"])
def test_hessian_matches_reference(make_model, dtype: str, mode: str) -> None:
    model = make_model("""
        variables: {x: {low: -1, high: 1}, v: {low: 0.5, high: 1.5, shape: [2]}}
        functions:
          f: "x * dot(v, v) + sin(v[0] * x) + exp(v[1]) / v[0] + x**4"
    """)
    f = model.functions["f"]
    points = float32_points(40, [(-1.0, 1.0), (0.5, 1.5), (0.5, 1.5)])
    reference = compile_reference(SymbolicEngine(model).hessian(f), f.flat_symbols)(points)
    got = values(TorchEngine(model).evaluate("hessian", f, points, dtype, "cpu", mode)).reshape(40, 3, 3)
    rtol, atol = TOLERANCES[dtype]
    np.testing.assert_allclose(got, reference, rtol=rtol, atol=atol)
    # independent of the symbolic engine: d2f/dx2 = 12 x**2 - v0**2 sin(v0 x), d2f/dx dv1 = 2 v1
    x, v0, v1 = points[:, 0], points[:, 1], points[:, 2]
    np.testing.assert_allclose(got[:, 0, 0], 12 * x**2 - v0**2 * np.sin(v0 * x), rtol=rtol, atol=atol)
    np.testing.assert_allclose(got[:, 0, 2], 2 * v1, rtol=rtol, atol=atol)
    np.testing.assert_allclose(got, np.swapaxes(got, 1, 2), rtol=rtol, atol=atol)


def test_hessian_forward_over_reverse_is_forward_over_reverse(make_model, monkeypatch) -> None:
    """Mode fwd of a Hessian runs jacfwd over jacrev (the contract's forward-over-reverse), in that nesting."""
    model = make_model("""
        variables: [x, y]
        functions:
          f: x**2 * y
    """)
    calls: list[tuple[str, Any, Any]] = []  # (transform, the function it was given, the function it returned)
    for name in ("jacfwd", "jacrev"):
        original = getattr(torch.func, name)

        def spy(fn: Any, *args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            result = _original(fn, *args, **kwargs)
            calls.append((_name, fn, result))
            return result

        monkeypatch.setattr(torch.func, name, spy)
    points = np.array([[1.0, 2.0], [0.5, -1.0]])
    got = values(TorchEngine(model).evaluate("hessian", model.functions["f"], points, "float64", "cpu", "fwd"))
    np.testing.assert_allclose(got.reshape(2, 2, 2), [[[4.0, 2.0], [2.0, 0.0]], [[-2.0, 1.0], [1.0, 0.0]]])
    # order-sensitive: jacrev first (the inner transform), then jacfwd applied to what jacrev returned;
    # jacrev(jacfwd(f)) computes the same numbers, so only the structure tells them apart
    assert [name for name, _, _ in calls] == ["jacrev", "jacfwd"], calls
    (_, _, inner), (_, outer_argument, _) = calls
    assert outer_argument is inner, "jacfwd must be applied to the function jacrev returned"


# -- devices and errors -------------------------------------------------------------------------

def test_resolve_device() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cuda") == ("cuda" if torch.cuda.is_available() else None)


def test_unknown_kind_is_rejected(make_model) -> None:
    model = make_model(CONSTANTS_CASE)
    with pytest.raises(ValueError, match="kind"):
        TorchEngine(model).evaluate("laplacian", model.functions["s"], np.zeros((2, 2)), "float64", "cpu")
