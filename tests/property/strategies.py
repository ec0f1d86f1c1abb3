"""Hypothesis strategies: well-conditioned expressions of the case language, whole case files, hostile text.

Every generated expression carries a bound on its values and on its first partial derivatives over
the box its variables live in (interval arithmetic, and a fine grid for each elementwise function).
Arguments are wrapped so each function stays inside its smooth domain with a margin (log(1 + a**2),
sqrt(2 + sin(a)), acosh(2 + a**2), asin(a/3), gamma on [0.5, 5], ...), and a subexpression whose
values or slopes grow past `VALUE_MAX` / `SLOPE_MAX` is divided down. A correct implementation must
therefore agree with itself everywhere on the box in float64, and within the default float32
tolerance: these bounds are what keep the properties free of false alarms.

Known bugs of verify that the properties found are pinned in test_regressions.py. Until they are
fixed, the strategies steer around their shapes unless called with `known_bugs=True`, at places
marked "known bug": no where is generated inside the condition of another where (a max stands in);
what is differentiated in float64 gets no function whose derivatives hold trigamma (erf stands in);
atan2 gets no pair of constant arguments (atan of the first stands in).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from hypothesis import strategies as st
from scipy import special

__all__ = [
    "BOX",
    "COVERED_FUNCTIONS",
    "INSIDE_POINT",
    "OUTSIDE_POINT",
    "PAYLOADS",
    "SLOPE_MAX",
    "VALUE_MAX",
    "Expr",
    "GeneratedCase",
    "GeneratedChain",
    "case_files",
    "chain_cases",
    "evaluate",
    "expressions",
    "hostile_texts",
    "leaves",
    "valid_texts",
]

BOX = (-2.0, 2.0)  # every case variable is sampled here
VALUE_MAX = 5.0  # |value| of any generated subexpression, after scaling
SLOPE_MAX = 10.0  # |d value / d variable| of any generated subexpression, after scaling
_GRID = 257


@dataclass(frozen=True)
class Expr:
    """An expression's text with bounds over its variables' box: lo <= value <= hi, |partial| <= slope.

    `atom` says whether the text can stand as an operand without parentheses; `fn` evaluates it with
    numpy on arrays of variable values (used to test these bounds themselves).
    """

    text: str
    lo: float
    hi: float
    slope: float
    atom: bool = True
    fn: Callable[[Mapping[str, np.ndarray]], np.ndarray] = field(default=lambda env: np.asarray(0.0), compare=False,
                                                                 repr=False)
    smooth: bool = True  # no kink, jump or branch anywhere below

    @property
    def bound(self) -> float:
        return max(abs(self.lo), abs(self.hi))

    def operand(self) -> str:
        return self.text if self.atom else f"({self.text})"


def evaluate(expr: Expr, env: Mapping[str, np.ndarray]) -> np.ndarray:
    """`expr` evaluated with numpy at the variable values `env` (arrays of one shape)."""
    with np.errstate(all="ignore"):
        return np.asarray(expr.fn(env), dtype=np.float64)


def _number_text(value: float) -> str:
    return f"{value:.6g}"


def _const(value: float, text: str | None = None) -> Expr:
    text = text or _number_text(value)
    return Expr(text, value, value, 0.0, atom=not text.startswith("-"), fn=lambda env: np.asarray(value))


# -- the elementwise functions: numpy value, numpy derivative ------------------------------------

def _sigmoid(t: np.ndarray) -> np.ndarray:
    return special.expit(t)


_UNARY: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "sin": (np.sin, np.cos),
    "cos": (np.cos, lambda t: -np.sin(t)),
    "tan": (np.tan, lambda t: 1 / np.cos(t) ** 2),
    "asin": (np.arcsin, lambda t: 1 / np.sqrt(1 - t**2)),
    "acos": (np.arccos, lambda t: -1 / np.sqrt(1 - t**2)),
    "atan": (np.arctan, lambda t: 1 / (1 + t**2)),
    "sinh": (np.sinh, np.cosh),
    "cosh": (np.cosh, np.sinh),
    "tanh": (np.tanh, lambda t: 1 - np.tanh(t) ** 2),
    "asinh": (np.arcsinh, lambda t: 1 / np.sqrt(1 + t**2)),
    "acosh": (np.arccosh, lambda t: 1 / np.sqrt(t**2 - 1)),
    "atanh": (np.arctanh, lambda t: 1 / (1 - t**2)),
    "exp": (np.exp, np.exp),
    "expm1": (np.expm1, np.exp),
    "log": (np.log, lambda t: 1 / t),
    "log1p": (np.log1p, lambda t: 1 / (1 + t)),
    "sqrt": (np.sqrt, lambda t: 0.5 / np.sqrt(t)),
    "erf": (special.erf, lambda t: 2 / math.sqrt(math.pi) * np.exp(-(t**2))),
    "erfc": (special.erfc, lambda t: -2 / math.sqrt(math.pi) * np.exp(-(t**2))),
    "gamma": (special.gamma, lambda t: special.gamma(t) * special.digamma(t)),
    "lgamma": (special.gammaln, special.digamma),
    "digamma": (special.digamma, lambda t: special.polygamma(1, t)),
    "sigmoid": (_sigmoid, lambda t: _sigmoid(t) * (1 - _sigmoid(t))),
    "softplus": (lambda t: np.logaddexp(0, t), _sigmoid),
    "abs": (np.abs, np.sign),
    "relu": (lambda t: np.maximum(t, 0), lambda t: (t > 0).astype(float)),
    "sign": (np.sign, np.zeros_like),
    "erfinv": (special.erfinv, lambda t: math.sqrt(math.pi) / 2 * np.exp(special.erfinv(t) ** 2)),
    "erfcinv": (special.erfcinv, lambda t: -math.sqrt(math.pi) / 2 * np.exp(special.erfcinv(t) ** 2)),
    "ndtr": (special.ndtr, lambda t: np.exp(-(t**2) / 2) / math.sqrt(2 * math.pi)),
    "log_ndtr": (special.log_ndtr, lambda t: np.exp(-(t**2) / 2 - special.log_ndtr(t)) / math.sqrt(2 * math.pi)),
    "ndtri": (special.ndtri, lambda t: math.sqrt(2 * math.pi) * np.exp(special.ndtri(t) ** 2 / 2)),
    "sinc": (np.sinc, lambda t: (np.cos(np.pi * t) - np.sinc(t)) / t),
    "i0": (special.i0, special.i1),
    "i1": (special.i1, lambda t: (special.i0(t) + special.iv(2, t)) / 2),
    "i0e": (special.i0e, lambda t: special.i1e(t) - special.i0e(t)),
    "i1e": (special.i1e, lambda t: (special.i0e(t) + special.ive(2, t)) / 2 - special.i1e(t)),
    "logit": (special.logit, lambda t: 1 / (t * (1 - t))),
    "floor": (np.floor, np.zeros_like),
    "ceil": (np.ceil, np.zeros_like),
    "trunc": (np.trunc, np.zeros_like),
    "round": (np.round, np.zeros_like),
    "frac": (lambda t: t - np.trunc(t), np.ones_like),
}

# Where each function is smooth and well-conditioned: a symmetric bound |a| <= c, or an interval.
_SYMMETRIC = {"tan": 1.2, "asin": 0.75, "acos": 0.75, "atanh": 0.75, "exp": 2.5, "expm1": 2.5, "sinh": 2.5,
              "cosh": 2.5, "erfinv": 0.75, "i0": 3.0, "i1": 3.0}
_INTERVAL = {"log": (0.5, math.inf), "sqrt": (0.25, math.inf), "acosh": (1.5, math.inf), "log1p": (-0.5, math.inf),
             "gamma": (0.5, 5.0), "lgamma": (0.5, 5.0), "digamma": (0.5, 5.0), "erfcinv": (0.2, 1.8),
             "ndtri": (0.05, 0.95), "logit": (0.05, 0.95), "i0e": (0.25, 10.0), "i1e": (0.25, 10.0),
             # sinc away from 0: torch's float32 derivative near 0 is a torch finding (cases/torch_functions)
             "sinc": (0.25, 3.0)}
_ANYWHERE = ("sin", "cos", "atan", "tanh", "asinh", "erf", "erfc", "sigmoid", "softplus", "ndtr", "log_ndtr")
_KINKED = ("abs", "relu", "sign", "floor", "ceil", "trunc", "round", "frac")
SMOOTH_FUNCTIONS = (*_ANYWHERE, *_SYMMETRIC, *_INTERVAL)


def _unary(name: str, a: Expr) -> Expr:
    f, df = _UNARY[name]
    t = np.linspace(a.lo, a.hi, _GRID) if a.hi > a.lo else np.array([a.lo])
    with np.errstate(all="ignore"):
        values, slopes = f(t), np.abs(df(t))
    if not (np.isfinite(values).all() and np.isfinite(slopes).all()):
        raise AssertionError(f"{name} evaluated outside its domain on [{a.lo}, {a.hi}]")
    pad = 0.02 * (float(values.max()) - float(values.min())) + 1e-9
    lo, hi = float(values.min()) - pad, float(values.max()) + pad
    if name in ("sin", "cos"):
        lo, hi = max(lo, -1.0), min(hi, 1.0)
    slope = 1.05 * float(slopes.max()) * a.slope
    inner = a.fn
    return Expr(f"{name}({a.text})", lo, hi, slope, atom=True, fn=lambda env: f(inner(env)),
                smooth=a.smooth and name not in _KINKED)


def _scaled(a: Expr, value_max: float = VALUE_MAX, slope_max: float = SLOPE_MAX) -> Expr:
    """`a`, divided by a small integer when its values or slopes are too large."""
    k = math.ceil(max(a.bound / value_max, a.slope / slope_max, 1.0) - 1e-12)
    if k <= 1:
        return a
    return _div_const(a, k)


def _div_const(a: Expr, k: float) -> Expr:
    inner = a.fn
    return Expr(f"{a.operand()}/{_number_text(k)}", a.lo / k, a.hi / k, a.slope / k, atom=False,
                fn=lambda env: inner(env) / k, smooth=a.smooth)


def _add(a: Expr, b: Expr, sign: int = 1) -> Expr:
    fa, fb = a.fn, b.fn
    if sign > 0:
        text, lo, hi = f"{a.text} + {b.operand() if b.text.startswith('-') else b.text}", a.lo + b.lo, a.hi + b.hi
        fn = lambda env: fa(env) + fb(env)
    else:
        text, lo, hi = f"{a.text} - {b.operand()}", a.lo - b.hi, a.hi - b.lo
        fn = lambda env: fa(env) - fb(env)
    return Expr(text, lo, hi, a.slope + b.slope, atom=False, fn=fn, smooth=a.smooth and b.smooth)


def _mul(a: Expr, b: Expr) -> Expr:
    ends = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
    fa, fb = a.fn, b.fn
    return Expr(f"{a.operand()}*{b.operand()}", min(ends), max(ends), a.bound * b.slope + b.bound * a.slope,
                atom=False, fn=lambda env: fa(env) * fb(env), smooth=a.smooth and b.smooth)


def _div(a: Expr, p: Expr) -> Expr:
    """a / p for a positive p."""
    assert p.lo > 0
    ends = [a.lo / p.lo, a.lo / p.hi, a.hi / p.lo, a.hi / p.hi]
    fa, fp = a.fn, p.fn
    slope = a.slope / p.lo + a.bound * p.slope / p.lo**2
    return Expr(f"{a.operand()}/{p.operand()}", min(ends), max(ends), slope, atom=False,
                fn=lambda env: fa(env) / fp(env), smooth=a.smooth and p.smooth)


def _pos(a: Expr) -> Expr:
    return replace(a, text=f"+{a.operand()}", atom=False)


def _neg(a: Expr) -> Expr:
    inner = a.fn
    return Expr(f"-{a.operand()}", -a.hi, -a.lo, a.slope, atom=False, fn=lambda env: -inner(env), smooth=a.smooth)


def _int_power(a: Expr, n: int, text: str) -> Expr:
    ends = [a.lo**n, a.hi**n]
    lo, hi = min(ends), max(ends)
    if n % 2 == 0 and a.lo < 0 < a.hi:
        lo = 0.0
    inner = a.fn
    return Expr(f"{a.operand()}**{text}", lo, hi, n * a.bound ** (n - 1) * a.slope, atom=False,
                fn=lambda env: inner(env) ** n, smooth=a.smooth)


def _real_power(p: Expr, r: float, text: str) -> Expr:
    """p**r for a positive p and a constant r."""
    assert p.lo > 0
    ends = [p.lo**r, p.hi**r]
    derivative = abs(r) * max(p.lo ** (r - 1), p.hi ** (r - 1))
    inner = p.fn
    return Expr(f"{p.operand()}**{text}", min(ends), max(ends), derivative * p.slope, atom=False,
                fn=lambda env: inner(env) ** r, smooth=p.smooth)


def _var_power(p: Expr, s: Expr) -> Expr:
    """p**s for a positive p: exp(s*log(p))."""
    assert p.lo > 0
    logs = [math.log(p.lo), math.log(p.hi)]
    ends = [s.lo * logs[0], s.lo * logs[1], s.hi * logs[0], s.hi * logs[1]]
    lo, hi = math.exp(min(ends)), math.exp(max(ends))
    slope = hi * (max(abs(v) for v in logs) * s.slope + s.bound / p.lo * p.slope)
    fp, fs = p.fn, s.fn
    exponent = s.text if s.atom and not s.text.startswith("-") else f"({s.text})"
    return Expr(f"{p.operand()}**{exponent}", lo, hi, slope, atom=False, fn=lambda env: fp(env) ** fs(env),
                smooth=p.smooth and s.smooth)


def _atan2(a: Expr, p: Expr, swapped: bool) -> Expr:
    """atan2(a, p) (or atan2(p, a) when swapped) for a positive p: away from the branch cut and the origin."""
    assert p.lo > 0
    slope = (p.bound * a.slope + a.bound * p.slope) / p.lo**2
    fa, fp = a.fn, p.fn
    if swapped:
        return Expr(f"atan2({p.text}, {a.text})", 0.0, math.pi, slope, fn=lambda env: np.arctan2(fp(env), fa(env)),
                    smooth=a.smooth and p.smooth)
    return Expr(f"atan2({a.text}, {p.text})", -math.pi / 2, math.pi / 2, slope,
                fn=lambda env: np.arctan2(fa(env), fp(env)), smooth=a.smooth and p.smooth)


def _log_base(p: Expr, base: float) -> Expr:
    inner = _unary("log", p)
    factor = 1 / math.log(base)
    ends = [inner.lo * factor, inner.hi * factor]
    fp = p.fn
    return Expr(f"log({p.text}, {_number_text(base)})", min(ends), max(ends), inner.slope * abs(factor),
                fn=lambda env: np.log(fp(env)) / math.log(base), smooth=p.smooth)


def _min_max(name: str, parts: Sequence[Expr]) -> Expr:
    reduce = np.minimum if name == "min" else np.maximum
    fns = [p.fn for p in parts]

    def fn(env: Mapping[str, np.ndarray]) -> np.ndarray:
        out = np.asarray(fns[0](env))
        for f in fns[1:]:
            out = reduce(out, f(env))
        return out

    pick = min if name == "min" else max
    return Expr(f"{name}({', '.join(p.text for p in parts)})", pick(p.lo for p in parts), pick(p.hi for p in parts),
                max(p.slope for p in parts), fn=fn, smooth=False)


_COMPARE = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}


def _where(left: Expr, op: str, right: Expr, a: Expr, b: Expr) -> Expr:
    fl, fr, fa, fb = left.fn, right.fn, a.fn, b.fn
    compare = _COMPARE[op]
    return Expr(f"where({left.text} {op} {right.text}, {a.text}, {b.text})", min(a.lo, b.lo), max(a.hi, b.hi),
                max(a.slope, b.slope), fn=lambda env: np.where(compare(fl(env), fr(env)), fa(env), fb(env)),
                smooth=False)


@dataclass(frozen=True)
class _Context:
    variables: Mapping[str, tuple[float, float]]
    smooth: bool  # leave out abs, relu, sign, min, max, where
    known_bugs: bool  # also generate the shapes of the known bugs (see the module docstring)
    in_condition: bool = False
    sample: Mapping[str, np.ndarray] = field(default_factory=dict)  # the variables at sample points, for _ties
    float64_order: int = 0  # its derivatives up to this order are compared in float64 (0: not in float64)


_SAMPLE_SIZE = 256


def _box_sample(variables: Mapping[str, tuple[float, float]]) -> dict[str, np.ndarray]:
    """Random points of the box, and the points case_files lists (a tie there is excluded too)."""
    rng = np.random.default_rng(20240531)
    out = {name: rng.uniform(lo, hi, _SAMPLE_SIZE) for name, (lo, hi) in sorted(variables.items())}
    for name in out:
        if name in OUTSIDE_POINT:
            out[name][:2] = OUTSIDE_POINT[name], INSIDE_POINT[name]
    return out


def _constant(ctx: _Context, a: Expr) -> bool:
    """Whether `a` takes one value at every sample point (it holds no variable, or its variables are constant)."""
    values = np.broadcast_to(evaluate(a, ctx.sample), (_SAMPLE_SIZE,))
    return bool((values == values[0]).all())


def _ties(ctx: _Context, *parts: Expr) -> bool:
    """Whether two of `parts` (or the one part and 0) are equal at a sample point: a tie on a whole region.

    A kink whose two sides tie on a region (max(x, y, where(x >= y, x, y)), relu(x*(y + 1) - x*y - x))
    has no derivative there (the points are excluded, and with all of them the check errors), and in
    float32 its branch follows rounding noise: not what the properties are about.
    """
    values = [np.broadcast_to(evaluate(p, ctx.sample), (_SAMPLE_SIZE,)) for p in parts]
    if len(values) == 1:
        values.append(np.zeros(_SAMPLE_SIZE))
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            scale = 1 + np.abs(values[i]) + np.abs(values[j])
            if (np.abs(values[i] - values[j]) <= 1e-9 * scale).any():
                return True
    return False


# -- fitting an argument into a domain -----------------------------------------------------------

def _fit_symmetric(a: Expr, c: float) -> Expr:
    """`a`, divided down to |a| <= c when it is larger."""
    if a.bound <= c:
        return a
    k = math.ceil(a.bound / c * 4) / 4  # a multiple of 1/4, so the text stays exact
    return _div_const(a, k)


_OFFSET_FORMS = ("square", "sin", "sigmoid", "exp", "softplus", "cos_sq")


def _fit_interval(draw: st.DrawFn, a: Expr, low: float, high: float) -> Expr:
    """`a` itself when it lies inside [low, high] with a margin, else `c + w(a)` inside it (w bounded)."""
    if low + 0.1 <= a.lo and a.hi <= high - 0.1 and draw(st.booleans()):
        return a
    form = draw(st.sampled_from(_OFFSET_FORMS))
    if form == "exp" and a.hi > 1.0:
        form = "sigmoid"
    if form == "square":
        w = _int_power(a if a.bound <= 2 else _div_const(a, math.ceil(a.bound / 2)), 2, "2")
    elif form == "cos_sq":
        w = _int_power(_unary("cos", a), 2, "2")
    else:
        w = _unary(form, a)
    room = high - low - 0.5
    if w.hi - w.lo > room:
        w = _div_const(w, math.ceil((w.hi - w.lo) / room * 4) / 4)
    offset = math.ceil((low + 0.1 - w.lo) * 4) / 4
    extra = draw(st.sampled_from([0.0, 0.5, 1.0]))
    if offset + extra + w.hi <= high - 0.1:
        offset += extra
    result = _add(_const(offset), w)
    assert low < result.lo and result.hi < high, (result, low, high)
    return result


# -- strategies ----------------------------------------------------------------------------------

_DECIMALS = ("0.5", "1.5", "0.25", "2.5", "0.1", "2.5e-1", "1e-1", "3", "2", "1", "0")


def leaves(variables: Mapping[str, tuple[float, float]]) -> st.SearchStrategy[Expr]:
    """A variable (bounded by its interval, slope 1), a small number, pi or E."""

    def variable(name: str) -> Expr:
        lo, hi = variables[name]
        return Expr(name, lo, hi, 1.0, fn=lambda env: np.asarray(env[name], dtype=np.float64))

    numbers = st.sampled_from(_DECIMALS).map(lambda text: _const(float(text), text))
    constants = st.sampled_from([("pi", math.pi), ("E", math.e)]).map(lambda c: _const(c[1], c[0]))
    names = st.sampled_from(sorted(variables)).map(variable)
    return st.integers(0, 9).flatmap(lambda k: names if k < 7 else numbers if k < 9 else constants)


# Functions whose derivatives up to order 1 or 2 hold trigamma, which torch computes in float64 to
# only ~5e-10 relative: over the default float64 atol when a derivative entry cancels.
_TRIGAMMA = {1: ("digamma",), 2: ("digamma", "lgamma", "gamma")}

# Every function of the language that the generator uses (a test compares it with verify.functions).
COVERED_FUNCTIONS = frozenset({*SMOOTH_FUNCTIONS, *_KINKED, "atan2", "log", "min", "max", "where"})
NOT_GENERATED = frozenset({"xlogy", "xlog1py", "fmod", "remainder", "polygamma"})
"""Two-argument or order-literal functions the strategies do not draw (cases/elementary and tests/language cover them)."""

_KINDS = ("unary", "unary", "unary", "add", "sub", "mul", "div", "neg", "power", "atan2", "log_base", "minmax",
          "where", "kinked")
_NOT_SMOOTH = ("minmax", "where", "kinked")


@st.composite
def _expr(draw: st.DrawFn, ctx: _Context, depth: int) -> Expr:
    if depth <= 0 or draw(st.integers(0, 4)) == 0:
        return draw(leaves(ctx.variables))
    kind = draw(st.sampled_from([k for k in _KINDS if not (ctx.smooth and k in _NOT_SMOOTH)]))
    sub = _expr(ctx, depth - 1)
    if kind == "unary":
        name = draw(st.sampled_from(SMOOTH_FUNCTIONS))
        a = draw(sub)
        if name in _TRIGAMMA.get(ctx.float64_order, ()) and not ctx.known_bugs:
            name = "erf"  # known bug (false alarm): torch's float64 trigamma vs the default tolerance (test_regressions.py)
        if name in _SYMMETRIC:
            a = _fit_symmetric(a, _SYMMETRIC[name])
        elif name in _INTERVAL:
            a = _fit_interval(draw, a, *_INTERVAL[name])
        result = _unary(name, a)
    elif kind == "kinked":
        name, a = draw(st.sampled_from(_KINKED)), draw(sub)
        result = a if _ties(ctx, a) else _unary(name, a)
    elif kind in ("add", "sub"):
        result = _add(draw(sub), draw(sub), 1 if kind == "add" else -1)
    elif kind == "mul":
        result = _mul(draw(sub), draw(sub))
    elif kind == "div":
        result = _div(draw(sub), _fit_interval(draw, draw(sub), 0.5, math.inf))
    elif kind == "neg":
        result = _neg(draw(sub)) if draw(st.integers(0, 3)) else _pos(draw(sub))
    elif kind == "power":
        form = draw(st.sampled_from(["int", "int", "real", "variable"]))
        if form == "int":
            n = draw(st.sampled_from([2, 3]))
            a = draw(sub)
            result = _int_power(a if a.bound <= 2 else _div_const(a, math.ceil(a.bound / 2)), n, str(n))
        elif form == "real":
            text = draw(st.sampled_from(["0.5", "-1", "1.5", "-0.5", "-2", "(-1)", "2.5"]))
            result = _real_power(_fit_interval(draw, draw(sub), 0.5, 4.0), float(text.strip("()")), text)
        else:
            exponent = _fit_symmetric(draw(sub), 2.0)
            result = _var_power(_fit_interval(draw, draw(sub), 0.5, 3.0), exponent)
    elif kind == "atan2":
        a, p = draw(sub), _fit_interval(draw, draw(sub), 0.5, math.inf)
        if not ctx.known_bugs and _constant(ctx, a) and _constant(ctx, p):
            # known bug: SymPy writes atan2 of constants it cannot sign as -I*log(...), which torch cannot lower
            result = _unary("atan", a)
        else:
            result = _atan2(a, p, swapped=draw(st.booleans()))
    elif kind == "log_base":
        result = _log_base(_fit_interval(draw, draw(sub), 0.5, math.inf), draw(st.sampled_from([2.0, 10.0, 0.5])))
    elif kind == "minmax":
        parts = draw(st.lists(sub, min_size=2, max_size=3))
        result = parts[0] if _ties(ctx, *parts) else _min_max(draw(st.sampled_from(["min", "max"])), parts)
    else:
        if ctx.in_condition and not ctx.known_bugs:
            # known bug: a where inside the condition of a where leaves an ITE that torch cannot lower
            # (test_regressions.py); a max stands in for it
            parts = [draw(sub), draw(sub)]
            return _scaled(parts[0] if _ties(ctx, *parts) else _min_max("max", parts))
        operand = _expr(replace(ctx, in_condition=True), depth - 1)
        left, op, right, a, b = draw(operand), draw(st.sampled_from(sorted(_COMPARE))), draw(operand), draw(sub), draw(sub)
        result = a if _ties(ctx, left, right) else _where(left, op, right, a, b)
    return _scaled(result)


def expressions(variables: Mapping[str, tuple[float, float]] | None = None, max_depth: int = 3,
                smooth: bool = False, meaning: Mapping[str, Expr] | None = None,
                known_bugs: bool = False, in_condition: bool = False,
                float64_order: int = 0) -> st.SearchStrategy[Expr]:
    """Well-conditioned scalar expressions over `variables` (name -> interval), at most `max_depth` deep.

    `smooth=True` leaves out abs, relu, sign, min, max and where. `meaning` maps a variable that stands
    for an expression over x, y, z to that expression (the outer function of a composition).
    `known_bugs=True` also generates the shapes that the known bugs need (see the module docstring);
    `in_condition=True` says the expression will sit inside a where's condition; `float64_order=k`
    that its derivatives up to order k will be compared in float64.
    """
    variables = dict(variables or {"x": BOX, "y": BOX, "z": BOX})
    sample = _box_sample(variables)
    if meaning:
        inner = _box_sample({"x": BOX, "y": BOX, "z": BOX})
        sample.update({name: np.broadcast_to(evaluate(e, inner), (_SAMPLE_SIZE,)) for name, e in meaning.items()})
    ctx = _Context(variables, smooth, known_bugs, in_condition, sample, float64_order)
    return _expr(ctx, max_depth)


def valid_texts() -> st.SearchStrategy[str]:
    """Texts of valid expressions over x, y, z."""
    return expressions(max_depth=4).map(lambda e: e.text)


# -- whole case files ----------------------------------------------------------------------------

_PARTIAL = ("sqrt(x)", "log(x)", "asin(x)", "acosh(x + 1.25)", "atanh(x)", "log1p(x)")
OUTSIDE_POINT = {"x": -1.5, "y": 0.75, "z": -0.25}  # outside the domain of every _PARTIAL term
INSIDE_POINT = {"x": 0.5, "y": -0.5, "z": 1.25}  # inside all of them: a value check never loses every point


def _quoted(text: str) -> str:
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


@dataclass(frozen=True)
class GeneratedCase:
    """A case file's text and what went into it."""

    yaml: str
    variables: tuple[str, ...]
    scalar: Expr
    vector: tuple[Expr, ...]
    partial: str
    dtypes: tuple[str, ...]

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example
        return f"GeneratedCase(yaml=\n{self.yaml})"


