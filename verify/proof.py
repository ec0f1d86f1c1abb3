"""Deciding whether two arrays of exact expressions are equal, and saying what the verdict rests on.

Cheaper evidence comes first. A difference that is nonzero at a sample point is a counterexample
(exact for rational expressions, 50 digits otherwise). Then a proof is attempted within a time
budget (`cancel` for rational expressions, `simplify` otherwise). Without a proof the verdict rests
on exact evaluation at random rational points (for rational expressions a wrong "equal" has
probability at most degree/1000 per point, by Schwartz-Zippel) or on 50-digit evaluation.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from verify.budget import Budget, BudgetExceededError, Deadline, time_budget

__all__ = ["Counterexample", "Verdict", "decide_at_points", "decide_equal"]

_DIGITS = 50
_DENOMINATOR = 1000  # sample points are exact 3-decimal numbers, readable in messages


@dataclass(frozen=True)
class Counterexample:
    """An entry and a point where two expressions differ, with both values there."""

    entry: tuple[int, ...]
    point: Mapping[str, str]
    left_expr: str
    right_expr: str
    left_value: str
    right_value: str

    def point_text(self) -> str:
        return ", ".join(f"{name}={value}" for name, value in self.point.items())


@dataclass(frozen=True)
class Verdict:
    """Whether every entry agrees, what the verdict rests on, and a counterexample if not."""

    equal: bool
    evidence: str
    counterexample: Counterexample | None = None


def _sample_points(symbols: Sequence[sympy.Symbol], domains: Mapping[sympy.Symbol, tuple[float, float]],
                   count: int, rng: random.Random) -> list[dict[sympy.Symbol, sympy.Rational]]:
    points = []
    for k in range(count):
        point = {}
        for symbol in symbols:
            low, high = domains.get(symbol, (-1.0, 1.0))
            if k < 2:  # simple points first: counterexamples people can check by hand
                lo, hi = int(np.ceil(low * 4)), int(np.floor(high * 4))
                value = sympy.Rational(rng.randint(lo, hi), 4) if lo <= hi else sympy.Rational(str(low))
            else:
                lo, hi = int(np.ceil(low * _DENOMINATOR)), int(np.floor(high * _DENOMINATOR))
                value = sympy.Rational(rng.randint(lo, hi), _DENOMINATOR) if lo <= hi else sympy.Rational(str(low))
            point[symbol] = value
        points.append(point)
    return points


def _numeric(expr: sympy.Expr, point: Mapping[sympy.Symbol, sympy.Rational], exact: bool) -> sympy.Expr | None:
    """`expr` at `point`: an exact Rational where that comes out, else a 50-digit Float; None if undefined."""
    try:
        value = expr.xreplace(dict(point))
        if not (exact and value.is_Rational):
            # constants such as log(4)/2 - log(2) do not cancel exactly: compare them at 50 digits
            value = value.evalf(_DIGITS)
        if value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo) or not value.is_number:
            return None
        if not value.is_Rational and not isinstance(sympy.re(value), sympy.Float):
            return None  # stays symbolic there (DiracDelta(0), say): undefined, not comparable
        if value.is_real is False or (not value.is_Rational and abs(sympy.im(value)) > 0):
            return None
        return sympy.re(value) if not value.is_Rational else value
    except (TypeError, ValueError, ZeroDivisionError, RecursionError):
        return None


def _show(value: sympy.Expr) -> str:
    if value.is_Rational and value.q == 1:
        return str(value)
    return f"{float(value):.10g}"


def _is_rational(expr: sympy.Expr, symbols: Sequence[sympy.Symbol]) -> bool:
    try:
        return bool(expr.is_rational_function(*symbols)) and not expr.has(sympy.Piecewise)
    except (TypeError, ValueError, RecursionError):
        return False


def _prove_zero(difference: sympy.Expr, rational: bool, seconds: float) -> str | None:
    """A method that proves `difference` is identically zero, or None."""
    budget: Budget | None = None
    try:
        with time_budget(seconds) as budget:
            if sympy.expand(difference) == 0:
                return "expand"
            if rational:
                return "cancel" if sympy.cancel(sympy.together(difference)) == 0 else None
            rewritten = difference.rewrite(sympy.exp)
            if sympy.simplify(rewritten) == 0:
                return "simplify"
    except BudgetExceededError as exc:
        if budget is None or not budget.owns(exc):
            raise  # an outer deadline (the case's --timeout) passed: not this proof's to absorb
        return None
    except (RecursionError, NotImplementedError, TypeError, ValueError, ZeroDivisionError):
        return None
    return None


def decide_equal(
    left: np.ndarray,
    right: np.ndarray,
    symbols: Sequence[sympy.Symbol],
    domains: Mapping[sympy.Symbol, tuple[float, float]],
    budget_s: float = 10.0,
    points: int = 8,
    seed: int = 0,
) -> Verdict:
    """Whether `left` and `right` (same shape) are equal entry by entry, with the evidence."""
    rng = random.Random(seed)
    sample = _sample_points(symbols, domains, points * 3, rng)
    deadline = Deadline(budget_s)
    kinds: dict[str, int] = {}
    for index in np.ndindex(*left.shape):
        a, b = sympy.sympify(left[index]), sympy.sympify(right[index])
        difference = a - b
        if difference == 0:
            kinds["identical"] = kinds.get("identical", 0) + 1
            continue
        rational = _is_rational(difference, symbols)
        used = 0
        for point in sample:
            value_a, value_b = _numeric(a, point, rational), _numeric(b, point, rational)
            if value_a is None or value_b is None:
                continue
            used += 1
            gap = abs(value_a - value_b)
            scale = 1 + abs(value_a) + abs(value_b)
            both_exact = value_a.is_Rational and value_b.is_Rational
            if (both_exact and gap != 0) or (not both_exact and gap > sympy.Float(10) ** (10 - _DIGITS) * scale):
                labels = {str(s): _show(point[s]) for s in symbols if s in (a.free_symbols | b.free_symbols)}
                if not labels:
                    labels = {str(s): _show(point[s]) for s in symbols[:3]}
                return Verdict(False, "exact counterexample" if both_exact else f"{_DIGITS}-digit counterexample",
                               Counterexample(index, labels, str(a), str(b), _show(value_a), _show(value_b)))
            if used >= points:
                break
        method = _prove_zero(difference, rational, deadline.left()) if not deadline.expired() else None
        if method:
            kind = f"proven ({method})"
        elif used == 0:
            kind = "undecided (no sample point where both are defined)"
        elif rational:
            kind = f"exact at {used} random rational points"
        else:
            kind = f"{_DIGITS} digits at {used} points"
        kinds[kind] = kinds.get(kind, 0) + 1
    undecided = [k for k in kinds if k.startswith("undecided")]
    evidence = "; ".join(f"{kind}: {count} entr{'y' if count == 1 else 'ies'}" for kind, count in kinds.items())
    return Verdict(not undecided, evidence or "no entries")


def decide_at_points(
    left: np.ndarray,
    right: np.ndarray,
    points: Sequence[Mapping[sympy.Symbol, sympy.Expr]],
) -> Verdict:
    """Whether `left` and `right` agree at each of the exact `points` (not as functions)."""
    for point in points:
        labels = {str(s): _show(v) for s, v in point.items()}
        for index in np.ndindex(*left.shape):
            a = sympy.sympify(left[index]).xreplace(dict(point))
            b = sympy.sympify(right[index]).xreplace(dict(point))
            difference = sympy.simplify(a - b)
            if difference == 0:
                continue
            gap = abs(sympy.N(difference, _DIGITS))
            if gap.is_number and gap <= sympy.Float(10) ** (10 - _DIGITS) * (1 + abs(sympy.N(a, _DIGITS))):
                continue
            return Verdict(False, "exact at the given point" if gap.is_Rational else f"{_DIGITS} digits at the given point",
                           Counterexample(index, labels, str(left[index]), str(right[index]), _show_any(a), _show_any(b)))
    count = len(points)
    return Verdict(True, f"equal at the {count} given point{'s' if count > 1 else ''} (exact)")


def _show_any(value: sympy.Expr) -> str:
    try:
        return _show(sympy.nsimplify(value) if value.is_number else value)
    except (TypeError, ValueError):
        return str(value)
