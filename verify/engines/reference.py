"""The exact reference as plain arrays: certified values rounded to float64, nan where excluded.

A thin view of verify.engines.certified for callers that want one float64 array (tests,
benchmarks, `show`); the runner uses the certified evaluator directly, with its reasons for
every excluded point. Deliberately independent of the torch lowering.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy

from verify.engines.certified import ArbProgram, compile_arb

__all__ = ["ReferenceFunction", "compile_reference"]


class ReferenceFunction:
    """Evaluates a fixed array of SymPy entries at a batch of points: certified, rounded to float64."""

    def __init__(self, entries: np.ndarray, symbols: Sequence[sympy.Symbol], derivative: bool = False) -> None:
        self.shape = tuple(np.asarray(entries).shape)
        self.n_inputs = len(symbols)
        self.backend = "arb"
        self._program: ArbProgram = compile_arb(entries, symbols, hull=derivative)

    def __call__(self, points: np.ndarray, dtype: str = "float64") -> np.ndarray:
        """`points` is (B, n_inputs) float64; the result is (B, *shape) float64, nan where excluded."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, self.n_inputs)
        return self._program(points, dtype).values


def compile_reference(entries: np.ndarray, symbols: Sequence[sympy.Symbol],
                      derivative: bool = False) -> ReferenceFunction:
    """A certified evaluator of `entries` over `symbols`, returning float64 arrays.

    With `derivative`, kinks and `where` boundaries take both one-sided values: a point where
    they differ (abs at 0, say) is nan; where they agree it has their common value.
    """
    return ReferenceFunction(entries, symbols, derivative)
