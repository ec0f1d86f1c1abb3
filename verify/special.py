"""verify's own SymPy functions for the special functions of the language, each with torch's convention.

SymPy has some of these under other conventions (its `sinc` is sin(x)/x, unnormalised) or not
at all (ndtr, log_ndtr, xlogy, the scaled Bessel functions, fmod with C's sign rule). Each class
gives its derivative (`fdiff`) in closed form; values are evaluated by the certified reference
(verify.functions, the `arb` column) and lowered to torch (the `torch` column).
"""

from __future__ import annotations

import sympy

__all__ = [
    "ceil", "erfcinv", "floor", "fmod", "frac", "i0e", "i1e", "log_ndtr", "logit", "logsumexp", "ndtr", "ndtri", "remainder",
    "round_half_even", "sinc", "sinc_derivative", "trunc", "xlog1py", "xlogy",
]

_SQRT_2PI = sympy.sqrt(2 * sympy.pi)


class _Real(sympy.Function):
    """A real function of real arguments, evaluated numerically (evalf) by its certified Arb row."""

    def _eval_is_real(self) -> bool | None:
        return True if all(a.is_real for a in self.args) else None

    def _eval_evalf(self, prec: int) -> sympy.Expr | None:
        from verify.engines.certified import flint_module
        from verify.functions import arb_table

        flint = flint_module()
        ops = {head: fn for head, fn in arb_table().values()}
        op = ops.get(type(self))
        if op is None:
            return None
        digits = int(prec * 0.30103) + 10  # decimal digits for `prec` bits, and a margin
        values = [a.evalf(digits) for a in self.args]
        if not all(v.is_Number for v in values):
            return None
        saved = flint.ctx.prec
        flint.ctx.prec = prec + 40
        try:
            ball = op(*(flint.arb(str(sympy.Float(v, digits))) for v in values))
            if not ball.is_finite():
                return None
            return sympy.Float(ball.mid().str(digits, radius=False), digits)
        finally:
            flint.ctx.prec = saved


class ndtr(_Real):  # noqa: N801 - named as users write it
    """The standard normal CDF, (1 + erf(x / sqrt(2))) / 2."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        x = self.args[0]
        return sympy.exp(-x**2 / 2) / _SQRT_2PI


class log_ndtr(_Real):  # noqa: N801
    """log(ndtr(x)), for every real x (torch.special.log_ndtr)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        x = self.args[0]
        return sympy.exp(-x**2 / 2 - self) / _SQRT_2PI


class ndtri(_Real):  # noqa: N801
    """The inverse of ndtr on (0, 1)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return _SQRT_2PI * sympy.exp(self**2 / 2)


class erfcinv(_Real):  # noqa: N801
    """The inverse of erfc on (0, 2) (SymPy's own cannot be evaluated numerically)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return -sympy.sqrt(sympy.pi) / 2 * sympy.exp(self**2)


class sinc(_Real):  # noqa: N801
    """sin(pi x) / (pi x), 1 at 0 (torch.sinc): analytic everywhere."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sinc_derivative(1, self.args[0])


class sinc_derivative(_Real):  # noqa: N801
    """The n-th derivative of sinc at x (n a positive integer), finite at 0 too."""

    def fdiff(self, argindex: int = 2) -> sympy.Expr:
        if argindex != 2:
            raise sympy.ArgumentIndexError(self, argindex)
        n, x = self.args
        return sinc_derivative(n + 1, x)


class i0e(_Real):  # noqa: N801
    """exp(-|x|) I0(x), the exponentially scaled modified Bessel function of order 0."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        x = self.args[0]
        return sympy.exp(-sympy.Abs(x)) * (sympy.besseli(1, x) - sympy.sign(x) * sympy.besseli(0, x))


class i1e(_Real):  # noqa: N801
    """exp(-|x|) I1(x), the exponentially scaled modified Bessel function of order 1."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        x = self.args[0]
        derivative = (sympy.besseli(0, x) + sympy.besseli(2, x)) / 2
        return sympy.exp(-sympy.Abs(x)) * (derivative - sympy.sign(x) * sympy.besseli(1, x))


class xlogy(_Real):  # noqa: N801
    """x log(y), and 0 where x = 0 (torch.special.xlogy)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        x, y = self.args
        return sympy.log(y) if argindex == 1 else x / y


class xlog1py(_Real):  # noqa: N801
    """x log1p(y), and 0 where x = 0 (torch.special.xlog1py)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        from sympy.codegen.cfunctions import log1p

        x, y = self.args
        return log1p(y) if argindex == 1 else x / (1 + y)


class logit(_Real):  # noqa: N801
    """log(p / (1 - p)) on (0, 1)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        p = self.args[0]
        return 1 / (p * (1 - p))


class logsumexp(_Real):  # noqa: N801
    """log(exp(a) + exp(b) + ...), over its arguments (computed stably by both engines)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.exp(self.args[argindex - 1] - self)


class _Step(_Real):
    """A step function: derivative 0 away from its jumps; a point on a jump is excluded."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero


class floor(_Step):  # noqa: N801
    """The largest integer <= x (torch.floor)."""


class ceil(_Step):  # noqa: N801
    """The smallest integer >= x (torch.ceil)."""


class trunc(_Step):  # noqa: N801
    """x rounded toward 0 (torch.trunc)."""


class round_half_even(_Step):  # noqa: N801
    """x rounded to the nearest integer, ties to even (torch.round)."""


class frac(_Real):  # noqa: N801
    """x - trunc(x) (torch.frac): the sign of x."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.One


class fmod(_Real):  # noqa: N801
    """x - trunc(x / y) y: the remainder with the sign of x (torch.fmod, C's fmod)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        x, y = self.args
        return sympy.S.One if argindex == 1 else -trunc(x / y)


class remainder(_Real):  # noqa: N801
    """x - floor(x / y) y: the remainder with the sign of y (torch.remainder, Python's %)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        x, y = self.args
        return sympy.S.One if argindex == 1 else -floor(x / y)