@st.composite
def case_files(draw: st.DrawFn, dtypes: Sequence[str] = ("float64",), modes: Sequence[str] = ("rev", "fwd"),
               max_depth: int = 4, random_points: int = 16, known_bugs: bool = False) -> GeneratedCase:
    """A case over x (and y, z): a scalar function `f` (jacobian and hessian), a vector `g` (jacobian)
    and `p`, a term defined on part of the box plus a smooth expression (value and jacobian; where
    an exact value is not finite, outside the term's domain, the point must be excluded, never judged).
    Two points are listed: one outside the domain of every such term, one inside all of them."""
    names = draw(st.sampled_from([("x",), ("x", "y"), ("x", "y", "z")]))
    box = {n: BOX for n in names}
    order = 1 if "float64" in dtypes else 0  # f gets a Hessian: order 2
    scalar = draw(expressions(box, max_depth, known_bugs=known_bugs, float64_order=2 * order))
    vector = tuple(draw(st.lists(expressions(box, max_depth - 1, known_bugs=known_bugs, float64_order=order),
                                 min_size=2, max_size=3)))
    partial_term = draw(st.sampled_from(_PARTIAL))
    rest = draw(expressions(box, 2, smooth=True, known_bugs=known_bugs, float64_order=order))
    partial = f"{partial_term} + {rest.operand()}"
    seed = draw(st.integers(0, 2**16))
    at = ", ".join("{" + ", ".join(f"{n}: {point[n]}" for n in names) + "}" for point in (OUTSIDE_POINT, INSIDE_POINT))
    lines = [
        "name: generated",
        "variables:",
        *[f"  {n}: {{low: {BOX[0]}, high: {BOX[1]}}}" for n in names],
        "functions:",
        f"  f: {_quoted(scalar.text)}",
        f"  g: [{', '.join(_quoted(e.text) for e in vector)}]",
        f"  p: {_quoted(partial)}",
        "checks:",
        "  - jacobian: f",
        "  - hessian: f",
        "  - jacobian: g",
        "  - value: p",
        "  - jacobian: p",
        f"points: {{random: {random_points}, at: [{at}]}}",
        f"seed: {seed}",
        f"dtypes: [{', '.join(dtypes)}]",
        f"modes: [{', '.join(modes)}]",
        "devices: [cpu]",
    ]
    return GeneratedCase("\n".join(lines) + "\n", names, scalar, vector, partial, tuple(dtypes))


