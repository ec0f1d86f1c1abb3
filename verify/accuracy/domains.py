"""The atlas's functions and where it samples them: one row per function of the language.

Every function of the registry (verify.functions.ROWS) with a language name has a row here;
tests check that none is missing. A row names the language expression, the torch code that
computes it (the same text is written into the findings' impl module, so what is measured is
what the findings run) and its sampling: segments of the documented domain.

Segments:

- `U(a, b)`: uniform on [a, b];
- `L(a, b, signs)`: log-uniform magnitudes in [a, b] (tails and tiny arguments), with the signs
  given ("+", "-" or "+-"); clipped to the dtype's normal range;
- `N(centres, a, b, side)`: near zeros, poles and branch points: c + s 10^u with |offset| in
  [a, b], plus the first four floats of the dtype on each requested side of fl(c);
- `S(signs)`: subnormals of the dtype, log-uniform between the smallest subnormal and the
  smallest normal number;
- `P(values)`: listed points.

Two-argument functions are sampled along slices: one argument varies over segments, the other
is fixed at a documented value; the gradient and Hessian are measured with respect to both
arguments (mixed partials included). polygamma(n, x) is measured for n = 1, 2, 3 (n = 0 is
digamma), n being a literal of the language.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ATLAS", "AtlasFunction", "L", "N", "P", "S", "Sampled", "Segment", "Slice", "U", "sample"]

_RANGE = {  # smallest subnormal, smallest normal, largest finite
    "float64": (2.0**-1074, 2.0**-1022, float(np.finfo(np.float64).max)),
    "float32": (2.0**-149, 2.0**-126, float(np.finfo(np.float32).max)),
}


@dataclass(frozen=True)
class Segment:
    """One region of a sampled domain (see the module docstring)."""

    kind: str
    a: float = 0.0
    b: float = 0.0
    centres: tuple[float, ...] = ()
    signs: str = "+-"
    weight: float = 1.0

    @property
    def label(self) -> str:
        if self.kind == "uniform":
            return f"uniform [{self.a:g}, {self.b:g}]"
        if self.kind == "log":
            return f"log-spaced, magnitude {self.a:.0e} to {self.b:.0e} ({self.signs})"  # no pipes: Markdown tables
        if self.kind == "near":
            where = ", ".join(f"{c:.10g}" for c in self.centres)
            return f"near {where} ({self.signs})"
        if self.kind == "subnormal":
            return "subnormal"
        return "listed"

    def draw(self, rng: np.random.Generator, count: int, dtype: str) -> np.ndarray:
        """`count` values (fewer for `P`, more for `N`'s neighbour floats), not yet rounded to the dtype."""
        denorm, tiny, big = _RANGE[dtype]
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b, count)
        if self.kind == "points":
            return np.asarray(self.centres, dtype=np.float64)
        if self.kind == "log":
            low, high = max(self.a, tiny), min(self.b, big)
            if low > high:
                return np.empty(0)
            magnitudes = 10.0 ** rng.uniform(math.log10(low), math.log10(high), count)
            return magnitudes * self._signs(rng, count)
        if self.kind == "subnormal":
            magnitudes = 2.0 ** rng.uniform(math.log2(denorm), math.log2(tiny), count)
            return magnitudes * self._signs(rng, count)
        # near: offsets from each centre, and the first floats of the dtype beside it
        per = max(1, count // max(1, len(self.centres)))
        np_dtype = np.float32 if dtype == "float32" else np.float64
        out = []
        for centre in self.centres:
            offsets = 10.0 ** rng.uniform(math.log10(self.a), math.log10(self.b), per)
            out.append(centre + offsets * self._signs(rng, per))
            base = np_dtype(centre)
            for direction, side in ((np.inf, "+"), (-np.inf, "-")):
                if side in self.signs:
                    value = base
                    for _ in range(4):
                        value = np.nextafter(value, np_dtype(direction))
                        out.append(np.array([float(value)]))
        return np.concatenate(out)

    def _signs(self, rng: np.random.Generator, count: int) -> np.ndarray:
        if self.signs == "+":
            return np.ones(count)
        if self.signs == "-":
            return -np.ones(count)
        return rng.choice(np.array([-1.0, 1.0]), count)


def U(a: float, b: float, weight: float = 1.0) -> Segment:  # noqa: N802 - short names make the table readable
    return Segment("uniform", a, b, weight=weight)


def L(a: float, b: float, signs: str = "+-", weight: float = 1.0) -> Segment:  # noqa: N802
    return Segment("log", a, b, signs=signs, weight=weight)


def N(centres: float | tuple[float, ...], a: float = 1e-16, b: float = 1e-1, side: str = "+-",  # noqa: N802
      weight: float = 1.0) -> Segment:
    cs = centres if isinstance(centres, tuple) else (centres,)
    return Segment("near", a, b, cs, side, weight)


def S(signs: str = "+-", weight: float = 0.5) -> Segment:  # noqa: N802
    return Segment("subnormal", signs=signs, weight=weight)


def P(*values: float) -> Segment:  # noqa: N802
    return Segment("points", centres=tuple(values), weight=0.0)


@dataclass(frozen=True)
class Slice:
    """Where a function is sampled: argument `vary` over `segments`, the others at `fixed` (None for `vary`)."""

    vary: int
    fixed: tuple[float | None, ...]
    segments: tuple[Segment, ...]

    @property
    def label(self) -> str:
        if len(self.fixed) == 1:
            return ""
        return ", ".join(f"{'*' if v is None else f'{v:g}'}" for v in self.fixed)


@dataclass(frozen=True)
class AtlasFunction:
    """A function as the atlas measures it: language expression, torch code, where it is sampled.

    `torch_code` is a Python expression over the argument names, `torch` and `math`: the
    measured callable and the findings' impl wrapper are both made from it.
    """

    label: str
    name: str
    args: tuple[str, ...]
    expr: str
    torch_code: str
    slices: tuple[Slice, ...]
    note: str = ""
    lowering: str = field(default="", compare=False)  # e.g. "verify's lowering (torch has no gamma)"

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "_" for c in self.label).strip("_").replace("__", "_")


