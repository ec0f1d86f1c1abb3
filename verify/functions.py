"""The functions of the expression language, as SymPy builders, and verify's own SymPy functions."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy
from sympy.codegen.cfunctions import expm1, log1p

from verify import special

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
    """A function of the language: its arities and how it builds a SymPy scalar from scalars.

    `check`, when given, says what is wrong with the arguments (or None): polygamma's order
    must be a non-negative integer literal, say.
    """

    name: str
    arities: tuple[int, ...]
    build: Callable[..., sympy.Expr]
    usage: str
    check: Callable[..., str | None] | None = None


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
    jumps: str = ""  # where a step function jumps: "x" (integer x), "x!0" (nonzero integer x), "x/y", "x/y!0"
    check: Callable[..., str | None] | None = None

    def builtin(self) -> Builtin:
        return Builtin(self.name, self.arities, self.build or (lambda *a: sympy.S.Zero), self.usage or f"{self.name}(x)",
                       self.check)


def _log(x: sympy.Expr, base: sympy.Expr | None = None) -> sympy.Expr:
    return sympy.log(x) if base is None else sympy.log(x) / sympy.log(base)


def _arb_lgamma(x: Any) -> Any:
    # log|gamma(x)| (torch.lgamma's convention), also for negative non-integer x
    return x.lgamma() if x > 0 else abs(x.gamma()).log()


def _arb_polygamma(n: Any, x: Any) -> Any:
    order = int(n.unique_fmpz())
    if order == 0:
        return x.digamma()
    # psi^(n)(x) = (-1)^(n+1) n! zeta(n+1, x); Arb's Hurwitz zeta needs x > 0, so for x <= 0 shift
    # by the recurrence psi^(n)(x) = psi^(n)(x + k) - (-1)^n n! sum_{j<k} (x + j)^-(n+1)
    arb = type(x)
    factorial = arb.fac_ui(order)
    shift = 0 if x > 0 else math.floor(-float(x.mid())) + 1
    total = (-1) ** (order + 1) * factorial * arb(order + 1).zeta(x + shift)
    for j in range(shift):
        total -= (-1) ** order * factorial / (x + j) ** (order + 1)
    return total


def _arb_ndtr(x: Any) -> Any:
    arb = type(x)
    return (-x / arb(2).sqrt()).erfc() / 2


def _arb_sinc_derivative(n: Any, x: Any) -> Any:
    """The n-th derivative of sin(pi x)/(pi x): a Taylor series near 0, Leibniz's rule elsewhere."""
    arb = type(x)
    order = int(n.unique_fmpz())
    pi = arb.pi()
    if x.is_zero():
        return arb(0) if order % 2 else (-1) ** (order // 2) * pi**order / (order + 1)
    if abs(x) < arb(1) / 4:
        # sum over j >= n/2 of (-1)^j pi^2j x^(2j-n) / ((2j+1) (2j-n)!); terms shrink by a factor <= 1/2,
        # so the tail is below twice the first term left out
        total, j = arb(0), (order + 1) // 2
        while True:
            term = (-1) ** j * pi ** (2 * j) * x ** (2 * j - order) / ((2 * j + 1) * arb.fac_ui(2 * j - order))
            if term.is_zero() or abs(term) < abs(total) * arb(2) ** -(2 * 4096):
                break
            total += term
            j += 1
            if j > 4096:
                break
        bound = float(abs(term).upper()) * 2
        return total + arb(0, bound)
    # Leibniz: d^n [sin(pi x) (pi x)^-1] = sum_k C(n, k) pi^k sin(pi x + k pi/2) (-1)^(n-k) (n-k)! / (pi x^(n-k+1))
    total = arb(0)
    for k in range(order + 1):
        binomial = arb.fac_ui(order) / (arb.fac_ui(k) * arb.fac_ui(order - k))
        total += (binomial * pi**k * (x + arb(k) / 2).sin_pi() * (-1) ** (order - k) * arb.fac_ui(order - k)
                  / (pi * x ** (order - k + 1)))
    return total


def _arb_trunc(x: Any) -> Any:
    if x >= 0:
        return x.floor()
    if x <= 0:
        return x.ceil()
    return abs(x).floor() * x.sgn()


def _arb_round(x: Any) -> Any:
    half = x + type(x)(1) / 2
    down = half.floor()
    if half.is_exact() and half.is_integer() and not (down / 2).is_integer():
        return down - 1  # a tie goes to the even neighbour
    return down


def _arb_logsumexp(*args: Any) -> Any:
    total = args[0].exp()
    for arg in args[1:]:
        total += arg.exp()
    return total.log()


def _polygamma_order(n: sympy.Expr, x: sympy.Expr) -> str | None:
    if not (n.is_Integer and n >= 0):
        return f"the order of polygamma must be a non-negative integer literal, found {n}"
    return None


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
    # special functions with torch's conventions
    _one("erfinv", sympy.erfinv, "erfinv", lambda x: x.erfinv(), domain="(-1, 1)"),
    _one("erfcinv", special.erfcinv, "@erfcinv", lambda x: x.erfcinv(), domain="(0, 2)",
         docs="torch has no erfcinv: its lowering is -ndtri(x/2)/sqrt(2)"),
    _one("ndtr", special.ndtr, "special.ndtr", _arb_ndtr, docs="standard normal CDF"),
    _one("log_ndtr", special.log_ndtr, "special.log_ndtr", lambda x: _arb_ndtr(x).log(),
         docs="log of the standard normal CDF, for every real x"),
    _one("ndtri", special.ndtri, "special.ndtri", lambda p: -(2 * p).erfcinv() * type(p)(2).sqrt(), domain="(0, 1)",
         docs="inverse of ndtr"),
    _one("sinc", special.sinc, "sinc", lambda x: x.sinc_pi(), docs="sin(pi x)/(pi x), 1 at 0 (torch.sinc)"),
    Row("i0", (1,), lambda x: sympy.besseli(0, x), (sympy.besseli,), "@besseli", lambda nu, x: x.bessel_i(nu),
        docs="modified Bessel function of the first kind, order 0", usage="i0(x)"),
    Row("i1", (1,), lambda x: sympy.besseli(1, x), (), "@besseli", lambda nu, x: x.bessel_i(nu),
        docs="modified Bessel function of the first kind, order 1", usage="i1(x)"),
    _one("i0e", special.i0e, "special.i0e", lambda x: (-abs(x)).exp() * x.bessel_i(0), docs="exp(-|x|) i0(x)"),
    _one("i1e", special.i1e, "special.i1e", lambda x: (-abs(x)).exp() * x.bessel_i(1), docs="exp(-|x|) i1(x)"),
    Row("polygamma", (2,), sympy.polygamma, (sympy.polygamma,), "@polygamma", _arb_polygamma,
        "x not a non-positive integer", "the n-th derivative of digamma; n a non-negative integer literal",
        "polygamma(n, x)", check=_polygamma_order),
    Row("xlogy", (2,), special.xlogy, (special.xlogy,), "special.xlogy",
        lambda x, y: type(x)(0) if x.is_zero() else x * y.log(), "y > 0, or x = 0", "x log(y), 0 where x = 0",
        "xlogy(x, y)"),
    Row("xlog1py", (2,), special.xlog1py, (special.xlog1py,), "special.xlog1py",
        lambda x, y: type(x)(0) if x.is_zero() else x * y.log1p(), "y > -1, or x = 0", "x log1p(y), 0 where x = 0",
        "xlog1py(x, y)"),
    _one("logit", special.logit, "logit", lambda p: (p / (1 - p)).log(), domain="(0, 1)", docs="log(p / (1 - p))"),
    # step functions: derivative 0 (or 1) away from their jumps; a point on a jump is excluded
    Row("floor", (1,), special.floor, (special.floor,), "floor", lambda x: x.floor(), docs="largest integer <= x",
        usage="floor(x)", jumps="x"),
    Row("ceil", (1,), special.ceil, (special.ceil,), "ceil", lambda x: x.ceil(), docs="smallest integer >= x",
        usage="ceil(x)", jumps="x"),
    Row("trunc", (1,), special.trunc, (special.trunc,), "trunc", _arb_trunc, docs="x rounded toward 0",
        usage="trunc(x)", jumps="x!0"),
    Row("round", (1,), special.round_half_even, (special.round_half_even,), "round", _arb_round,
        docs="nearest integer, ties to even (torch.round)", usage="round(x)", jumps="x+1/2"),
    Row("frac", (1,), special.frac, (special.frac,), "frac", lambda x: x - _arb_trunc(x), docs="x - trunc(x)",
        usage="frac(x)", jumps="x!0"),
    Row("fmod", (2,), special.fmod, (special.fmod,), "fmod", lambda x, y: x - _arb_trunc(x / y) * y, "y != 0",
        "x - trunc(x/y) y, the sign of x (torch.fmod)", "fmod(x, y)", jumps="x/y!0"),
    Row("remainder", (2,), special.remainder, (special.remainder,), "remainder", lambda x, y: x - (x / y).floor() * y,
        "y != 0", "x - floor(x/y) y, the sign of y (torch.remainder)", "remainder(x, y)", jumps="x/y"),
    # heads that only the expression compiler and derivatives produce
    Row("", (1, 2, 3, 4, 5, 6, 7, 8), None, (special.logsumexp,), "@logsumexp", _arb_logsumexp,
        docs="log(sum(exp(v))) of the softmax family, computed stably"),
    Row("", (2,), None, (special.sinc_derivative,), "", _arb_sinc_derivative,
        docs="derivatives of sinc, finite at 0"),
    # SymPy's derivatives of abs write conjugate(f) where it cannot simplify it (f = i0(x)); every
    # value of the language is real, so these are the identity and zero
    Row("", (1,), None, (sympy.conjugate, sympy.re), "", lambda x: x, docs="conjugate and real part of a real value"),
    Row("", (1,), None, (sympy.im,), "", lambda x: 0 * x, docs="imaginary part of a real value"),
)