@dataclass(frozen=True)
class GeneratedChain:
    """A composition case H = F(G(x, y)): G has two outputs, F takes (u, v)."""

    yaml: str
    inner: tuple[Expr, Expr]
    outer: tuple[Expr, ...]

    def __repr__(self) -> str:
        return f"GeneratedChain(yaml=\n{self.yaml})"


@st.composite
def chain_cases(draw: st.DrawFn, max_depth: int = 2, random_points: int = 16,
                known_bugs: bool = False) -> GeneratedChain:
    """G(x, y) with two outputs, F(u, v) with one or two, generated for the range G actually covers."""
    box = {"x": BOX, "y": BOX}
    inner = (draw(expressions(box, max_depth, known_bugs=known_bugs, float64_order=1)),
             draw(expressions(box, max_depth, known_bugs=known_bugs, float64_order=1)))
    outer_box = {"u": (inner[0].lo, inner[0].hi), "v": (inner[1].lo, inner[1].hi)}
    meaning = {"u": inner[0], "v": inner[1]}
    # a where of F whose condition holds u or v would hold G's where after substitution (known bug)
    nested = any("where(" in e.text for e in inner)
    outer = tuple(draw(st.lists(expressions(outer_box, max_depth, meaning=meaning, in_condition=nested and not known_bugs,
                                            known_bugs=known_bugs, float64_order=1),
                                min_size=1, max_size=2)))
    outer_text = _quoted(outer[0].text) if len(outer) == 1 else f"[{', '.join(_quoted(e.text) for e in outer)}]"
    seed = draw(st.integers(0, 2**16))
    lines = [
        "name: generated-chain",
        "variables:",
        f"  x: {{low: {BOX[0]}, high: {BOX[1]}}}",
        f"  y: {{low: {BOX[0]}, high: {BOX[1]}}}",
        "functions:",
        f"  G: {{args: [x, y], expr: [{_quoted(inner[0].text)}, {_quoted(inner[1].text)}]}}",
        f"  F: {{args: [u, v], expr: {outer_text}}}",
        "  H: F(G(x, y))",
        "checks:",
        "  - chain_rule: H",
        f"points: {{random: {random_points}}}",
        f"seed: {seed}",
        "dtypes: [float64]",
        "devices: [cpu]",
    ]
    return GeneratedChain("\n".join(lines) + "\n", inner, outer)


