"""The certified reference: verdicts right exactly where float64 evaluation of the formula is not.

Each case of the issue that introduced it is here as a whole run; the expected values come
from mpmath at high precision or from closed forms, never from verify's own output.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy

from verify.engines.certified import BOUNDARY, DEFINED, UNDEFINED, compile_arb, exclusion_text, spot_check
from verify.results import Result

x, y = sympy.symbols("x y", real=True)

OPS = '''
import torch

def log_ndtr(x):
    return torch.special.log_ndtr(x)

def logsumexp(v):
    return torch.logsumexp(v, 0)

def clamped_exp(x):
    return torch.exp(torch.clamp(x, max=700.0))

def sinc(x):
    return torch.sinc(x)
'''


@pytest.fixture
def run_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], list[Result]]:
    from verify.case import load_file
    from verify.run import RunOptions, run_case

    (tmp_path / "certified_ops.py").write_text(OPS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))

    def run(text: str) -> list[Result]:
        path = tmp_path / "case.yaml"
        path.write_text(text, encoding="utf-8")
        return [r for case in load_file(path, "case.yaml") for r in run_case(case, RunOptions())]

    return run


def expected_of(message: str) -> float:
    return float(message.split("expected ")[1].split(",")[0])


# -- the cases ----------------------------------------------------------------------------

def test_a_derivative_lost_to_cancellation_fails_with_the_true_value(run_yaml) -> None:
    rows = run_yaml("""
variables: {x: {low: 1e-9, high: 1e-8}}
functions:
  f: (exp(x) - 1)/x
checks:
  - gradient: f
""")
    assert {r.status for r in rows} == {"fail"}
    for row in rows:
        assert expected_of(row.message) == pytest.approx(0.5, rel=1e-7)  # d/dx (e^x - 1)/x -> 1/2 at 0
        assert "scales with precision" in row.message  # torch's formula is inaccurate here, not wrong


def test_a_positive_function_has_a_positive_reference(run_yaml) -> None:
    rows = run_yaml("""
variables: {x: {low: 15, high: 20}}
functions:
  f: cosh(x) - sinh(x)
checks:
  - value: f
""")
    (row,) = rows
    assert row.status == "fail"
    expected = expected_of(row.message)
    point = float(row.worst_point.split("=")[1])
    assert expected > 0
    assert expected == pytest.approx(math.exp(-point), rel=1e-6)  # cosh - sinh = e^-x, to the point's 6 digits
    assert row.reference_bits >= 53


def test_torch_log_ndtr_passes_on_its_whole_range(run_yaml) -> None:
    rows = run_yaml("""
variables: {x: {low: -35, high: 8}}
functions:
  f: {args: [x], expr: "log(erfc(-x/sqrt(2))/2)", impl: "certified_ops:log_ndtr"}
checks:
  - value: f
  - gradient: f
points: {random: 64, at: [{x: -35}, {x: -20}, {x: 8}]}
""")
    assert rows and all(r.status == "pass" and r.excluded == 0 for r in rows), [r.message for r in rows]


def test_torch_logsumexp_passes_where_float64_exp_overflows(run_yaml) -> None:
    rows = run_yaml("""
variables: {v: {low: 700, high: 800, shape: [3]}}
functions:
  f: {args: [v], expr: "log(sum(exp(v)))", impl: "certified_ops:logsumexp"}
checks:
  - value: f
  - gradient: f
""")
    assert rows and all(r.status == "pass" and r.excluded == 0 for r in rows), [r.message for r in rows]


def test_sinc_written_with_where_is_never_judged_at_the_boundary(run_yaml) -> None:
    rows = run_yaml("""
variables: {x: {low: -1, high: 1}}
functions:
  f: "where(x == 0, 1, sin(pi*x)/(pi*x))"
checks:
  - gradient: f
  - hessian: f
