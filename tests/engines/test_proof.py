"""Proof verdicts: equal or not, what the verdict rests on, counterexamples that are really false, time budgets."""

from __future__ import annotations

import re
import threading
import time

import mpmath
import numpy as np
import pytest
import sympy

from verify.budget import BudgetExceededError, time_budget
from verify.proof import decide_equal

x, y, z, w = sympy.symbols("x y z w", real=True)
UNIT = {s: (-1.0, 1.0) for s in (x, y, z, w)}

# The kinds of evidence a verdict can rest on, as the proof module documents them.
PROVEN = re.compile(r"proven \((expand|cancel|simplify)\)")
NUMERIC = re.compile(r"exact at \d+ random rational points|certified equal \(\d+ bits\) at \d+ points")


def arr(*exprs: object) -> np.ndarray:
    return np.array([sympy.sympify(e) for e in exprs], dtype=object)


def value_at(expr: str, point: dict[str, str]) -> mpmath.mpf:
    """An expression's value at a counterexample's point, computed here with 30-digit mpmath."""
    parsed = sympy.sympify(expr, locals={"x": x, "y": y, "z": z, "w": w})
    at = {s: sympy.Rational(point[str(s)]) for s in parsed.free_symbols}
    with mpmath.workdps(30):
        return mpmath.mpf(sympy.N(parsed.xreplace(at), 30))


# -- identities -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("left", "right", "kinds"),
    [
        ((x**2 - 1) / (x - 1), x + 1, ("cancel", "exact")),
        ((x + y) ** 3, x**3 + 3 * x**2 * y + 3 * x * y**2 + y**3, ("expand", "cancel", "exact")),
        (sympy.sin(x) ** 2 + sympy.cos(x) ** 2, 1, ("simplify", "certified")),
        (sympy.exp(x) * sympy.exp(y), sympy.exp(x + y), ("expand", "simplify", "certified")),
        (sympy.cosh(x) ** 2 - sympy.sinh(x) ** 2, 1, ("simplify", "certified")),
    ],
    ids=["rational", "polynomial", "pythagoras", "exp-product", "hyperbolic"],
)
def test_identity_is_equal_and_names_its_evidence(left, right, kinds: tuple[str, ...]) -> None:
    verdict = decide_equal(arr(left), arr(right), [x, y], UNIT, budget_s=5.0)
    assert verdict.equal and verdict.counterexample is None
    assert PROVEN.search(verdict.evidence) or NUMERIC.search(verdict.evidence), verdict.evidence
    assert any(kind in verdict.evidence for kind in kinds), verdict.evidence
    assert "1 entry" in verdict.evidence


def test_identical_entries_are_counted_per_kind() -> None:
    verdict = decide_equal(arr(x * y, 2, (x**2 - 1) / (x - 1)), arr(x * y, 2, x + 1), [x, y], UNIT)
    assert verdict.equal
    assert "identical: 2 entries" in verdict.evidence
    assert "1 entry" in verdict.evidence


def test_undefined_everywhere_is_not_called_equal() -> None:
    # sqrt(x - 5) is not real anywhere on [-1, 1]: no sample can support (or refute) the claim, and
    # with no time for a proof nothing is left to rest a verdict on
    root = sympy.sqrt(x - 5)
    verdict = decide_equal(arr(root * x), arr(root * (x + 1) - root), [x], {x: (-1.0, 1.0)}, budget_s=0.0)
    assert not verdict.equal
    assert "undecided" in verdict.evidence


# -- wrong claims ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("left", "right"),
    [
        ([2 * x, x * y], [2 * x, x * y + y**2]),
        ([sympy.sin(2 * x)], [2 * sympy.sin(x)]),
        ([sympy.sqrt(x**2)], [x]),
        ([sympy.exp(x) * sympy.cos(y), x], [sympy.exp(x) * sympy.sin(y), x]),
    ],
    ids=["rational", "trig", "abs", "second-variable"],
)
def test_wrong_claim_gives_a_counterexample_that_is_really_false(left, right) -> None:
    verdict = decide_equal(arr(*left), arr(*right), [x, y], UNIT)
    assert not verdict.equal
    c = verdict.counterexample
    assert c is not None
    entry = c.entry[0]
    assert sympy.simplify(sympy.sympify(left[entry]) - right[entry]) != 0
    assert "counterexample" in verdict.evidence
    # the point, both expressions and both values are there, and they are right
    assert set(c.point) <= {"x", "y"} and c.point
    assert c.point_text() and all(f"{name}=" in c.point_text() for name in c.point)
    for name, text in c.point.items():
        assert -1 <= float(sympy.Rational(text)) <= 1, name
    left_value = value_at(c.left_expr, c.point)
    right_value = value_at(c.right_expr, c.point)
    assert abs(left_value - right_value) > 1e-20
    assert float(c.left_value) == pytest.approx(float(left_value), rel=1e-9, abs=1e-12)
    assert float(c.right_value) == pytest.approx(float(right_value), rel=1e-9, abs=1e-12)
    assert sympy.simplify(sympy.sympify(c.left_expr, locals={"x": x, "y": y}) - left[entry]) == 0
    assert sympy.simplify(sympy.sympify(c.right_expr, locals={"x": x, "y": y}) - right[entry]) == 0


