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


_BLOCK_ENTRIES = 1 << 20  # entries compared at a time: a dozen temporaries of this size, not of the whole array


def agree(actual: np.ndarray, reference: np.ndarray, tolerance: Tolerance,
          defined: np.ndarray | None = None) -> Agreement:
    """Compares `actual` with `reference` (same shape, points first) with `tolerance`.

    `defined` (B,) marks the points to judge; by default those where every reference entry is
    finite. A reference of +-inf (the exact value beyond the dtype's range) agrees only with
    the same infinity. The worst entry is the one with the largest error relative to its
    allowed tolerance. Points are compared in blocks, so memory does not grow with the batch.
    """
    if actual.shape != reference.shape:
        raise ValueError(f"shapes differ: computed {actual.shape}, reference {reference.shape}")
    batch = reference.shape[0]
    ref = reference.reshape(batch, -1)
    got = actual.reshape(batch, -1)
    if defined is None:
        defined = np.isfinite(ref).all(axis=1)
    defined = np.asarray(defined, dtype=bool) & ~np.isnan(ref).any(axis=1)
    kept = np.flatnonzero(defined)
    width = ref.shape[1]
    tally = _Tally()
    step = max(1, _BLOCK_ENTRIES // max(1, width))
    for start in range(0, kept.size, step):
        rows = kept[start:start + step]
        tally.add(got[rows], ref[rows], start, tolerance)
    worst_point = worst_entry = None
    worst_actual = worst_reference = float("nan")
    if tally.worst is not None:
        row, column = divmod(tally.worst, width)
        worst_point = int(kept[row])
        worst_entry = tuple(int(i) for i in np.unravel_index(column, reference.shape[1:])) if reference.ndim > 1 else ()
        worst_actual, worst_reference = float(got[worst_point, column]), float(ref[worst_point, column])
    return Agreement(
        points=int(kept.size),
        excluded=int(batch - kept.size),
        entries=int(kept.size * width),
        mismatched=tally.mismatched,
        mismatched_points=tally.mismatched_points,
        nonfinite=tally.nonfinite,
        max_abs_err=tally.max_abs,
        max_rel_err=tally.max_rel,
        worst_point=worst_point,
        worst_entry=worst_entry,
        worst_actual=worst_actual,
        worst_reference=worst_reference,
        max_ratio=tally.max_ratio,
    )


class _Tally:
    """Counts and maxima of `agree` over blocks of points, and the worst entry (a flat index)."""

    def __init__(self) -> None:
        self.mismatched = self.mismatched_points = self.nonfinite = 0
        self.max_abs = self.max_rel = self.max_ratio = 0.0
        self.worst: int | None = None
        self._key: tuple[int, float] = (-1, -np.inf)
        self._buffers: tuple[np.ndarray, ...] = ()

    def add(self, got: np.ndarray, ref: np.ndarray, first_row: int, tolerance: Tolerance) -> None:
        if not ref.size or self._all_agree(got, ref, first_row, tolerance):
            return
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
        self.mismatched += mismatched
        self.mismatched_points += int(bad.any(axis=1).sum())
        self.nonfinite += int((~finite).sum())
        self.max_abs = max(self.max_abs, float(error.max()))
        self.max_rel = max(self.max_rel, float(rel.max()))
        self.max_ratio = float(np.max([self.max_ratio, excess.max()]))  # a nan stays nan
        # the worst entry: a mismatch before any agreement, then the largest error relative to what was allowed
        if mismatched:
            index = int(np.argmax(np.where(bad, np.nan_to_num(excess, posinf=np.finfo(float).max), -1.0)))
            key = (1, float(np.nan_to_num(excess.flat[index], posinf=np.finfo(float).max)))
        else:
            index = int(np.argmax(np.where(np.isnan(excess), np.inf, excess)))
            key = (0, float(np.where(np.isnan(excess.flat[index]), np.inf, excess.flat[index])))
        if key > self._key:  # ties keep the earlier entry, as one argmax over all points would
            self._key = key
            self.worst = first_row * ref.shape[1] + index

    def _all_agree(self, got: np.ndarray, ref: np.ndarray, first_row: int, tolerance: Tolerance) -> bool:
        """The common block, every entry finite and within tolerance, in reused buffers (5x faster
        than `add`'s general case, whose temporaries dominate on wide Jacobians); False otherwise."""
        size = ref.size
        if not self._buffers or self._buffers[0].size < size:
            self._buffers = (np.empty(size), np.empty(size), np.empty(size), np.empty(size, bool), np.empty(size, bool))
        diff, absref, allowed = (b[:size] for b in self._buffers[:3])
        flags, more = (b[:size] for b in self._buffers[3:])
        with np.errstate(all="ignore"):
            np.subtract(got.reshape(-1), ref.reshape(-1), out=diff)
            np.abs(diff, out=diff)
            np.abs(ref.reshape(-1), out=absref)
            np.multiply(absref, tolerance.rtol, out=allowed)
            allowed += tolerance.atol
            np.less_equal(diff, allowed, out=flags)
            if not flags.all() or not np.isfinite(absref).all():
                return False
            max_abs = float(diff.max())
            np.greater(allowed, 0, out=flags)  # where nothing is allowed, the entry agrees exactly: ratio 0
            np.divide(diff, allowed, out=allowed, where=flags)
            allowed[~flags] = 0.0
            index = int(allowed.argmax())
            ratio = float(allowed[index])
            np.equal(absref, 0, out=flags)
            np.greater(diff, 0, out=more)
            max_rel = np.inf if np.logical_and(flags, more, out=more).any() else 0.0
            np.logical_not(flags, out=flags)
            np.divide(diff, absref, out=diff, where=flags)
            diff[~flags] = 0.0
            max_rel = max(max_rel, float(diff.max()))
        self.max_abs = max(self.max_abs, max_abs)
        self.max_rel = max(self.max_rel, max_rel)
        self.max_ratio = float(np.max([self.max_ratio, ratio]))
        if (0, ratio) > self._key:
            self._key = (0, ratio)
            self.worst = first_row * ref.shape[1] + index
        return True
