"""Bugs in verify that the properties found, kept as minimal reproductions.

A bug still open is marked xfail(strict=True): the test fails today; once the bug is fixed it
passes, strict xfail turns that into a failure, and the marker (and the matching `known_bugs`
steering in strategies.py) should be removed. Bugs fixed since are plain tests that keep them fixed.
"""

from __future__ import annotations

import gc
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import sympy

from verify.budget import BudgetExceededError, time_budget
from verify.errors import CaseError, Location
from verify.expr import Source, as_array, compile_expression
from verify.run import RunOptions

from .support import comparable, problems, uncached

NAMES = {name: as_array(sympy.Symbol(name, real=True)) for name in ("x", "y")}
WHERE = Location("regression.yaml", 3, 6)


def _case(expr: str, checks: str) -> str:
    return f"""
        variables: {{x: {{low: -2, high: 2}}}}
        functions:
          f: "{expr}"
        checks: {checks}
        points: {{random: 8}}
        devices: [cpu]
        """


def test_gradient_of_sign_of_asin(run_generated: Callable[..., tuple]) -> None:
    _, rows = run_generated(_case("sign(asin(x/2))", "[{gradient: f}]"))
    assert rows and not problems(rows), problems(rows)


def test_hessian_of_abs_of_sqrt(run_generated: Callable[..., tuple]) -> None:
    _, rows = run_generated(_case("abs(sqrt(2 + x))", "[{hessian: f}]"))
    assert rows and not problems(rows), problems(rows)


def test_jacobian_and_hessian_of_abs_of_i0(run_generated: Callable[..., tuple]) -> None:
    # SymPy writes d|i0(x)|/dx as i1(x) sign(conjugate(i0(x))): the reference could not evaluate conjugate
    _, rows = run_generated(_case("sin(abs(i0(x)))", "[{jacobian: f}, {hessian: f}]"))
    assert rows and not problems(rows), problems(rows)


@pytest.mark.xfail(strict=True, reason="bug: a where inside the condition of a where becomes a SymPy ITE, which has no "
                   "torch lowering (NotImplementedError: no torch lowering for ITE), or, in the derivative, a condition "
                   "numpy.select rejects (TypeError: invalid entry 0 in condlist)")
@pytest.mark.parametrize("expr", ["where(where(x > 0, x, -x) > 0.5, 1, x)", "where(where(1.5 < x, x, y) >= z, x, y)"])
def test_where_inside_a_where_condition(expr: str, run_generated: Callable[..., tuple]) -> None:
    three = "variables: {x: {low: -2, high: 2}, y: {low: -2, high: 2}, z: {low: -2, high: 2}}"
    _, rows = run_generated(_case(expr, "[{jacobian: f}]").replace("variables: {x: {low: -2, high: 2}}", three))
    assert rows and not problems(rows), problems(rows)


@pytest.mark.xfail(strict=True, reason="bug: SymPy evaluates atan2 of constants whose sign it cannot decide to "
                   "-I*log((x + I*y)/sqrt(x**2 + y**2)); torch has no lowering for I, so a valid expression errors")
def test_atan2_of_constants(run_generated: Callable[..., tuple]) -> None:
    _, rows = run_generated(_case("x + atan2(1, tan(E/2.5))", "[{gradient: f}]"))
    assert rows and not problems(rows), problems(rows)


# Found by the properties and fixed since (kept so they stay fixed): softplus of a constant was
# not comparable, so Min/Max raised ValueError out of compile_expression and run_case crashed.
@pytest.mark.parametrize("expr", ["min(x, softplus(0.5))", "relu(softplus(0.5))",
                                  "min(x, digamma(1 + softplus(0.5)))"])
def test_min_max_relu_of_softplus_of_a_constant(expr: str, run_generated: Callable[..., tuple]) -> None:
    _, rows = run_generated(_case(expr, "[{jacobian: f}]"))  # must not raise: errors become rows
    assert rows and not problems(rows), problems(rows)


# Fixed since: the chain-rule proof (and `expect`) could not evaluate softplus at a point (no evalf):
# TypeError "cannot determine truth value of Relational", an error row.
def test_chain_rule_and_expect_through_softplus(run_generated: Callable[..., tuple]) -> None:
    _, rows = run_generated("""
        variables: {x: {low: -2, high: 2}, y: {low: -2, high: 2}}
        functions:
          G: {args: [x, y], expr: ["softplus(x)", "y"]}
          F: {args: [u, v], expr: "exp(u)*sin(u)"}
          H: F(G(x, y))
          s: softplus(x)**2
        checks:
          - chain_rule: H
          - gradient: s
            expect: ["2*log(1 + exp(x))*sigmoid(x)", "0"]
        points: {random: 8}
        devices: [cpu]
        """)
    assert rows and not problems(rows), problems(rows)
    assert {r.mode for r in rows} >= {"symbolic", "expect", "rev", "fwd"}


