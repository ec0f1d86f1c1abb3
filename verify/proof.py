"""Deciding whether two arrays of exact expressions are equal, and saying what the verdict rests on.

Cheaper evidence comes first. A difference that is nonzero at a sample point is a counterexample
(exact for rational expressions, certified by ball arithmetic otherwise: the difference's
enclosure excludes 0). Then a proof is attempted within a time budget (`cancel` for rational
expressions, `simplify` otherwise). Without a proof the verdict rests on exact evaluation at
random rational points (for rational expressions a wrong "equal" has probability at most
degree/1000 per point, by Schwartz-Zippel) or on certified evaluation (the difference's enclosure
holds 0 and is below 2^-100 of the values).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from verify.budget import Budget, BudgetExceededError, Deadline, time_budget

__all__ = ["Counterexample", "Verdict", "decide_at_points", "decide_equal"]

_CAP_BITS = 4096
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


def _program(left: list[sympy.Expr], right: list[sympy.Expr], symbols: Sequence[sympy.Symbol]) -> Any:
    """Both sides compiled once to certified (Arb) code over a shared DAG, or None where that fails."""
    from verify.engines.certified import compile_arb
    from verify.errors import EngineError

    try:
        return compile_arb(np.array([*left, *right], dtype=object), symbols)
    except (EngineError, TypeError, ValueError, RecursionError):
        return None


def _compare_at(program: Any, count: int, point: Sequence[sympy.Rational]) -> list[tuple[Any, Any, str]] | None:
    """Per entry (a, b, kind) at an exact point: kind is 'exact', 'certified', 'differ' or 'undefined'.

    Rational entries are evaluated exactly (fmpq); others as Arb balls, with precision raised
    until the difference is certified to exclude 0, or to be below 2^-100 of the values.
    """
    from verify.engines.certified import flint_module

    flint = flint_module()

    exact = program.exact([flint.fmpq(int(v.p), int(v.q)) for v in point])
    if exact is not None:
        return [(exact[i], exact[count + i], "exact") for i in range(count)]
    out: list[tuple[Any, Any, str] | None] = [None] * count
    bits = 128
    while bits <= _CAP_BITS:
        values, _ = program.balls([flint.fmpq(int(v.p), int(v.q)) for v in point], bits)
        open_entries = 0
        for i in range(count):
            if out[i] is not None:
                continue
            a, b = values[i], values[count + i]
            if not (a.is_finite() and b.is_finite()):
                out[i] = (a, b, "undefined") if bits >= _CAP_BITS else None
                open_entries += out[i] is None
                continue
            difference = a - b
            if not difference.contains(0):
                out[i] = (a, b, "differ")
            elif float(difference.rad()) <= 2.0**-100 * (1 + float(abs(a).upper())):
                out[i] = (a, b, "certified")
            else:
                open_entries += 1
        if not open_entries:
            break
        bits *= 4
    return [o if o is not None else (None, None, "undefined") for o in out]


def _value_text(value: Any) -> str:
    from verify.engines.certified import flint_module

    flint = flint_module()

    if isinstance(value, flint.fmpq):
        return str(value) if value.q == 1 else f"{float(value):.10g}"
    return f"{float(value.mid()):.10g}"


def decide_equal(
    left: np.ndarray,
    right: np.ndarray,
    symbols: Sequence[sympy.Symbol],
    domains: Mapping[sympy.Symbol, tuple[float, float]],
    budget_s: float = 10.0,
    points: int = 8,
    seed: int = 0,
) -> Verdict:
    """Whether `left` and `right` (same shape) are equal entry by entry, with the evidence.

    Evidence, cheapest first: identical expressions; exact rational evaluation (rational
    entries) or certified ball arithmetic (others) at random rational points, on one shared
    DAG of both sides; then a proof. `budget_s` bounds the whole decision, every entry together.
    """
    rng = random.Random(seed)
    sample = _sample_points(symbols, domains, points * 3, rng)
    deadline = Deadline(budget_s)
    kinds: dict[str, int] = {}
    indexes = [index for index in np.ndindex(*left.shape)]
    pairs = [(sympy.sympify(left[i]), sympy.sympify(right[i])) for i in indexes]
    open_entries = [k for k, (a, b) in enumerate(pairs) if a - b != 0]
    kinds_identical = len(pairs) - len(open_entries)
    if kinds_identical:
        kinds["identical"] = kinds_identical
    if not open_entries:
        return Verdict(True, _evidence_text(kinds) or "no entries")
    program = _program([pairs[k][0] for k in open_entries], [pairs[k][1] for k in open_entries], symbols)
    count = len(open_entries)
    used = [0] * count
    rational = [True] * count
    for point in sample:
        if program is None or all(u >= points for u in used):
            break
        compared = _compare_at(program, count, [point[s] for s in symbols])
        if compared is None:
            break
        for i, (a, b, kind) in enumerate(compared):
            if kind == "undefined" or used[i] >= points:
                continue
            if kind == "differ" or (kind == "exact" and a != b):
                k = open_entries[i]
                left_expr, right_expr = pairs[k]
                free = left_expr.free_symbols | right_expr.free_symbols
                labels = {str(s): _show(point[s]) for s in symbols if s in free} or {
                    str(s): _show(point[s]) for s in symbols[:3]}
                return Verdict(False, "exact counterexample" if kind == "exact" else "certified counterexample",
                               Counterexample(indexes[k], labels, str(left_expr), str(right_expr),
                                              _value_text(a), _value_text(b)))
            used[i] += 1
            rational[i] = rational[i] and kind == "exact"
    for i, k in enumerate(open_entries):
        difference = pairs[k][0] - pairs[k][1]
        method = (_prove_zero(difference, _is_rational(difference, symbols), deadline.left())
                  if not deadline.expired() else None)
        if method:
            kind = f"proven ({method})"
        elif used[i] == 0:
            kind = "undecided (no sample point where both are defined)"
        elif rational[i]:
            kind = f"exact at {used[i]} random rational points"
        else:
            kind = f"certified equal (100 bits) at {used[i]} points"
        kinds[kind] = kinds.get(kind, 0) + 1
    undecided = [k for k in kinds if k.startswith("undecided")]
    return Verdict(not undecided, _evidence_text(kinds) or "no entries")


def _evidence_text(kinds: Mapping[str, int]) -> str:
    return "; ".join(f"{kind}: {count} entr{'y' if count == 1 else 'ies'}" for kind, count in kinds.items())


def decide_at_points(
    left: np.ndarray,
    right: np.ndarray,
    points: Sequence[Mapping[sympy.Symbol, sympy.Expr]],
) -> Verdict:
    """Whether `left` and `right` agree at each of the exact `points` (not as functions)."""
    indexes = list(np.ndindex(*left.shape))
    pairs = [(sympy.sympify(left[i]), sympy.sympify(right[i])) for i in indexes]
    symbols = sorted({s for point in points for s in point}, key=str)
    program = _program([a for a, _ in pairs], [b for _, b in pairs], symbols)
    kinds: set[str] = set()
    for point in points:
        labels = {str(s): _show(v) for s, v in point.items()}
        values = [sympy.Rational(point[s]) for s in symbols]
        compared = _compare_at(program, len(pairs), values) if program is not None else None
        if compared is None:
            return Verdict(False, "undecided (the certified evaluator cannot evaluate these expressions)")
        for k, (a, b, kind) in enumerate(compared):
            if kind == "differ" or (kind == "exact" and a != b):
                return Verdict(False, "exact at the given point" if kind == "exact" else "certified at the given point",
                               Counterexample(indexes[k], labels, str(left[indexes[k]]), str(right[indexes[k]]),
                                              _value_text(a), _value_text(b)))
            if kind == "undefined":
                return Verdict(False, f"undecided: entry {list(indexes[k])} is undefined at {labels}")
            kinds.add(kind)
    count = len(points)
    how = "exact" if kinds <= {"exact"} else "certified"
    return Verdict(True, f"equal at the {count} given point{'s' if count > 1 else ''} ({how})")
