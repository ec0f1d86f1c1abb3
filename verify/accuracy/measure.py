"""Measuring torch against the certified exact value: the exact side (Arb) and the torch side.

The exact value of every entry (value, gradient, Hessian) is evaluated in ball arithmetic by
verify's certified reference (verify.engines.certified) from SymPy's derivative of the
registry's definition, at 128 bits, then 512 and 4096 for the points not yet certified. It is
kept as a float64 pair hi + lo (hi the midpoint rounded to float64, lo the remainder), so an
error is measured to a fraction of an ULP even in float64. Derivatives are evaluated in hull
mode: at a kink or a jump the one-sided values are united, and a point where they differ is
excluded (as verify does), as is a point where the function itself is undefined.

torch is measured as verify runs it: value `f(x)`; first derivative `jacrev` (rev) and `jacfwd`
(fwd); second derivative `jacrev(jacrev)` (rev) and `jacfwd(jacrev)` (fwd), all under `vmap`
over the points, in the dtype, on the device.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

from verify.accuracy.domains import AtlasFunction, Sampled
from verify.accuracy.ulp import rounded, ulp_error

__all__ = ["DEFINED", "ORDERS", "Exact", "Series", "derivatives", "exact_values", "expression", "fill_summary", "summarize",
           "torch_callable", "torch_values"]

DEFINED, UNDEFINED, BOUNDARY, NOT_CERTIFIED = 0, 1, 2, 3
ORDERS = ("value", "first", "second")
_PASSES = (128, 512, 4096)
_WANTED_BITS = {"float64": 53 + 12, "float32": 24 + 12}
_NEGLIGIBLE = 2.0**-1100  # a radius below every subnormal: the rounding is decided


def expression(function: AtlasFunction) -> tuple[sympy.Expr, list[sympy.Symbol]]:
    """The function's SymPy expression over real symbols named as its arguments."""
    from verify.functions import ELEMENTWISE

    symbols = [sympy.Symbol(name, real=True) for name in function.args]
    builtin = ELEMENTWISE[function.name]
    if function.name == "polygamma":
        order = int(function.expr.split("(")[1].split(",")[0])
        return builtin.build(sympy.Integer(order), symbols[0]), symbols
    return builtin.build(*symbols), symbols


def derivatives(function: AtlasFunction) -> tuple[list[sympy.Symbol], list[np.ndarray]]:
    """Symbols and [value (1,), gradient (n,), Hessian (n*n,)] entries, derived by verify's symbolic engine."""
    from verify.engines.symbolic import jacobian_of

    expr, symbols = expression(function)
    value = np.array([expr], dtype=object)
    gradient = jacobian_of(value, symbols).reshape(-1)
    hessian = jacobian_of(gradient, symbols).reshape(-1)
    return symbols, [value, gradient, hessian]


@dataclass(frozen=True)
class Exact:
    """Exact entries at points: hi + lo (B, E), hi the float64 rounding; status (B,) DEFINED or why not."""

    hi: np.ndarray
    lo: np.ndarray
    status: np.ndarray
    seconds: float
    max_bits: int


def exact_values(function: AtlasFunction, order: int, points: np.ndarray, dtype: str,
                 entries: list[np.ndarray] | None = None, symbols: Sequence[sympy.Symbol] | None = None) -> Exact:
    """The certified exact value (order 0), gradient (1) or Hessian (2) of `function` at `points`."""
    from verify.engines.certified import flint_module

    flint = flint_module()

    from verify.engines.certified import compile_arb

    if entries is None or symbols is None:
        symbols, entries = derivatives(function)
    start = time.perf_counter()
    program = compile_arb(entries[order], list(symbols), guards=tuple(entries[:order]), hull=order > 0)
    n_entries = entries[order].size
    batch = points.shape[0]
    hi = np.full((batch, n_entries), np.nan)
    lo = np.zeros((batch, n_entries))
    status = np.full(batch, NOT_CERTIFIED, dtype=np.int8)
    wanted = _WANTED_BITS[dtype]
    used = _PASSES[0]
    for index in range(batch):
        exact_point = [flint.arb(float(v)) for v in points[index]]
        for bits in _PASSES:
            used = max(used, bits)
            balls, boundary = program.balls(exact_point, bits)
            values, guards = balls[:n_entries], balls[n_entries:]
            if not all(g.is_finite() for g in guards) or not all(b.is_finite() for b in values):
                if boundary:
                    status[index] = BOUNDARY
                    break
                status[index] = UNDEFINED  # kept unless a higher precision finds a value
                continue
            if all(b.rel_accuracy_bits() >= wanted or float(b.rad()) <= _NEGLIGIBLE for b in values):
                for j, ball in enumerate(values):
                    hi[index, j] = float(ball)
                    if math.isfinite(hi[index, j]):
                        lo[index, j] = float(ball - hi[index, j])
                status[index] = DEFINED
                break
            if boundary:
                status[index] = BOUNDARY  # the one-sided values differ: no precision narrows their union
                break
            status[index] = NOT_CERTIFIED
    hi[status != DEFINED] = np.nan
    return Exact(hi, lo, status, time.perf_counter() - start, used)