def test_a_run_from_the_cache_reports_what_a_fresh_run_does(run_generated: Callable[..., tuple],
                                                             tmp_path: Path) -> None:
    text = _case("exp(x)*gamma(2.5)", "[{jacobian: f}]").replace("random: 8", "random: 64")
    _, fresh = run_generated(text)
    _, filling = run_generated(text, RunOptions(cache_dir=tmp_path / "cache"))
    _, cached = run_generated(text, RunOptions(cache_dir=tmp_path / "cache"))
    assert [comparable(r) for r in fresh] == [comparable(r) for r in filling]
    assert [uncached(comparable(r)) for r in cached] == [comparable(r) for r in fresh]
    assert all("read from the cache" in r.evidence for r in cached if r.mode in ("rev", "fwd"))


def test_chain_rule_through_sign(run_generated: Callable[..., tuple]) -> None:
    _, rows = run_generated("""
        variables: {x: {low: -2, high: 2}, y: {low: -2, high: 2}}
        functions:
          G: {args: [x, y], expr: ["x", "tanh(y)"]}
          F: {args: [u, v], expr: "sign(v)"}
          H: F(G(x, y))
        checks: [{chain_rule: H}]
        points: {random: 16}
        devices: [cpu]
        """)
    assert rows and not problems(rows), problems(rows)


def test_atan2_is_checked_where_its_second_argument_is_zero(run_generated: Callable[..., tuple]) -> None:
    _, rows = run_generated(_case("atan2(1 + x**2, x)", "[{gradient: f}]").replace("random: 8", "random: 4, at: [{x: 0}]"))
    assert rows and not problems(rows), problems(rows)
    assert all(r.points == 5 and r.excluded == 0 for r in rows), [(r.mode, r.points, r.excluded) for r in rows]


def test_listed_points_alone(run_generated: Callable[..., tuple]) -> None:
    _, rows = run_generated(_case("x**2", "[{gradient: f}]").replace("random: 8", "random: 0, at: [{x: 0.5}]"))
    assert rows and not problems(rows), problems(rows)
    assert all(r.points == 1 for r in rows)


@pytest.mark.xfail(strict=True, reason="bug (false alarm): torch computes trigamma in float64 to ~5e-10 relative; "
                   "the Hessian of a correct digamma(2.25 + sin(z)) cancels to 2.3e-4 at z = -0.5671, and the 1.8e-10 "
                   "error exceeds the default float64 tolerance (atol 1e-10, rtol 1e-7)")
def test_float64_hessian_of_digamma(run_generated: Callable[..., tuple]) -> None:
    _, rows = run_generated("""
        variables: {z: {low: -2, high: 2}}
        functions:
          f: "digamma(2.25 + sin(z))"
        checks: [{hessian: f}]
        points: {random: 1, at: [{z: -0.5671}]}
        devices: [cpu]
        """)
    assert rows and not problems(rows), problems(rows)


@pytest.mark.parametrize("text", [
    pytest.param("0x" + "f" * 3700, id="hex-literal"),
    pytest.param("where(x > 0, 1/0, " + "*".join(["9**1000"] * 5) + ")", id="message-of-undefined"),
    pytest.param("(" + "*".join(["9**1000"] * 5) + ")**1", id="power-of-product"),  # fixed since
])
def test_huge_exact_numbers_are_case_errors(text: str) -> None:
    with pytest.raises(CaseError):
        compile_expression(Source(text, WHERE), NAMES, {})


def test_deeply_nested_list_is_a_case_error() -> None:
    with pytest.raises(CaseError):
        compile_expression(Source("[" * 65 + "x" + "]" * 65, WHERE), NAMES, {})


class OutOfTimeError(Exception):
    """compile_expression ran past its time limit."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def on_alarm(signum: int, frame: object) -> None:
        raise OutOfTimeError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# Fixed since: digamma of a large integer literal was evaluated exactly (a harmonic number), for
# minutes, against "no case file can exhaust the machine".
@pytest.mark.parametrize("text", ["digamma(100000) * x", "gamma(10**7) * x", "lgamma(10**6) + x"])
def test_special_functions_of_large_integers_are_bounded(text: str) -> None:
    with _time_limit(5.0), suppress(CaseError):
        compile_expression(Source(text, WHERE), NAMES, {})


# Fixed since (ee362b7): a proof's time budget is one SIGALRM; when it landed inside a gc callback
# (Hypothesis installs one) the exception was swallowed as unraisable and the proof ran on unbounded:
# a property run hung for 18 minutes on one chain-rule case.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_time_budget_survives_an_alarm_swallowed_by_a_gc_callback() -> None:
    def slow_callback(phase: str, info: dict) -> None:
        if phase == "start":
            time.sleep(0.3)  # the alarm goes off in here, and its exception is swallowed

    gc.callbacks.append(slow_callback)
    try:
        with pytest.raises(BudgetExceededError), time_budget(0.1):
            gc.collect()
            end = time.perf_counter() + 3.0
            while time.perf_counter() < end:  # nothing but the budget can stop this
                pass
    finally:
        gc.callbacks.remove(slow_callback)
