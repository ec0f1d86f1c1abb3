"""Agreement of computed values with the exact reference: elementwise tolerance, metrics, worst point."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from verify.case import Tolerance

__all__ = ["Agreement", "agree"]


@dataclass(frozen=True)
class Agreement:
    """How an array of computed values (B, ...) agrees with its reference.

    Points where any reference entry is not finite are excluded and counted, never judged.
    A finite reference against a nan/inf computed value is a mismatch.
    """

    points: int
    excluded: int
    entries: int
    mismatched: int
    mismatched_points: int
    nonfinite: int
    max_abs_err: float
    max_rel_err: float
    worst_point: int | None  # index into the original batch
    worst_entry: tuple[int, ...] | None
    worst_actual: float = float("nan")
    worst_reference: float = float("nan")
    max_ratio: float = 0.0  # max over entries of |a - r| / (atol + rtol |r|): at most 1 passes (inf: non-finite)

    @property
    def ok(self) -> bool:
        return self.mismatched == 0


def agree(actual: np.ndarray, reference: np.ndarray, tolerance: Tolerance,
          defined: np.ndarray | None = None) -> Agreement:
    """Compares `actual` with `reference` (same shape, points first) with `tolerance`.

    `defined` (B,) marks the points to judge; by default those where every reference entry is
    finite. A reference of +-inf (the exact value beyond the dtype's range) agrees only with
    the same infinity. The worst entry is the one with the largest error relative to its
    allowed tolerance.
    """
    if actual.shape != reference.shape:
        raise ValueError(f"shapes differ: computed {actual.shape}, reference {reference.shape}")
    batch = reference.shape[0]
    ref = reference.reshape(batch, -1)
    got = actual.reshape(batch, -1)
    if defined is None:
        defined = np.isfinite(ref).all(axis=1)
    defined = np.asarray(defined, dtype=bool) & ~np.isnan(ref).any(axis=1)
    ref, got = ref[defined], got[defined]
    kept = np.flatnonzero(defined)
    with np.errstate(all="ignore"):
        same_infinity = np.isinf(ref) & (got == ref)
        error = np.where(same_infinity, 0.0, np.abs(got - ref))
        allowed = tolerance.atol + tolerance.rtol * np.where(np.isinf(ref), 0.0, np.abs(ref))
        finite = np.isfinite(got) | same_infinity
        bad = ~finite | ~(error <= allowed)
        error = np.where(finite, error, np.inf)
        error = np.where(np.isnan(error), np.inf, error)
        rel = np.where(ref != 0, error / np.abs(ref), np.where(error == 0, 0.0, np.inf))
        rel = np.where(np.isinf(ref) & ~same_infinity, np.inf, rel)
        excess = np.where(error == 0, 0.0, error / np.where(allowed > 0, allowed, np.finfo(float).tiny))
    mismatched = int(bad.sum())
    worst_point = worst_entry = None
    worst_actual = worst_reference = float("nan")
    if ref.size:
        flat_index = int(np.argmax(np.where(bad, np.inf, 0.0) + np.where(np.isnan(excess), np.inf, excess)))
        if mismatched:  # among the mismatches, the largest error relative to what was allowed
            flat_index = int(np.argmax(np.where(bad, np.nan_to_num(excess, posinf=np.finfo(float).max), -1.0)))
        row, column = divmod(flat_index, ref.shape[1])
        worst_point = int(kept[row])
        worst_entry = tuple(int(i) for i in np.unravel_index(column, reference.shape[1:])) if reference.ndim > 1 else ()
        worst_actual, worst_reference = float(got[row, column]), float(ref[row, column])
    return Agreement(
        points=int(defined.sum()),
        excluded=int(batch - defined.sum()),
        entries=int(ref.size),
        mismatched=mismatched,
        mismatched_points=int(bad.any(axis=1).sum()),
        nonfinite=int((~finite).sum()),
        max_abs_err=float(error.max()) if error.size else 0.0,
        max_rel_err=float(rel.max()) if rel.size else 0.0,
        worst_point=worst_point,
        worst_entry=worst_entry,
        worst_actual=worst_actual,
        worst_reference=worst_reference,
        max_ratio=float(excess.max()) if excess.size else 0.0,
    )