def torch_callable(function: AtlasFunction) -> Callable[..., Any]:
    """The torch function measured, made from the row's `torch_code` (the findings' impl runs the same text)."""
    import torch

    source = f"lambda {', '.join(function.args)}: {function.torch_code}"
    return eval(compile(source, f"<accuracy {function.label}>", "eval"), {"torch": torch, "math": math})  # noqa: S307


def torch_values(function: AtlasFunction, order: int, mode: str, points: np.ndarray, dtype: str,
                 device: str) -> np.ndarray:
    """torch's value, gradient or Hessian at `points`, (B, E) float64 holding values of `dtype`."""
    import torch
    from torch import func

    op = torch_callable(function)

    def scalar(z: Any) -> Any:
        return op(*z.unbind(-1))

    if order == 0:
        transform: Callable[..., Any] = scalar
    elif order == 1:
        transform = func.jacrev(scalar) if mode == "rev" else func.jacfwd(scalar)
    else:
        transform = (func.jacrev if mode == "rev" else func.jacfwd)(func.jacrev(scalar))
    z = torch.as_tensor(points, dtype=getattr(torch, dtype), device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no batching rule for aten::special_log_ndtr": slower, still right
        try:
            out = func.vmap(transform)(z)
        except Exception:  # an op that vmap cannot batch at all: point by point
            out = torch.stack([transform(row) for row in z])
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    # jacfwd can hand back float64 tangents for float32 inputs: judged in the dtype
    return out.detach().to(getattr(torch, dtype)).cpu().double().numpy().reshape(points.shape[0], -1)


@dataclass
class Series:
    """One measurement: a function, dtype, device, mode and order, with its per-point errors.

    `errors` (B,) is the largest ULP error over the point's entries (nan where excluded); the
    summary fields describe the compared points. `failure` is set when torch raised.
    """

    label: str
    dtype: str
    device: str
    mode: str
    order: int
    sampled: Sampled
    errors: np.ndarray
    compared: int = 0
    excluded: int = 0
    nonfinite: int = 0
    max: float = float("nan")
    p99: float = float("nan")
    median: float = float("nan")
    worst_point: tuple[float, ...] = ()
    worst_entry: int = 0
    worst_exact: float = float("nan")
    worst_torch: float = float("nan")
    worst_region: str = ""
    failure: str = ""
    seconds: float = 0.0
    worst_points: list[tuple[tuple[float, ...], float]] = field(default_factory=list)  # (point, ULPs), worst first
    entry_at: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))  # (B,) each point's worst entry
    exact_at: np.ndarray = field(default_factory=lambda: np.empty(0))  # (B,) its exact value, rounded to the dtype
    torch_at: np.ndarray = field(default_factory=lambda: np.empty(0))  # (B,) and torch's

    @property
    def order_name(self) -> str:
        return ORDERS[self.order]


def summarize(series: Series, computed: np.ndarray, exact: Exact) -> Series:
    """Fills `series`' per-point errors and its summary from torch's values and the exact ones."""
    defined = exact.status == DEFINED
    errors_full = ulp_error(computed, exact.hi, exact.lo, series.dtype)  # (B, E)
    errors_full[~defined] = -1.0
    errors_full = np.where(np.isnan(errors_full), -1.0, errors_full)
    entry = np.argmax(errors_full, axis=1)
    rows = np.arange(len(entry))
    series.errors = np.where(defined, errors_full[rows, entry], np.nan)
    series.entry_at = entry
    series.exact_at = rounded(exact.hi[rows, entry], exact.lo[rows, entry], series.dtype)
    series.torch_at = computed[rows, entry]
    series.nonfinite = int(np.sum(defined & ~np.isfinite(series.torch_at) & np.isfinite(series.exact_at)))
    return fill_summary(series)


def fill_summary(series: Series, mask: np.ndarray | None = None) -> Series:
    """The summary fields of `series` from its per-point arrays, over the points where `mask` holds (all)."""
    errors = series.errors if mask is None else np.where(mask, series.errors, np.nan)
    judged_mask = ~np.isnan(errors)
    series.compared = int(judged_mask.sum())
    series.excluded = int(errors.size - series.compared) if mask is None else series.excluded
    if not series.compared:
        return series
    judged = errors[judged_mask]
    series.max = float(judged.max())
    series.p99 = float(np.percentile(judged, 99, method="higher"))
    series.median = float(np.percentile(judged, 50, method="higher"))
    order = np.argsort(np.where(judged_mask, errors, -np.inf), kind="stable")[::-1]
    worst = int(order[0])
    series.worst_point = tuple(float(v) for v in series.sampled.points[worst])
    series.worst_entry = int(series.entry_at[worst])
    series.worst_exact = float(series.exact_at[worst])
    series.worst_torch = float(series.torch_at[worst])
    series.worst_region = series.sampled.labels[int(series.sampled.region[worst])]
    series.worst_points = [(tuple(float(v) for v in series.sampled.points[i]), float(errors[i])) for i in order[:8]
                           if judged_mask[i] and errors[i] > 0]
    return series