# -- hostile text --------------------------------------------------------------------------------

PAYLOADS = (
    "__import__('os').system('x')",
    "__import__('os').system",
    "__import__",
    "eval('1')",
    "exec('import os')",
    "compile('1', 'f', 'eval')",
    "open('/etc/passwd').read()",
    "x.__class__.__mro__[1].__subclasses__()",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__dict__",
    "sin.__globals__",
    "__builtins__",
    "globals()",
    "locals()",
    "vars()",
    "getattr(x, '__class__')",
    "type(x)",
    "lambda: 0",
    "(lambda q: q)(x)",
    "[q for q in (1, 2)]",
    "{q: q for q in x}",
    "(q for q in x)",
    "f'{x}'",
    "f'{__import__(\"os\").system(\"x\")}'",
    "(y := 1)",
    "x if y else z",
    "sin(x=1)",
    "max(*x)",
    "min(**x)",
    "'x'",
    "b'x'",
    "1j",
    "...",
    "None",
    "True",
    "x.T.T.__len__",
    "x[::]",
    "x[0:1]",
    "x[y]",
    "x and y",
    "not x",
    "x // y",
    "x % y",
    "x << y",
    "x ^ y",
    "~x",
    "x < y",
    "await x",
    "yield x",
    "import os",
    "x = 1",
    "x; y",
    "del x",
    "sympy.sin(x)",
    "S('x')",
    "Symbol('x')",
    "sympify('x')",
    "exp",
    "pi(x)",
    "1e999",
    "-1e999",
    "1e-999",
    "9" * 5000,
    "2 ** 2 ** 2 ** 2 ** 2 ** 2",
    "10 ** 10 ** 10",
    "0.5 ** 1e300",
    "x ** 100000",
    "x ** -100000",
    "E ** 100000",
    "(1/3) ** 100000",
    "x[100000000000000000000]",
    "norm(x, 10 ** 100)",
    "log(x, 1)",
    "1/0",
    "0 ** -1",
    "where(x > 0, x, 1/0)",
    "atan2(0, 0)",
    "min()",
    "where()",
    "sum()",
    "\x00",
    "x\n+ y",
    "x # comment",
    "\\",
    "(",
    ")",
    "",
    "   ",
)