points: {random: 8, at: [{x: 0}]}
""")
    assert rows
    for row in rows:
        assert row.excluded == 1 and row.points == 8, row
        assert "on a branch boundary of where(...)" in row.evidence


def test_torch_sinc_hessian_at_zero_is_caught(run_yaml) -> None:
    # the value is analytic at 0: its exact second derivative there is -pi^2/3, and torch gives 0 or nan
    rows = run_yaml("""
variables: {x: {low: -1, high: 1}}
functions:
  f: {args: [x], expr: "where(x == 0, 1, sin(pi*x)/(pi*x))", impl: "certified_ops:sinc"}
checks:
  - value: f
points: {random: 8, at: [{x: 0}]}
""")
    assert [r.status for r in rows] == ["pass"] and rows[0].excluded == 0


def test_overflow_beyond_the_dtype_is_infinity_and_a_finite_value_there_fails(run_yaml) -> None:
    # exp clamped at 700 is finite where exp(x) overflows float64: that is a wrong value, not an excluded point
    (row,) = run_yaml("""
variables: {x: {low: 710, high: 720}}
functions:
  f: {args: [x], expr: exp(x), impl: "certified_ops:clamped_exp"}
checks:
  - value: f
""")
    assert row.status == "fail" and row.excluded == 0
    assert "expected inf" in row.message
    # torch.exp gives inf, the exact value rounded to float64: a pass, no point excluded
    plain = run_yaml("""
variables: {x: {low: 710, high: 720}}
functions:
  f: exp(x)
checks:
  - value: f
""")
    assert [(r.status, r.excluded) for r in plain] == [("pass", 0)]


# -- report fields --------------------------------------------------------------------------------

def test_records_carry_their_tolerance_and_certified_bits(run_yaml) -> None:
    rows = run_yaml("""
variables: {x: {low: 0.5, high: 2}}
functions:
  f: exp(x) * sin(x)
checks:
  - gradient: f
    tolerance: {rtol: 1e-6, atol: 1e-9}
