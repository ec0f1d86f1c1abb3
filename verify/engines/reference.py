"""Exact reference values: SymPy entries evaluated at points with NumPy/SciPy, vectorised, with cse.

This is deliberately independent of the torch lowering: a wrong entry in the torch table
cannot make both sides agree.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sympy
from sympy.printing.numpy import SciPyPrinter

__all__ = ["ReferenceFunction", "compile_reference"]


def _heaviside(x: np.ndarray) -> np.ndarray:
    # The derivative of relu, abs, max or min at a kink is undefined: nan excludes the point.
    return np.where(x > 0, 1.0, np.where(x < 0, 0.0, np.nan))


def _dirac(x: np.ndarray, *order: Any) -> np.ndarray:
    return np.where(x == 0, np.nan, 0.0)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _sign(x: np.ndarray) -> np.ndarray:
    return np.sign(x)


def _kink_sign(x: np.ndarray) -> np.ndarray:
    # In a derivative, sign(u) comes from abs(u) (or the like): undefined where u = 0.
    return np.where(x == 0, np.nan, np.sign(x))


_NAMESPACE: dict[str, Callable[..., Any]] = {
    "_heaviside": _heaviside, "_dirac": _dirac, "_sigmoid": _sigmoid, "_softplus": _softplus, "_relu": _relu,
    "_sign": _sign,
}


class _Printer(SciPyPrinter):
    """SciPy printer that routes verify's own functions and the kinks of derivatives to _NAMESPACE."""

    def __init__(self) -> None:
        super().__init__({"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": False,
                          "user_functions": {}, "strict": True})

    def _call(self, name: str, expr: sympy.Basic) -> str:
        return f"{name}({', '.join(self._print(a) for a in expr.args)})"

    def _print_Heaviside(self, expr: sympy.Basic) -> str:
        return f"_heaviside({self._print(expr.args[0])})"

    def _print_DiracDelta(self, expr: sympy.Basic) -> str:
        return self._call("_dirac", expr)

    def _print_sign(self, expr: sympy.Basic) -> str:
        return f"_sign({self._print(expr.args[0])})"

    def _print_sigmoid(self, expr: sympy.Basic) -> str:
        return f"_sigmoid({self._print(expr.args[0])})"

    def _print_softplus(self, expr: sympy.Basic) -> str:
        return f"_softplus({self._print(expr.args[0])})"

    def _print_relu(self, expr: sympy.Basic) -> str:
        return f"_relu({self._print(expr.args[0])})"


class ReferenceFunction:
    """Evaluates a fixed array of SymPy entries at a batch of points, in float64."""

    def __init__(self, entries: np.ndarray, symbols: Sequence[sympy.Symbol], derivative: bool = False) -> None:
        from verify.engines import fast

        self.shape = tuple(entries.shape)
        self.n_inputs = len(symbols)
        flat = [sympy.sympify(e) for e in np.asarray(entries, dtype=object).reshape(-1)]
        self._compiled = fast.lambdify(flat, symbols)
        self.backend = "symengine" if self._compiled is not None else "sympy-numpy"
        if self._compiled is None:
            namespace: dict[str, Any] = {**_NAMESPACE, "functools": functools}
            if derivative:
                namespace["_sign"] = _kink_sign
            self._fn = sympy.lambdify(list(symbols), flat, modules=[namespace, "scipy", "numpy"],
                                      printer=_Printer(), cse=True, dummify=True)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """`points` is (B, n_inputs) float64; the result is (B, *shape) float64, nan where undefined."""
        batch = points.shape[0]
        if self._compiled is not None:
            with np.errstate(all="ignore"):
                return self._compiled(np.ascontiguousarray(points, dtype=np.float64)).reshape((batch, *self.shape))
        columns = [points[:, i] for i in range(self.n_inputs)]
        with np.errstate(all="ignore"):
            values = self._fn(*columns)
            out = np.empty((batch, len(values)), dtype=np.float64)
            for j, value in enumerate(values):
                array = np.asarray(value)
                if np.iscomplexobj(array):
                    array = np.where(np.abs(array.imag) > 0, np.nan, array.real)
                out[:, j] = np.broadcast_to(array.astype(np.float64, copy=False), (batch,))
        return out.reshape((batch, *self.shape))


def compile_reference(entries: np.ndarray, symbols: Sequence[sympy.Symbol],
                      derivative: bool = False) -> ReferenceFunction:
    """A vectorised float64 evaluator of `entries` over `symbols` (lambdify with cse).

    With `derivative`, sign(u) is undefined (nan) where u = 0: there it marks the kink of abs(u).
    """
    return ReferenceFunction(entries, symbols, derivative)