def _wrapped(depth: int, opening: str, closing: str, middle: str = "x") -> str:
    return opening * depth + middle + closing * depth


def hostile_texts() -> st.SearchStrategy[str]:
    """Text a case file might hold: known attacks, random text, valid expressions spliced with attacks."""
    valid = valid_texts()
    attribute = st.sampled_from(["__class__", "__globals__", "__dict__", "real", "T", "func", "args", "subs",
                                 "evalf", "__reduce__", "_sympy_"])
    splices = st.one_of(
        st.tuples(valid, attribute).map(lambda t: f"({t[0]}).{t[1]}"),
        st.tuples(valid, st.sampled_from(PAYLOADS)).map(lambda t: f"{t[0]} + {t[1]}"),
        st.tuples(st.sampled_from(PAYLOADS), valid).map(lambda t: f"sin({t[0]}) * {t[1]}"),
        st.tuples(valid, valid).map(lambda t: f"[q for q in ({t[0]}, {t[1]})]"),
        st.tuples(valid, valid).map(lambda t: f"(lambda q: {t[0]})({t[1]})"),
        st.tuples(valid, valid).map(lambda t: f"(q := {t[0]}) + {t[1]}"),
        st.tuples(valid, valid).map(lambda t: f"f'{{{t[0]}}}' + {t[1]}"),
        st.tuples(st.sampled_from(["sin", "log", "max", "where"]), valid).map(lambda t: f"{t[0]}(x={t[1]})"),
        st.tuples(valid, st.integers(1, 10_000)).map(lambda t: f"({t[0]}) ** {t[1]}"),
        st.tuples(valid, st.sampled_from(["//", "%", "<<", "&", "|", "^", "and", "or", "<", "=="]), valid)
        .map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        valid.map(lambda t: t[: len(t) // 2]),
        valid.map(lambda t: t.replace("(", "[")),
    )
    nesting = st.one_of(
        st.integers(1, 400).map(lambda n: _wrapped(n, "(", ")")),
        st.integers(1, 400).map(lambda n: _wrapped(n, "sin(", ")")),
        st.integers(1, 400).map(lambda n: _wrapped(n, "[", "]")),
        st.integers(1, 6000).map(lambda n: "-" * n + "x"),
        st.integers(1, 3000).map(lambda n: " + ".join(["x"] * n)),
        st.integers(1, 400).map(lambda n: "x" + "**x" * n),
    )
    numbers = st.one_of(
        st.integers(-(10**400), 10**400).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.tuples(st.integers(0, 9), st.integers(-4000, 4000)).map(lambda t: f"{t[0]}e{t[1]}"),
        st.tuples(valid, st.integers(-2000, 2000)).map(lambda t: f"({t[0]}) ** {t[1]}"),
        st.integers(1, 300).map(lambda n: f"x ** {'9' * n}"),
        st.integers(1, 6000).map(lambda n: "0x" + "f" * n),
        st.integers(1, 8).map(lambda n: "*".join(["9**1000"] * n) + " + 1/0"),
        st.integers(1, 8).map(lambda n: f"({'*'.join(['9**1000'] * n)})**1"),
        st.integers(1, 8).map(lambda n: "where(x > 0, 1/0, " + "*".join(["9**1000"] * n) + ")"),
    )
    return st.one_of(
        st.sampled_from(PAYLOADS),
        splices,
        nesting,
        numbers,
        st.text(alphabet=st.characters(codec="utf-8"), max_size=60),
        st.text(alphabet="xyz()+-*/.,[]{}:=<>!'\"_ 0123456789eE@~%&|^#\\\n\tabcdefghijklmnopqrstuvw", max_size=60),
        valid,
    )
