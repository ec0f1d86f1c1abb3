"""The functions of the expression language, as SymPy builders, and verify's own SymPy functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy
from sympy.codegen.cfunctions import expm1, log1p

__all__ = [
    "ELEMENTWISE", "REDUCTIONS", "ROWS", "Builtin", "Row", "arb_table", "registry_heads", "relu", "sigmoid", "softplus",
    "symengine_heads", "torch_table",
]


class sigmoid(sympy.Function):  # noqa: N801 - named as users write it
    """The logistic function 1 / (1 + exp(-x))."""

    @classmethod
    def eval(cls, x: sympy.Expr) -> sympy.Expr | None:
        if x.is_zero:
            return sympy.Rational(1, 2)
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x: sympy.Expr, **kwargs: object) -> sympy.Expr:
        return 1 / (1 + sympy.exp(-x))

    def _eval_evalf(self, prec: int) -> sympy.Expr:
        return (1 / (1 + sympy.exp(-self.args[0])))._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_is_positive(self) -> bool | None:
        return self.args[0].is_real


class softplus(sympy.Function):  # noqa: N801
    """log(1 + exp(x)), computed stably by both engines."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x: sympy.Expr, **kwargs: object) -> sympy.Expr:
        return sympy.log(1 + sympy.exp(x))

    def _eval_rewrite_as_log(self, x: sympy.Expr, **kwargs: object) -> sympy.Expr:
        return sympy.log(1 + sympy.exp(x))

    def _eval_evalf(self, prec: int) -> sympy.Expr:
        return sympy.log(1 + sympy.exp(self.args[0]))._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real


class relu(sympy.Function):  # noqa: N801
    """max(x, 0); its derivative at 0 is undefined, so points there are excluded."""

    @classmethod
    def eval(cls, x: sympy.Expr) -> sympy.Expr | None:
        if x.is_number and x.is_real:
            return sympy.Max(x, 0)
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.Heaviside(self.args[0])

    def _eval_rewrite_as_Max(self, x: sympy.Expr, **kwargs: object) -> sympy.Expr:
        return sympy.Max(x, 0)

    def _eval_evalf(self, prec: int) -> sympy.Expr:
        return sympy.Max(self.args[0], 0)._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real


@dataclass(frozen=True)
class Builtin:
    """A function of the language: its arities and how it builds a SymPy scalar from scalars."""

    name: str
    arities: tuple[int, ...]
    build: Callable[..., sympy.Expr]
    usage: str


@dataclass(frozen=True)
class Row:
    """One function of the registry: everything verify knows about it, in one place.

    `name` is the language name ("" for a head that only derivatives produce, e.g. Heaviside),
    `heads` the SymPy classes it builds, `torch` the torch lowering (a name under `torch`, or
    `@name` for a helper of verify.engines.autograd), `arb` the certified evaluation over Arb
    balls (independent of `torch`: a bug in one cannot hide in the other), `symengine` whether
    SymEngine derives it exactly as SymPy does, `domain` and `docs` the line of the docs.
    """

    name: str
    arities: tuple[int, ...]
    build: Callable[..., sympy.Expr] | None
    heads: tuple[type, ...]
    torch: str
    arb: Callable[..., Any]
    domain: str = "all real x"
    docs: str = ""
    usage: str = ""
    symengine: bool = False

    def builtin(self) -> Builtin:
        return Builtin(self.name, self.arities, self.build or (lambda *a: sympy.S.Zero), self.usage or f"{self.name}(x)")


def _log(x: sympy.Expr, base: sympy.Expr | None = None) -> sympy.Expr:
    return sympy.log(x) if base is None else sympy.log(x) / sympy.log(base)


def _arb_lgamma(x: Any) -> Any:
    # log|gamma(x)| (torch.lgamma's convention), also for negative non-integer x
    return x.lgamma() if x > 0 else abs(x.gamma()).log()


def _arb_polygamma(n: Any, x: Any) -> Any:
    order = int(n.unique_fmpz())
    if order == 0:
        return x.digamma()
    # psi^(n)(x) = (-1)^(n+1) n! zeta(n+1, x)
    arb = type(x)
    return (-1) ** (order + 1) * arb.fac_ui(order) * arb(order + 1).zeta(x)


def _arb_reduce(method: str) -> Callable[..., Any]:
    def apply(*args: Any) -> Any:
        out = args[0]
        for arg in args[1:]:
            out = getattr(out, method)(arg)
        return out

    return apply


def _one(name: str, head: Any, torch: str | None = None, arb: Callable[[Any], Any] | None = None, *,
         domain: str = "all real x", docs: str = "", symengine: bool = False) -> Row:
    return Row(name, (1,), head, (head,), torch or name, arb or (lambda x: getattr(x, name)()), domain,
               docs, f"{name}(x)", symengine)


