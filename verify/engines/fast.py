"""SymEngine acceleration for derivation, used where it gives SymPy's results.

SymEngine (a C++ core) differentiates and compiles large expressions orders of magnitude
faster than SymPy. It is used only for expressions built from the heads in `_HEADS`, whose
derivatives SymEngine gives equal to SymPy's (tests check the values, and that the benchmark's
tanh(A @ x) Jacobians are identical entry by entry; forms may differ, e.g. x**(y - 1)*y for
x**y*y/x); a derivative with any other head (sign, an unevaluated Derivative) is left to SymPy.
Everything else (piecewise functions, kinks, special functions with other branch conventions,
verify's own functions) stays with SymPy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sympy

from verify.functions import symengine_heads

__all__ = ["available", "jacobian_rows", "supported"]

_HEADS: tuple[type, ...] = (
    sympy.Add, sympy.Mul, sympy.Pow, sympy.Symbol, sympy.Number, sympy.NumberSymbol, *symengine_heads(),
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


class _UnsupportedError(Exception):
    """A SymEngine result with a head outside _BACK (e.g. sign, an unevaluated Derivative)."""


_BACK: dict[str, Any] = {
    "Add": sympy.Add, "Mul": sympy.Mul, "Pow": sympy.Pow, **{head.__name__: head for head in symengine_heads()},
}


class _ToSymPy:
    """Converts SymEngine results back to SymPy, each distinct subexpression once.

    The entries of a Jacobian share most of their subexpressions (every d tanh(a.x)/dx_j holds
    the same tanh(a.x)): converting each entry on its own costs far more than deriving it.
    SymEngine forgets assumptions, so its symbols map back onto the case's real symbols.
    """

    def __init__(self, symbols: Sequence[sympy.Symbol]) -> None:
        self.by_name = {s.name: s for s in symbols}
        self.memo: dict[Any, sympy.Expr] = {}

    def know(self, expr: sympy.Expr, symengine: Any) -> None:
        """Map the function applications of `expr` back onto themselves.

        Derivatives repeat them (d tanh(u) holds tanh(u)); rebuilding one in SymPy evaluates it
        again, and for a long sum u that asks the assumptions whether u is zero (80 ms at 100 terms).
        """
        for node in sympy.preorder_traversal(expr):
            if isinstance(node, sympy.Function):
                self.memo.setdefault(symengine.sympify(node), node)

    def __call__(self, node: Any) -> sympy.Expr:
        hit = self.memo.get(node)
        if hit is not None:
            return hit
        name = type(node).__name__
        if name == "Symbol":
            out: sympy.Expr = self.by_name[str(node)]
        elif name in ("Integer", "Zero", "One", "NegativeOne"):
            out = sympy.Integer(int(node))
        elif name in ("Rational", "Half"):
            out = sympy.Rational(str(node))
        elif name == "Pi":
            out = sympy.pi
        elif name == "Exp1":
            out = sympy.E
        elif name in _BACK:
            out = _BACK[name](*(self(arg) for arg in node.args))
        else:
            raise _UnsupportedError(name)
        self.memo[node] = out
        return out


def jacobian_rows(entries: Sequence[sympy.Expr],
                  symbols: Sequence[sympy.Symbol]) -> list[list[sympy.Expr] | None] | None:
    """The Jacobian rows of `entries` by SymEngine, as SymPy; None when SymEngine is not installed.

    A row is None where SymPy must derive the entry. An entry that is one function SymEngine
    does not know (sigmoid, softplus, erfinv, ...) of an argument it does is derived by SymPy's
    own chain rule, f'(u) du/dx, with f'(u) from SymPy once and du/dx from SymEngine: the same
    product SymPy's `diff` builds, without SymPy differentiating u for every input. An entry
    whose SymEngine derivative leaves the heads SymPy would write (a sign() whose derivative
    stays unevaluated, say) is derived by SymPy instead.
    """
    symengine = _symengine()
    if symengine is None:
        return None
    back = _ToSymPy(symbols)
    position: dict[str, list[int]] = {}
    for j, symbol in enumerate(symbols):
        position.setdefault(symbol.name, []).append(j)
    se_symbols = [symengine.Symbol(s.name) for s in symbols]
    rows: list[list[sympy.Expr] | None] = []
    for entry in entries:
        if supported(entry):
            inner, outer = entry, None
        elif _chain_rule_applies(entry):
            inner, outer = entry.args[0], entry.fdiff(1)
        else:
            rows.append(None)
            continue
        se_inner = symengine.sympify(inner)
        back.know(inner, symengine)
        row: list[sympy.Expr] = [sympy.S.Zero] * len(symbols)  # an input the entry does not hold: exactly 0
        for j in sorted(j for s in inner.free_symbols for j in position.get(s.name, ())):
            try:
                derivative = back(se_inner.diff(se_symbols[j]))
            except _UnsupportedError:
                derivative = sympy.diff(inner, symbols[j])
            if outer is not None:  # as sympy.Function._eval_derivative: f'(u) * du/dx
                derivative = outer * derivative  # (an exact 0 stays 0; `is_zero` would ask the assumptions)
            row[j] = derivative
        rows.append(row)
    return rows


def _chain_rule_applies(entry: sympy.Basic) -> bool:
    """Whether `entry` is f(u), u SymEngine's, f a function SymPy differentiates by the plain chain rule."""
    return (isinstance(entry, sympy.Function) and len(entry.args) == 1
            and type(entry)._eval_derivative is sympy.Function._eval_derivative
            and not entry.has(sympy.Abs, sympy.sign) and supported(entry.args[0]))