ELEMENTWISE: dict[str, Builtin] = {row.name: row.builtin() for row in ROWS if row.name}
"""Elementwise functions: they broadcast over shaped arguments like numpy ufuncs."""


def arb_table() -> dict[str, tuple[type, Callable[..., Any]]]:
    """Generated-code name -> (SymPy head, Arb evaluation), for the certified reference."""
    return {f"_f_{head.__name__}": (head, row.arb) for row in ROWS for head in row.heads}


def torch_table() -> dict[type, str]:
    """SymPy head -> the torch lowering's name (see Row.torch), for the torch engine.

    Heads that only derivatives produce (sinc_derivative) have none: torch differentiates the
    function itself, never a symbolic derivative.
    """
    return {head: row.torch for row in ROWS for head in row.heads if row.torch}


def jump_rules() -> dict[type, str]:
    """SymPy head -> where its step function jumps (Row.jumps), for the certified reference."""
    return {head: row.jumps for row in ROWS for head in row.heads if row.jumps}


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
    "mean": "mean(v) over all entries",
    "prod": "prod(v) over all entries",
    "softmax": "softmax(v) over the last axis",
    "log_softmax": "log_softmax(v) over the last axis",
    "logsumexp": "logsumexp(v) over the last axis (a scalar for a vector)",
    "det": "det(A) of a square matrix (up to 8 x 8)",
    "inv": "inv(A) of a square matrix (up to 8 x 8)",
    "solve": "solve(A, b): x with A @ x = b, A square (up to 8 x 8)",
}

MAX_DENSE_MATRIX = 8
"""The largest square matrix that det, inv and solve expand symbolically."""

CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi, "E": sympy.E}
