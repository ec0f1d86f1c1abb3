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

    @property
    def ok(self) -> bool:
        return self.mismatched == 0


def agree(actual: np.ndarray, reference: np.ndarray, tolerance: Tolerance) -> Agreement:
    """Compares `actual` with `reference` (same shape, points first) with `tolerance`."""
    if actual.shape != reference.shape:
        raise ValueError(f"shapes differ: computed {actual.shape}, reference {reference.shape}")
    batch = reference.shape[0]
    ref = reference.reshape(batch, -1)
    got = actual.reshape(batch, -1)
    defined = np.isfinite(ref).all(axis=1)
    ref, got = ref[defined], got[defined]
    kept = np.flatnonzero(defined)
    with np.errstate(all="ignore"):
        error = np.abs(got - ref)
        allowed = tolerance.atol + tolerance.rtol * np.abs(ref)
        finite = np.isfinite(got)
        bad = ~finite | ~(error <= allowed)
        error = np.where(finite, error, np.inf)
        rel = np.where(ref != 0, error / np.abs(ref), np.where(error == 0, 0.0, np.inf))
        excess = np.where(finite, error / np.where(allowed > 0, allowed, np.finfo(float).tiny), np.inf)
    mismatched = int(bad.sum())
    worst_point = worst_entry = None
    worst_actual = worst_reference = float("nan")
    if ref.size:
        flat_index = int(np.argmax(np.where(bad, excess, -1.0))) if mismatched else int(np.argmax(error))
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
    )
