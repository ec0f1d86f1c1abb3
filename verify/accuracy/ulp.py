"""Errors in units in the last place (ULPs) of a dtype, against an exact value held as hi + lo.

The unit in the last place of a real x in a binary format with p-bit significands and
smallest normal exponent emin is

    ulp(x) = 2^(max(e, emin) - p + 1),   where 2^e <= |x| < 2^(e+1),

(the definition of Goldberg and of Muller's "Handbook of Floating-Point Arithmetic", used by
the tables of Gladman, Innocente, Mather and Zimmermann). So ulp(0) and the ulp of every
subnormal is the smallest subnormal, and x's own binade decides, not its rounding: just below
a power of two the ulp is the smaller one. The error of a computed value t is |t - x| / ulp(x);
adjacent floats are 1 ULP apart and a correctly rounded result is within 0.5.

Conventions for what the formula cannot say: a computed +-inf counts 0 where x rounds to that
infinity in the dtype (x beyond its range) and inf otherwise, as does a nan; x beyond the
range and t finite is measured with the ulp of the largest binade. A signed zero is a zero.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FORMATS", "rounded", "ulp", "ulp_error"]

FORMATS = {"float64": (53, -1022, 1023), "float32": (24, -126, 127)}
"""dtype -> (significand bits p, emin, emax)."""


def _binade(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """The exponent e of x = hi + lo, 2^e <= |x| < 2^(e+1) (hi rounded to float64, lo its remainder)."""
    mantissa, exponent = np.frexp(hi)  # hi = m 2^k, 0.5 <= |m| < 1, so e = k - 1 ...
    e = exponent.astype(np.int64) - 1
    below = (np.abs(mantissa) == 0.5) & (np.sign(lo) == -np.sign(hi)) & (lo != 0)
    return e - below  # ... unless hi is a power of two reached by rounding up: x lies in the binade below


def ulp(hi: np.ndarray, lo: np.ndarray | None = None, dtype: str = "float64") -> np.ndarray:
    """ulp(x) in `dtype` for x = hi + lo (see the module docstring); the smallest subnormal for 0."""
    p, emin, emax = FORMATS[dtype]
    hi = np.asarray(hi, dtype=np.float64)
    lo = np.zeros_like(hi) if lo is None else np.asarray(lo, dtype=np.float64)
    e = np.clip(_binade(hi, lo), emin, emax)
    e = np.where(hi == 0, emin, e)
    return np.ldexp(1.0, (e - p + 1).astype(np.int64))


def rounded(hi: np.ndarray, lo: np.ndarray, dtype: str) -> np.ndarray:
    """x = hi + lo rounded to `dtype` (held as float64): +-inf beyond its range."""
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.where(np.isfinite(hi), hi + np.nan_to_num(lo), hi)
        if dtype == "float32":
            return total.astype(np.float32).astype(np.float64)
        return total


def ulp_error(computed: np.ndarray, hi: np.ndarray, lo: np.ndarray, dtype: str) -> np.ndarray:
    """|computed - x| / ulp(x) elementwise, x = hi + lo exact (see the module docstring for inf and nan)."""
    computed = np.asarray(computed, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    lo = np.nan_to_num(np.asarray(lo, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    target = rounded(hi, lo, dtype)
    with np.errstate(all="ignore"):
        finite_hi = np.where(np.isfinite(hi), hi, np.sign(hi) * np.finfo(np.float64).max)
        error = np.abs((computed - finite_hi) - lo) / ulp(finite_hi, lo, dtype)
    error = np.where(np.isfinite(computed) & np.isfinite(hi), error, np.inf)
    return np.where(np.isinf(computed) & (computed == target), 0.0, error)