def _one(name: str, *segments: Segment, code: str | None = None, note: str = "", lowering: str = "") -> AtlasFunction:
    return AtlasFunction(name, name, ("x",), f"{name}(x)", code or f"torch.{name}(x)",
                         (Slice(0, (None,), segments),), note, lowering)


def _two(name: str, args: tuple[str, str], slices: tuple[tuple[int, float, tuple[Segment, ...]], ...],
         code: str, note: str = "", expr: str | None = None) -> AtlasFunction:
    built = []
    for vary, other, segments in slices:
        fixed: list[float | None] = [other, other]
        fixed[vary] = None
        built.append(Slice(vary, tuple(fixed), segments))
    return AtlasFunction(name, name, args, expr or f"{name}({', '.join(args)})", code, tuple(built), note)


PI = math.pi
_TAILS = (L(1e-300, 1e300), S())
_DIGAMMA_ZERO = 1.4616321449683622
_LGAMMA_ZEROS = (1.0, 2.0, -2.4570247382208006, -2.7476826467274127)
_POLES = (0.0, -1.0, -2.0, -3.0)
_INTEGERS = (1.0, 2.0, -1.0, 3.0)

ATLAS: tuple[AtlasFunction, ...] = (
    _one("sin", U(-10, 10), L(1e-300, 1e22), N((PI, 2 * PI, 10 * PI), 1e-15), S()),
    _one("cos", U(-10, 10), L(1e-300, 1e22), N((PI / 2, 3 * PI / 2, 21 * PI / 2), 1e-15), S()),
    _one("tan", U(-1.5, 1.5), L(1e-300, 1e22), N((PI / 2, PI), 1e-15), S()),
    _one("asin", U(-1, 1), N(1.0, side="-"), N(-1.0, side="+"), L(1e-300, 1), S()),
    _one("acos", U(-1, 1), N(1.0, side="-"), N(-1.0, side="+"), L(1e-300, 1), S()),
    _one("atan", U(-10, 10), *_TAILS),
    _two("atan2", ("y", "x"), ((0, 1.0, (U(-10, 10), L(1e-300, 1e300))), (0, -1.0, (U(-10, 10), N(0.0, 1e-300, 1e-1))),
                               (1, 1.0, (U(-10, 10), L(1e-300, 1e300)))),
         "torch.atan2(y, x)", note="slices x = 1, x = -1 (y varies), y = 1 (x varies)"),
    _one("sinh", U(-5, 5), L(1e-300, 720), S()),
    _one("cosh", U(-5, 5), L(1e-300, 720), S()),
    _one("tanh", U(-5, 5), L(1e-300, 40), S()),
    _one("asinh", U(-10, 10), *_TAILS),
    _one("acosh", U(1, 10), N(1.0, side="+"), L(1, 1e300)),
    _one("atanh", U(-1, 1), N(1.0, side="-"), N(-1.0, side="+"), L(1e-300, 1), S()),
    _one("exp", U(-10, 10), L(1e-300, 750), S()),
    _one("log", U(1e-3, 10), N(1.0), L(1e-300, 1e300, "+"), S("+")),
    _one("log1p", U(-0.9, 10), N(-1.0, side="+"), L(1e-300, 1e300, "+"), L(1e-300, 0.5, "-"), S()),
    _one("expm1", U(-10, 10), L(1e-300, 720), S()),
    _one("sqrt", U(0, 10), L(1e-300, 1e300, "+"), S("+"), P(0.0)),
    _one("abs", U(-10, 10), *_TAILS, P(0.0)),
    _one("sign", U(-10, 10), *_TAILS, P(0.0)),
    _one("erf", U(-6, 6), L(1e-300, 30), S()),
    _one("erfc", U(-6, 27), L(1e-300, 30), S()),
    _one("gamma", U(-10, 10), N(_POLES, 1e-14), L(1e-300, 172, "+"), U(-170, -10, 0.5),
         code="torch.where((x < 0) & (torch.remainder(torch.floor(x), 2) != 0), -torch.ones_like(x), "
              "torch.ones_like(x)) * torch.exp(torch.lgamma(x))",
         lowering="verify's lowering: sign * exp(lgamma(x)) (torch has no gamma)"),
    _one("lgamma", U(-10, 10), N(_LGAMMA_ZEROS), N(_POLES, 1e-14), L(1e-300, 1e300, "+"), S("+")),
    _one("digamma", U(-5, 10), N(_DIGAMMA_ZERO), N(_POLES, 1e-14), L(1e-300, 1e300, "+"), S("+"),
         code="torch.special.digamma(x)"),
    _one("sigmoid", U(-10, 10), L(1e-300, 750), S()),
    _one("softplus", U(-10, 10), L(1e-300, 750), S(), code="torch.logaddexp(x, torch.zeros_like(x))",
         lowering="torch.logaddexp(x, 0) (verify's lowering, not F.softplus)"),
    _one("relu", U(-10, 10), *_TAILS),
    _two("min", ("a", "b"), ((0, 0.0, (U(-10, 10), L(1e-300, 1e300))), (0, 1.0, (U(-10, 10),))),
         "torch.minimum(a, b)", note="slices b = 0, b = 1"),
    _two("max", ("a", "b"), ((0, 0.0, (U(-10, 10), L(1e-300, 1e300))), (0, 1.0, (U(-10, 10),))),
         "torch.maximum(a, b)", note="slices b = 0, b = 1"),
    _one("erfinv", U(-1, 1), N(1.0, side="-"), N(-1.0, side="+"), L(1e-300, 1), S()),
    _one("erfcinv", U(0, 2), L(1e-300, 1, "+"), N(1.0), N(2.0, side="-"),
         code="-torch.special.ndtri(x / 2) / math.sqrt(2.0)",
         lowering="verify's lowering: -ndtri(x/2)/sqrt(2) (torch has no erfcinv)"),
    _one("ndtr", U(-10, 10), L(1e-300, 40), S(), code="torch.special.ndtr(x)"),
    _one("log_ndtr", U(-10, 10), L(1e-300, 1e10, "-"), L(1e-300, 40, "+"), S(), code="torch.special.log_ndtr(x)"),
    _one("ndtri", U(0, 1), L(1e-300, 0.5, "+"), N(1.0, side="-"), N(0.5), S("+"), code="torch.special.ndtri(x)"),
    _one("sinc", U(-5, 5), L(1e-300, 1e-1), N((1.0, 2.0, -3.0), 1e-15), L(1, 1e15), S(), P(0.0)),
    _one("i0", U(-10, 10), L(1e-300, 720), S(), code="torch.special.i0(x)"),
    _one("i1", U(-10, 10), L(1e-300, 720), S(), code="torch.special.i1(x)"),
    _one("i0e", U(-10, 10), *_TAILS, code="torch.special.i0e(x)"),
    _one("i1e", U(-10, 10), *_TAILS, code="torch.special.i1e(x)"),
    *(AtlasFunction(f"polygamma({n}, x)", "polygamma", ("x",), f"polygamma({n}, x)",
                    f"torch.special.polygamma({n}, x)",
                    (Slice(0, (None,), (U(-5, 10), N(_POLES, 1e-14), L(1e-300, 1e300, "+"), S("+"))),),
                    note="the order n is a literal: n = 1, 2, 3 (n = 0 is digamma)") for n in (1, 2, 3)),
    _two("xlogy", ("x", "y"), ((1, 1.0, (U(0, 10), N(1.0), L(1e-300, 1e300, "+"))), (1, -2.5, (U(0, 10),)),
                               (0, 2.0, (U(-10, 10), L(1e-300, 1e300))), (0, 0.5, (U(-10, 10),))),
         "torch.special.xlogy(x, y)", note="slices x = 1, x = -2.5 (y varies), y = 2, y = 0.5 (x varies)"),
    _two("xlog1py", ("x", "y"), ((1, 1.0, (U(-0.9, 10), N(-1.0, side="+"), L(1e-300, 1e300))),
                                 (1, -2.5, (U(-0.9, 10),)), (0, 1.0, (U(-10, 10), L(1e-300, 1e300))),
                                 (0, -0.5, (U(-10, 10),))),
         "torch.special.xlog1py(x, y)", note="slices x = 1, x = -2.5 (y varies), y = 1, y = -0.5 (x varies)"),
    _one("logit", U(0, 1), N(0.5), N(1.0, side="-"), L(1e-300, 0.5, "+"), S("+")),
    _one("floor", U(-10, 10), N(_INTEGERS, 1e-15), *_TAILS),
    _one("ceil", U(-10, 10), N(_INTEGERS, 1e-15), *_TAILS),
    _one("trunc", U(-10, 10), N(_INTEGERS, 1e-15), *_TAILS),
    _one("round", U(-10, 10), N((0.5, 1.5, 2.5, -0.5), 1e-15), *_TAILS),
    _one("frac", U(-10, 10), N(_INTEGERS, 1e-15), *_TAILS),
    _two("fmod", ("x", "y"), ((0, 1.0, (U(-10, 10), L(1e-300, 1e300))), (0, -2.5, (U(-10, 10),)),
                              (1, 5.5, (U(0.1, 10), U(-10, -0.1)))),
         "torch.fmod(x, y)", note="slices y = 1, y = -2.5 (x varies), x = 5.5 (y varies)"),
    _two("remainder", ("x", "y"), ((0, 1.0, (U(-10, 10), L(1e-300, 1e300))), (0, -2.5, (U(-10, 10),)),
                                   (1, 5.5, (U(0.1, 10), U(-10, -0.1)))),
         "torch.remainder(x, y)", note="slices y = 1, y = -2.5 (x varies), x = 5.5 (y varies)"),
)