dtypes: [float64, float32]
""")
    for row in rows:
        assert row.status == "pass"
        assert (row.rtol, row.atol) == (1e-6, 1e-9)
        assert row.reference_bits >= {"float64": 53, "float32": 24}[row.dtype]


def test_the_worst_point_is_the_largest_error_relative_to_its_tolerance() -> None:
    from verify.case import Tolerance
    from verify.compare import agree

    reference = np.array([[1000.0, 1e-3]])
    actual = np.array([[1000.0 + 1e-4, 1e-3 + 1e-6]])  # the larger absolute error is the smaller relative one
    agreement = agree(actual, reference, Tolerance(rtol=1e-6, atol=0.0))
    assert agreement.worst_entry == (1,)


# -- the evaluator ------------------------------------------------------------------------------------

def test_exclusions_name_their_reason() -> None:
    program = compile_arb(np.array([sympy.log(x), 1 / x], dtype=object), [x])
    certified = program(np.array([[-1.0], [0.0], [2.0]]))
    assert list(certified.status) == [UNDEFINED, UNDEFINED, DEFINED]
    assert "2 where the exact value is undefined" in exclusion_text(certified)


@pytest.mark.parametrize(
    ("expr", "at", "defined"),
    [(sympy.Abs(x), 0.0, False), (sympy.Max(x, 0) ** 2, 0.0, True), (sympy.Abs(x) ** 3, 0.0, True),
     (sympy.Piecewise((x**2, x < 0), (x**3, True)), 0.0, True),
     (sympy.Piecewise((x, x < 0), (x + 1, True)), 0.0, False)],
    ids=["abs-kink", "relu-squared", "abs-cubed", "matching-branches", "jump"],
)
def test_a_derivative_on_a_branch_boundary_is_judged_only_where_both_sides_agree(expr, at, defined) -> None:
    derivative = np.array([sympy.diff(expr, x)], dtype=object)
    program = compile_arb(derivative, [x], guards=[np.array([expr], dtype=object)], hull=True)
    certified = program(np.array([[at]]))
    assert bool(certified.defined[0]) is defined
    if not defined:
        assert certified.status[0] == BOUNDARY


def test_spot_check_catches_a_planted_derivative() -> None:
    f = np.array([x**2 * y + sympy.sin(x)], dtype=object)
    right = np.array([[2 * x * y + sympy.cos(x), x**2]], dtype=object)
    planted = np.array([[2 * x * y + sympy.cos(x), x**2 + sympy.Rational(1, 10**12)]], dtype=object)
    points = np.array([[1.0, 1.5]])
    assert spot_check(f, right, [x, y], points) is True
    assert spot_check(f, planted, [x, y], points) is False


def test_spot_check_catches_a_small_relative_error_in_a_tiny_derivative() -> None:
    # d/dx exp(x) at x = -60 is 8.7e-27: an absolute test (1 + |values|) saw no error of 1e-6 in it
    t = sympy.Symbol("t", real=True)
    f = np.array([sympy.exp(t) + t**2], dtype=object)
    right = np.array([[sympy.exp(t) + 2 * t]], dtype=object)
    wrong = np.array([[sympy.exp(t) * sympy.Rational(1000001, 1000000) + 2 * t]], dtype=object)
    exp_only = np.array([sympy.exp(t)], dtype=object)
    point = np.array([[-60.0]])
    assert spot_check(f, right, [t], point) is True
    assert spot_check(exp_only, np.array([[sympy.exp(t)]], dtype=object), [t], point) is True
    assert spot_check(exp_only, np.array([[sympy.exp(t) * sympy.Rational(1000001, 1000000)]], dtype=object),
                      [t], point) is False
    assert spot_check(f, wrong, [t], point) is True  # 2t dominates: a 1e-6 error of 8.7e-27 is below 2^-50 of it
    zero = np.array([sympy.Integer(3)], dtype=object)  # a constant: its derivative is exactly 0
    assert spot_check(zero, np.array([[sympy.Integer(0)]], dtype=object), [t], point) is True


@pytest.mark.parametrize("point", [-1.5946912524971531e-204, 1.8e-308, 3.7e-186])
def test_spot_check_accepts_a_right_derivative_at_tiny_coordinates(point: float) -> None:
    # the step is relative to the coordinate: f(x + h) - f(x - h) at x = 1e-204 needs 680 more bits
    # (at 512 bits this was a false "does not match" for sigmoid's and sinc's cached derivatives)
    from verify.functions import ELEMENTWISE

    t = sympy.Symbol("t", real=True)
    for name in ("sigmoid", "sinc", "tanh"):
        f = np.array([ELEMENTWISE[name].build(t)], dtype=object)
        right = np.array([[sympy.diff(f[0], t)]], dtype=object)
        assert spot_check(f, right, [t], np.array([[point]])) is True, name


# -- cache integrity --------------------------------------------------------------------------------

CLAIM = """
variables: {x: {low: 0.5, high: 2}, y: {low: 0.5, high: 2}}
functions:
  f: x**2*y + sin(x)
checks:
  - gradient: f
    expect: [2*x*y + cos(x), x**2 + 1]
