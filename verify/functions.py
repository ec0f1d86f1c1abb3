"""The functions of the expression language, as SymPy builders, and verify's own SymPy functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy
from sympy.codegen.cfunctions import expm1, log1p

__all__ = ["ELEMENTWISE", "REDUCTIONS", "Builtin", "relu", "sigmoid", "softplus"]


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


def _log(x: sympy.Expr, base: sympy.Expr | None = None) -> sympy.Expr:
    return sympy.log(x) if base is None else sympy.log(x) / sympy.log(base)


def _one(name: str, fn: Callable[[sympy.Expr], sympy.Expr]) -> Builtin:
    return Builtin(name, (1,), fn, f"{name}(x)")


# Elementwise functions broadcast over shaped arguments like numpy ufuncs.
ELEMENTWISE: dict[str, Builtin] = {
    b.name: b
    for b in [
        _one("sin", sympy.sin), _one("cos", sympy.cos), _one("tan", sympy.tan),
        _one("asin", sympy.asin), _one("acos", sympy.acos), _one("atan", sympy.atan),
        Builtin("atan2", (2,), sympy.atan2, "atan2(y, x)"),
        _one("sinh", sympy.sinh), _one("cosh", sympy.cosh), _one("tanh", sympy.tanh),
        _one("asinh", sympy.asinh), _one("acosh", sympy.acosh), _one("atanh", sympy.atanh),
        _one("exp", sympy.exp),
        Builtin("log", (1, 2), _log, "log(x) or log(x, base)"),
        _one("log1p", log1p), _one("expm1", expm1), _one("sqrt", sympy.sqrt),
        _one("abs", sympy.Abs), _one("sign", sympy.sign),
        _one("erf", sympy.erf), _one("erfc", sympy.erfc), _one("gamma", sympy.gamma),
        _one("lgamma", sympy.loggamma), _one("digamma", sympy.digamma),
        _one("sigmoid", sigmoid), _one("softplus", softplus), _one("relu", relu),
        Builtin("min", (2, 3, 4, 5, 6, 7, 8), sympy.Min, "min(a, b, ...) elementwise, or min(v) over entries"),
        Builtin("max", (2, 3, 4, 5, 6, 7, 8), sympy.Max, "max(a, b, ...) elementwise, or max(v) over entries"),
    ]
}

# Functions with their own shape rules, implemented by the expression compiler.
REDUCTIONS: dict[str, str] = {
    "where": "where(condition, a, b)",
    "sum": "sum(v)",
    "dot": "dot(u, v)",
    "norm": "norm(v) (L2) or norm(v, 1) (L1)",
    "trace": "trace(A)",
}

CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi, "E": sympy.E}