def test_counterexample_names_the_entry_of_a_matrix() -> None:
    left = np.array([[2 * x, 2 * y], [1, 1]], dtype=object)
    right = np.array([[2 * x, 2 * y], [1, x]], dtype=object)
    verdict = decide_equal(left, right, [x, y], UNIT)
    assert not verdict.equal
    assert verdict.counterexample is not None
    assert verdict.counterexample.entry == (1, 1)
    assert float(sympy.Rational(verdict.counterexample.point["x"])) != 1  # 1 == x only at x = 1


def test_counterexample_stays_inside_the_domain() -> None:
    domains = {x: (2.0, 3.0), y: (-5.0, -4.0)}
    verdict = decide_equal(arr(x * y + 1), arr(x * y), [x, y], domains)
    c = verdict.counterexample
    assert c is not None
    assert 2 <= float(sympy.Rational(c.point["x"])) <= 3
    assert -5 <= float(sympy.Rational(c.point["y"])) <= -4


@pytest.mark.parametrize(
    ("left", "right"),
    [(1 / (x * sympy.log(4)), 1 / (2 * x * sympy.log(2))), (sympy.log(4), 2 * sympy.log(2)),
     (x * sympy.sin(1) ** 2 + x * sympy.cos(1) ** 2, x)],
    ids=["log-base-4-derivative", "constant", "trig-constants"],
)
def test_equal_expressions_with_transcendental_constants(left, right) -> None:
    verdict = decide_equal(arr(left), arr(right), [x], {x: (0.5, 2.0)})
    assert verdict.equal, verdict


# -- time budgets ---------------------------------------------------------------------------------

def test_budget_interrupts_a_slow_proof_and_falls_back_to_numeric_evidence() -> None:
    # expand() of this difference multiplies out (x+y+z+w+1)**20 three times: about 10 s unbudgeted here,
    # while evaluating either side at a rational point is instant.
    p = (x + y + z + w + 1) ** 20
    left, right = p * (x + 2), x * p + 2 * p
    start = time.perf_counter()
    verdict = decide_equal(arr(left), arr(right), [x, y, z, w], UNIT, budget_s=0.2)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.5, f"a 0.2 s budget took {elapsed:.2f} s"
    assert verdict.equal
    assert "proven" not in verdict.evidence
    assert re.search(r"exact at \d+ random rational points", verdict.evidence), verdict.evidence


def test_wrong_claim_is_still_caught_with_no_budget() -> None:
    p = (x + y + z + w + 1) ** 20
    verdict = decide_equal(arr(p * (x + 2)), arr(x * p + 3 * p), [x, y, z, w], UNIT, budget_s=0.0)
    assert not verdict.equal and verdict.counterexample is not None


def test_time_budget_raises_in_a_busy_loop() -> None:
    start = time.perf_counter()
    with pytest.raises(BudgetExceededError), time_budget(0.1):
        while time.perf_counter() - start < 5:
            sum(range(1000))
    assert time.perf_counter() - start < 1.0


def test_time_budget_lets_quick_work_finish_and_cancels_its_alarm() -> None:
    with time_budget(0.2):
        total = sum(range(1000))
    assert total == 499500
    time.sleep(0.3)  # an alarm left armed would fire here and fail the test


def test_inner_budget_gives_the_outer_one_back() -> None:
    start = time.perf_counter()
    # the inner budget is longer than the outer one: the outer deadline still holds
    with pytest.raises(BudgetExceededError), time_budget(0.4), time_budget(5.0):
        while time.perf_counter() - start < 5:
            sum(range(1000))
    assert time.perf_counter() - start < 1.5


def test_time_budget_outside_the_main_thread_does_not_fail() -> None:
    outcome: list[object] = []

    def work() -> None:
        try:
            with time_budget(0.05):
                time.sleep(0.1)
            outcome.append("finished")
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion
            outcome.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert outcome == ["finished"]