"""


def _run_cached(tmp_path: Path, cache: Path) -> list[Result]:
    from verify.case import load_file
    from verify.run import RunOptions, run_case

    path = tmp_path / "claim.yaml"
    path.write_text(CLAIM, encoding="utf-8")
    return [r for case in load_file(path, "claim.yaml") for r in run_case(case, RunOptions(cache_dir=cache))]


def _edit(cache: Path, kind: str, change: Callable[[dict], None], keep_checksum: bool) -> None:
    from verify.cache import _checksum

    for path in cache.rglob("*.json"):
        entry = json.loads(path.read_text())
        if kind in entry["key"]:
            change(entry["payload"])
            if keep_checksum:  # a forger who recomputes the checksum
                entry["sha256"] = _checksum(entry["key"], entry["content"], entry["payload"])
            path.write_text(json.dumps(entry))


@pytest.mark.parametrize("planted", [True, "false", "true", 1])
def test_an_edited_verdict_never_turns_a_false_claim_into_a_pass(tmp_path: Path, planted: object) -> None:
    cache = tmp_path / "cache"
    first = _run_cached(tmp_path, cache)
    assert [r.status for r in first if r.mode == "expect"] == ["fail"]

    def change(payload: dict) -> None:
        payload["value"]["equal"] = planted
        payload["value"]["counterexample"] = None

    for keep in (False, True):
        _edit(cache, "verdict", change, keep_checksum=keep)
        with pytest.warns(Warning, match="ignored and recomputed"):
            rows = _run_cached(tmp_path, cache)
        assert [r.status for r in rows if r.mode == "expect"] == ["fail"]


def test_a_planted_jacobian_entry_is_caught_and_recomputed(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _run_cached(tmp_path, cache)

    def change(payload: dict) -> None:
        payload["entries"][1] = {"q": "7"}

    _edit(cache, "jacobian", change, keep_checksum=True)
    with pytest.warns(Warning, match="does not match the function's derivative"):
        rows = _run_cached(tmp_path, cache)
    assert [r.status for r in rows if r.mode in ("rev", "fwd")] == ["pass", "pass"]
    again = _run_cached(tmp_path, cache)  # the recomputed entry is stored, validated and used
    assert all("read from the cache" in r.evidence for r in again if r.mode in ("rev", "fwd"))


# -- the enclosure property -----------------------------------------------------------------------

def _mp(expr: sympy.Expr, point: dict) -> mpmath.mpf | None:
    with mpmath.workdps(200):
        value = sympy.N(expr.xreplace({s: sympy.Rational(v) for s, v in point.items()}), 200)  # exact binary values
        if not value.is_real or not value.is_finite:
            return None
        return mpmath.mpf(str(value))


def _exactly(endpoint: object) -> mpmath.mpf:
    """An Arb endpoint (an exact binary number) as an mpmath number, without decimal rounding."""
    mantissa, exponent = endpoint.mid().man_exp()  # type: ignore[attr-defined]
    return mpmath.ldexp(mpmath.mpf(int(mantissa)), int(exponent))


def test_enclosures_hold_the_value_computed_by_mpmath_at_200_digits() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    from tests.property.strategies import expressions

    @hypothesis.settings(max_examples=40, deadline=None,
                         suppress_health_check=[hypothesis.HealthCheck.too_slow])
    @hypothesis.given(expr=expressions({"x": (-2.0, 2.0), "y": (-2.0, 2.0)}, max_depth=3),
                      px=st.floats(-2, 2), py=st.floats(-2, 2))
    def check(expr, px: float, py: float) -> None:
        from verify.errors import Location
        from verify.expr import Source, compile_expression

        names = {"x": np.array(x, dtype=object), "y": np.array(y, dtype=object)}
        compiled = compile_expression(Source(expr.text, Location("prop", 1, 1)), names, {})
        entry = sympy.sympify(compiled.reshape(-1)[0])
        from verify.engines.symbolic import jacobian_of

        derivative = jacobian_of(np.array([entry], dtype=object), [x, y])[0, 0]
        program = compile_arb(np.array([entry, derivative], dtype=object), [x, y])
        balls, _ = program.balls([px, py], 128)
        point = {x: px, y: py}
        for ball, exact_expr in zip(balls, (entry, derivative)):
            if not ball.is_finite():
                continue
            exact = _mp(exact_expr, point)
            if exact is None:
                continue
            with mpmath.workdps(200):
                low, high = _exactly(ball.lower()), _exactly(ball.upper())
                slack = mpmath.mpf(10) ** -180 * abs(exact)  # mpmath's own rounding at 200 digits
                assert low - slack <= exact <= high + slack, (expr.text, point, ball, exact)

    check()
