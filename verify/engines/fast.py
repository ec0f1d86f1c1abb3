"""SymEngine acceleration for derivation and reference evaluation, used where it gives SymPy's results.

SymEngine (a C++ core) differentiates and compiles large expressions orders of magnitude
faster than SymPy. It is used only for expressions built from the heads in `_HEADS`, whose
derivatives SymEngine writes exactly as SymPy does (tests compare the two); anything else
(piecewise functions, kinks, special functions with other branch conventions, verify's own
functions) stays with SymPy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy

__all__ = ["available", "jacobian_rows", "lambdify", "supported"]

_HEADS: tuple[type, ...] = (
    sympy.Add, sympy.Mul, sympy.Pow, sympy.Symbol, sympy.Number, sympy.NumberSymbol,
    sympy.sin, sympy.cos, sympy.tan, sympy.asin, sympy.acos, sympy.atan, sympy.atan2,
    sympy.sinh, sympy.cosh, sympy.tanh, sympy.asinh, sympy.atanh,
    sympy.exp, sympy.log, sympy.erf, sympy.erfc,
)


def _symengine() -> Any:
    try:
        import symengine
    except ImportError:  # optional at run time: SymPy alone gives the same results, slower
        return None
    return symengine


def available() -> bool:
    """Whether SymEngine can be imported here."""
    return _symengine() is not None


def supported(expr: sympy.Basic) -> bool:
    """Whether `expr` uses only heads SymEngine handles exactly as verify needs."""
    return all(isinstance(node, _HEADS) for node in sympy.preorder_traversal(expr))


def _back(value: Any, by_name: dict[str, sympy.Symbol]) -> sympy.Expr:
    # SymEngine forgets assumptions: map its symbols back onto the case's real symbols.
    expr = value._sympy_()
    return expr.xreplace({s: by_name[s.name] for s in expr.free_symbols if s.name in by_name})


def jacobian_rows(entries: Sequence[sympy.Expr], symbols: Sequence[sympy.Symbol]) -> list[list[sympy.Expr]] | None:
    """The Jacobian rows of `entries` by SymEngine, as SymPy, or None when it does not apply."""
    symengine = _symengine()
    if symengine is None or not all(supported(e) for e in entries):
        return None
    by_name = {s.name: s for s in symbols}
    se_symbols = [symengine.Symbol(s.name) for s in symbols]
    rows = []
    for entry in entries:
        se_entry = symengine.sympify(entry)
        free = {s.name for s in entry.free_symbols}
        rows.append([_back(se_entry.diff(se_s), by_name) if s.name in free else sympy.S.Zero
                     for s, se_s in zip(symbols, se_symbols)])
    return rows


def lambdify(entries: Sequence[sympy.Expr], symbols: Sequence[sympy.Symbol]) -> Any | None:
    """A compiled evaluator of `entries` (points (B, n) -> (B, m)), or None when SymEngine does not apply."""
    symengine = _symengine()
    if symengine is None or not entries or not all(supported(e) for e in entries):
        return None
    se_symbols = [symengine.Symbol(s.name) for s in symbols]
    compiled = symengine.Lambdify(se_symbols, [symengine.sympify(e) for e in entries], cse=True, real=True)

    def evaluate(points: np.ndarray) -> np.ndarray:
        out = np.asarray(compiled(points), dtype=np.float64)
        return out.reshape(points.shape[0], len(entries))

    return evaluate
