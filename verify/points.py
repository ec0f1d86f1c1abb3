"""Sample points: seeded uniform draws per variable plus the case's listed points."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from verify.case import Case, VariableSpec
from verify.errors import CaseError
from verify.expr import shape_text

__all__ = ["Sample", "sample_points"]


@dataclass(frozen=True)
class Sample:
    """Points for one function: flat rows (B, n) in float64, and how many came from `at`."""

    flat: np.ndarray
    listed: int
    labels: tuple[str, ...]

    def rounded(self, dtype: str) -> np.ndarray:
        """The points as the dtype represents them, back in float64: the reference is taken there."""
        with np.errstate(over="ignore"):  # a float64 point beyond float32's range rounds to inf there
            return self.flat.astype(dtype).astype(np.float64)

    def describe(self, index: int, dtype: str = "float64") -> str:
        """One point as `x=1, y=2` (at most 6 entries shown)."""
        row = self.rounded(dtype)[index]
        parts = [f"{label}={value:.6g}" for label, value in zip(self.labels, row)]
        more = f", ... ({len(parts)} entries)" if len(parts) > 6 else ""
        return ", ".join(parts[:6]) + more


def _draws(spec: VariableSpec, seed: int, count: int) -> np.ndarray:
    # One stream per (seed, name, domain): a variable gets the same points in every function.
    key = zlib.crc32(f"{spec.name}|{spec.low!r}|{spec.high!r}|{spec.shape}".encode())
    rng = np.random.default_rng([seed, key])
    return rng.uniform(spec.low, spec.high, size=(count, *spec.shape))


def sample_points(case: Case, args: tuple[VariableSpec, ...], labels: list[str]) -> Sample:
    """The points for a function with `args`: random draws, then each listed point that gives every arg."""
    count = case.points.random
    columns = [_draws(arg, case.seed, count).reshape(count, math.prod(arg.shape)) for arg in args]
    rows = [np.concatenate(columns, axis=1)] if args else [np.zeros((count, 0))]
    listed = 0
    for point in case.points.at:
        if not all(arg.name in point for arg in args):
            continue
        values = []
        for arg in args:
            raw, where = point[arg.name]
            try:
                array = np.asarray(raw, dtype=np.float64)
            except (TypeError, ValueError):
                raise CaseError(where, f"point value {raw!r} for {arg.name!r} is not a number or a list of numbers",
                                f"give {arg.name} a value of shape {shape_text(arg.shape)}") from None
            if array.shape != arg.shape:
                raise CaseError(where, f"point value for {arg.name!r} has shape {shape_text(array.shape)}, "
                                f"but {arg.name} has shape {shape_text(arg.shape)}",
                                "e.g. {v: [3, -4]} for a variable of shape [2]")
            if not np.isfinite(array).all():
                raise CaseError(where, f"point value for {arg.name!r} is not finite", "give finite numbers")
            values.append(array.reshape(-1))
        rows.append(np.concatenate(values)[None, :] if values else np.zeros((1, 0)))
        listed += 1
    return Sample(np.concatenate(rows, axis=0), listed, tuple(labels))