# The registry: one row per function. Every other table (the language's vocabulary, the torch
# lowering, the certified reference, SymEngine's heads, the cache's heads) is built from it.
ROWS: tuple[Row, ...] = (
    _one("sin", sympy.sin, symengine=True), _one("cos", sympy.cos, symengine=True),
    _one("tan", sympy.tan, symengine=True, domain="x not at pi/2 + k pi"),
    _one("asin", sympy.asin, symengine=True, domain="[-1, 1]"), _one("acos", sympy.acos, symengine=True,
                                                                     domain="[-1, 1]"),
    _one("atan", sympy.atan, symengine=True),
    Row("atan2", (2,), sympy.atan2, (sympy.atan2,), "atan2", lambda y, x: type(y).atan2(y, x),
        "(y, x) not (0, 0)", "angle of the point (x, y)", "atan2(y, x)"),
    _one("sinh", sympy.sinh, symengine=True), _one("cosh", sympy.cosh, symengine=True),
    _one("tanh", sympy.tanh, symengine=True), _one("asinh", sympy.asinh, symengine=True),
    _one("acosh", sympy.acosh, domain="x >= 1"), _one("atanh", sympy.atanh, symengine=True, domain="(-1, 1)"),
    _one("exp", sympy.exp, symengine=True),
    Row("log", (1, 2), _log, (sympy.log,), "log", lambda x: x.log(), "x > 0", "natural logarithm; log(x, b) base b",
        "log(x) or log(x, base)", True),
    _one("log1p", log1p, "log1p", lambda x: x.log1p(), domain="x > -1"),
    _one("expm1", expm1, "expm1", lambda x: x.expm1()),
    Row("sqrt", (1,), sympy.sqrt, (), "sqrt", lambda x: x.sqrt(), "x >= 0", "square root (a power 1/2)", "sqrt(x)"),
    _one("abs", sympy.Abs, "abs", lambda x: abs(x), docs="derivative undefined at 0 (a kink)"),
    _one("sign", sympy.sign, "sign", lambda x: x.sgn(), docs="-1, 0 or 1; derivative 0 away from 0"),
    _one("erf", sympy.erf, symengine=True), _one("erfc", sympy.erfc, symengine=True),
    _one("gamma", sympy.gamma, "@gamma", lambda x: x.gamma(), domain="x not a non-positive integer"),
    _one("lgamma", sympy.loggamma, "lgamma", _arb_lgamma, domain="x not a non-positive integer",
         docs="log|gamma(x)| (torch.lgamma)"),
    _one("digamma", sympy.digamma, "special.digamma", lambda x: x.digamma(), domain="x not a non-positive integer"),
    _one("sigmoid", sigmoid, "sigmoid", lambda x: 1 / (1 + (-x).exp()), docs="1 / (1 + exp(-x))"),
    _one("softplus", softplus, "@softplus", lambda x: x.exp().log1p(), docs="log(1 + exp(x))"),
    _one("relu", relu, "relu", lambda x: x.max(type(x)(0)), docs="max(x, 0); derivative undefined at 0"),
    Row("min", (2, 3, 4, 5, 6, 7, 8), sympy.Min, (sympy.Min,), "@minimum", _arb_reduce("min"),
        docs="derivative undefined at ties", usage="min(a, b, ...) elementwise, or min(v) over entries"),
    Row("max", (2, 3, 4, 5, 6, 7, 8), sympy.Max, (sympy.Max,), "@maximum", _arb_reduce("max"),
        docs="derivative undefined at ties", usage="max(a, b, ...) elementwise, or max(v) over entries"),
    # heads that only derivatives produce
    Row("", (2,), None, (sympy.polygamma,), "@polygamma", _arb_polygamma, "x not a non-positive integer",
        "polygamma(n, x), from derivatives of digamma"),
)

ELEMENTWISE: dict[str, Builtin] = {row.name: row.builtin() for row in ROWS if row.name}
"""Elementwise functions: they broadcast over shaped arguments like numpy ufuncs."""


def arb_table() -> dict[str, tuple[type, Callable[..., Any]]]:
    """Generated-code name -> (SymPy head, Arb evaluation), for the certified reference."""
    return {f"_f_{head.__name__}": (head, row.arb) for row in ROWS for head in row.heads}


def torch_table() -> dict[type, str]:
    """SymPy head -> the torch lowering's name (see Row.torch), for the torch engine."""
    return {head: row.torch for row in ROWS for head in row.heads}


def symengine_heads() -> tuple[type, ...]:
    """The function heads SymEngine derives exactly as SymPy does."""
    return tuple(head for row in ROWS if row.symengine for head in row.heads)


def registry_heads() -> tuple[type, ...]:
    """Every function head a derivation can produce from the language."""
    return tuple(head for row in ROWS for head in row.heads)


# Functions with their own shape rules, implemented by the expression compiler.
REDUCTIONS: dict[str, str] = {
    "where": "where(condition, a, b)",
    "sum": "sum(v)",
    "dot": "dot(u, v)",
    "norm": "norm(v) (L2) or norm(v, 1) (L1)",
    "trace": "trace(A)",
}

CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi, "E": sympy.E}