@dataclass(frozen=True)
class Sampled:
    """Points of a function's domain in one dtype: (B, arity) float64 values of the dtype.

    `region` (B,) indexes `labels` ("slice: segment" for two-argument functions); `slice_of`
    gives each region's slice.
    """

    points: np.ndarray
    region: np.ndarray
    labels: tuple[str, ...]
    slice_of: tuple[int, ...]


def sample(function: AtlasFunction, count: int, dtype: str, seed: int = 0) -> Sampled:
    """About `count` distinct points of `function`'s domain in `dtype` (see the module docstring)."""
    np_dtype = np.float32 if dtype == "float32" else np.float64
    rng = np.random.default_rng([seed, sum(map(ord, function.label)), 32 if dtype == "float32" else 64])
    per_slice = max(1, count // len(function.slices))
    points: list[np.ndarray] = []
    regions: list[np.ndarray] = []
    labels: list[str] = []
    slice_of: list[int] = []
    for index, slice_ in enumerate(function.slices):
        weights = np.array([s.weight for s in slice_.segments], dtype=np.float64)
        shares = np.floor(per_slice * weights / max(weights.sum(), 1e-300)).astype(int)
        for segment, share in zip(slice_.segments, shares):
            with np.errstate(over="ignore", invalid="ignore"):
                values = segment.draw(rng, int(share), dtype).astype(np_dtype).astype(np.float64)
            values = np.unique(values[np.isfinite(values)] + 0.0)  # + 0.0: no -0.0, which the exact side cannot see
            block = np.empty((values.size, len(function.args)))
            for j, fixed in enumerate(slice_.fixed):
                block[:, j] = values if fixed is None else float(np_dtype(fixed))
            points.append(block)
            regions.append(np.full(values.size, len(labels)))
            labels.append(f"{slice_.label}: {segment.label}" if slice_.label else segment.label)
            slice_of.append(index)
    return Sampled(np.concatenate(points), np.concatenate(regions).astype(int), tuple(labels), tuple(slice_of))
