"""The torch engine: SymPy lowered to torch through ONE table; derivatives by torch.func autograd.

The torch side differentiates the function itself (or the user's `impl`), never a symbolic
derivative: jacrev for mode `rev`, jacfwd for mode `fwd`, jacfwd(jacrev) for Hessians, all
batched over points with vmap.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy
from sympy.codegen.cfunctions import expm1, log1p

from verify.functions import relu, sigmoid, softplus

if TYPE_CHECKING:
    import torch

    from verify.model import CompiledFunction, Model

__all__ = ["LOWERING", "TorchEngine", "resolve_device"]


def _torch() -> Any:
    import torch

    return torch


def _reduce(fn_name: str) -> Callable[..., Any]:
    def apply(*args: Any) -> Any:
        torch = _torch()
        return functools.reduce(getattr(torch, fn_name), args)

    return apply


def _gamma(x: Any) -> Any:
    # torch has lgamma (log|Γ|) but no Γ: restore the sign, negative on (-1, 0), (-3, -2), ...
    torch = _torch()
    negative_sign = torch.remainder(torch.floor(x), 2) != 0
    sign = torch.where((x < 0) & negative_sign, -torch.ones_like(x), torch.ones_like(x))
    return sign * torch.exp(torch.lgamma(x))


def _softplus(x: Any) -> Any:
    # F.softplus returns x itself beyond threshold=20, off by exp(-x): 2e-9 in the float64
    # derivative at x = 20. logaddexp(x, 0) is accurate everywhere, derivatives included.
    return _torch().logaddexp(x, _torch().zeros_like(x))


def _polygamma(n: Any, x: Any) -> Any:
    return _torch().special.polygamma(int(n), x)


def _piecewise(*pairs: tuple[Any, Any]) -> Any:
    torch = _torch()
    result = pairs[-1][0]
    for value, condition in reversed(pairs[:-1]):
        result = torch.where(condition, value, result)
    return result


def _fn(path: str) -> Callable[..., Any]:
    """A torch function looked up by dotted name at call time, so importing this module stays cheap."""

    def call(*args: Any) -> Any:
        target: Any = _torch()
        for part in path.split("."):
            target = getattr(target, part)
        return target(*args)

    call.__name__ = path
    return call


# The one mapping from SymPy heads to torch. Every function of the expression language reaches
# torch through this table; tests check that each language function has an entry.
LOWERING: Mapping[type, Callable[..., Any]] = {
    sympy.Add: lambda *a: functools.reduce(operator.add, a),
    sympy.Mul: lambda *a: functools.reduce(operator.mul, a),
    sympy.sin: _fn("sin"), sympy.cos: _fn("cos"), sympy.tan: _fn("tan"),
    sympy.asin: _fn("asin"), sympy.acos: _fn("acos"), sympy.atan: _fn("atan"), sympy.atan2: _fn("atan2"),
    sympy.sinh: _fn("sinh"), sympy.cosh: _fn("cosh"), sympy.tanh: _fn("tanh"),
    sympy.asinh: _fn("asinh"), sympy.acosh: _fn("acosh"), sympy.atanh: _fn("atanh"),
    sympy.exp: _fn("exp"), sympy.log: _fn("log"), log1p: _fn("log1p"), expm1: _fn("expm1"),
    sympy.Abs: _fn("abs"), sympy.sign: _fn("sign"),
    sympy.erf: _fn("erf"), sympy.erfc: _fn("erfc"),
    sympy.gamma: _gamma, sympy.loggamma: _fn("lgamma"), sympy.polygamma: _polygamma,
    sigmoid: _fn("sigmoid"), softplus: _softplus, relu: _fn("relu"),
    sympy.Min: _reduce("minimum"), sympy.Max: _reduce("maximum"),
    sympy.Piecewise: _piecewise,
    sympy.StrictLessThan: _fn("lt"), sympy.LessThan: _fn("le"),
    sympy.StrictGreaterThan: _fn("gt"), sympy.GreaterThan: _fn("ge"),
    sympy.Equality: _fn("eq"), sympy.Unequality: _fn("ne"),
    sympy.And: _reduce("logical_and"), sympy.Or: _reduce("logical_or"),
}


def resolve_device(device: str) -> str | None:
    """The torch device for a case's device name, or None when it is not available here."""
    torch = _torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        return None
    return device


class _Lowering:
    """Turns SymPy expressions into torch tensors for one dtype and device, sharing subexpressions."""

    def __init__(self, dtype: torch.dtype, device: str) -> None:
        self.torch = _torch()
        self.dtype = dtype
        self.device = device
        self._constants: dict[sympy.Basic, Any] = {}

    def constant(self, value: sympy.Basic) -> Any:
        if value not in self._constants:
            self._constants[value] = self.torch.tensor(float(value), dtype=self.dtype, device=self.device)
        return self._constants[value]

    def lower(self, expr: sympy.Basic, env: dict[sympy.Basic, Any]) -> Any:
        if expr in env:
            return env[expr]
        if expr.is_Number or expr in (sympy.pi, sympy.E) or expr.is_NumberSymbol:
            result = self.constant(expr)
        elif expr is sympy.true:
            result = True
        elif expr is sympy.false:
            result = False
        elif isinstance(expr, sympy.Pow):
            result = self.power(expr, env)
        elif isinstance(expr, sympy.Piecewise):
            result = _piecewise(*[(self.lower(v, env), self.condition(c, env)) for v, c in expr.args])
        else:
            head = LOWERING.get(type(expr)) or LOWERING.get(expr.func)  # type: ignore[call-overload]
            if head is None:
                raise NotImplementedError(f"no torch lowering for {type(expr).__name__} in {expr}")
            result = head(*(self.lower(arg, env) for arg in expr.args))
        env[expr] = result
        return result

    def condition(self, condition: sympy.Basic, env: dict[sympy.Basic, Any]) -> Any:
        if condition is sympy.true:
            return True
        return self.lower(condition, env)

    def power(self, expr: sympy.Pow, env: dict[sympy.Basic, Any]) -> Any:
        base, exponent = expr.args
        torch = self.torch
        if exponent == sympy.Rational(1, 2):
            return torch.sqrt(self.lower(base, env))
        if exponent == sympy.Rational(-1, 2):
            return torch.rsqrt(self.lower(base, env))
        if exponent == -1:
            return torch.reciprocal(self.lower(base, env))
        if exponent.is_Integer:
            return torch.pow(self.lower(base, env), int(exponent))
        if base is sympy.E:
            return torch.exp(self.lower(exponent, env))
        return torch.pow(self.lower(base, env), self.lower(exponent, env))


class TorchFunction:
    """A function as torch computes it for one point: flat inputs (n,) -> flat outputs (m,)."""

    def __init__(self, function: CompiledFunction, model: Model, dtype: torch.dtype, device: str,
                 impls: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self.function = function
        self.model = model
        self.torch = _torch()
        self.lowering = _Lowering(dtype, device)
        self.impls = dict(impls or {})
        self.sizes = [math.prod(a.shape) for a in function.args]
        self.shapes = [a.shape for a in function.args]
        entries = function.lowered_entries if function.lowered_entries is not None else function.entries
        self._replacements, reduced = sympy.cse(list(entries.reshape(-1)), order="none")
        self._outputs = reduced

    def split(self, z: Any) -> list[Any]:
        """The per-argument tensors of one point's flat input vector."""
        out, start = [], 0
        for size, shape in zip(self.sizes, self.shapes):
            out.append(z[start:start + size].reshape(shape))
            start += size
        return out

    def __call__(self, z: Any) -> Any:
        torch = self.torch
        name = self.function.name
        if name in self.impls:
            return _flat_result(self.impls[name](*self.split(z)), torch)
        env: dict[sympy.Basic, Any] = {}
        for symbol, index in zip(self.function.flat_symbols, range(z.shape[0])):
            env[symbol] = z[index]
        for call in self.function.impl_calls:
            arguments = [
                torch.stack([self.lowering.lower(e, env) * torch.ones((), dtype=z.dtype, device=z.device)
                             for e in value.reshape(-1)]).reshape(value.shape)
                for value in call.args
            ]
            result = _flat_result(self.impls[call.function](*arguments), torch)
            for k, symbol in enumerate(call.result.reshape(-1)):
                env[symbol] = result[k]
        for symbol, expr in self._replacements:
            env[symbol] = self.lowering.lower(expr, env)
        values = [self.lowering.lower(expr, env) for expr in self._outputs]
        if not values:
            return z.new_zeros((0,))
        zero = z.new_zeros(())
        return torch.stack([v if isinstance(v, torch.Tensor) and v.dim() == 0 else zero + v for v in values])


def _flat_result(result: Any, torch: Any) -> Any:
    if isinstance(result, (tuple, list)):
        return torch.cat([torch.as_tensor(r).reshape(-1) for r in result])
    return result.reshape(-1)


@contextmanager
def _precise_matmul(torch: Any, device: str) -> Any:
    """TF32 would change float32 results on recent GPUs: off while verify compares."""
    if not device.startswith("cuda"):
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


class TorchEngine:
    """Values, Jacobians and Hessians by torch autograd, batched over points."""

    KINDS = ("value", "jacobian", "hessian")

    def __init__(self, model: Model, impls: Mapping[str, Callable[..., Any]] | None = None,
                 chunk_size: int | None = 4096) -> None:
        self.model = model
        self.impls = impls
        self.chunk_size = chunk_size
        self._functions: dict[tuple[str, str, str], TorchFunction] = {}

    def torch_function(self, function: CompiledFunction, dtype: str, device: str) -> TorchFunction:
        key = (function.name, dtype, device)
        if key not in self._functions:
            torch = _torch()
            self._functions[key] = TorchFunction(function, self.model, getattr(torch, dtype), device, self.impls)
        return self._functions[key]

    def evaluate(self, kind: str, function: CompiledFunction, points: np.ndarray, dtype: str, device: str,
                 mode: str = "rev") -> np.ndarray:
        """`kind` of `function` at `points` ((B, n) float64), as float64 of shape (B, *kind shape)."""
        torch = _torch()
        fn = self.torch_function(function, dtype, device)
        z = torch.as_tensor(points, dtype=getattr(torch, dtype), device=device)
        func = torch.func
        if kind == "value":
            per_point: Callable[..., Any] = fn
        elif kind == "jacobian":
            per_point = func.jacrev(fn) if mode == "rev" else func.jacfwd(fn)
        elif kind == "hessian":
            def scalar(zz: Any) -> Any:
                return fn(zz)[0]

            per_point = func.jacfwd(func.jacrev(scalar))
        else:
            raise ValueError(f"unknown kind {kind!r}; expected one of {self.KINDS}")
        with _precise_matmul(torch, device):
            result = func.vmap(per_point, chunk_size=self.chunk_size)(z)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
        # jacfwd can hand back float64 tangents for float32 inputs: compare in the check's dtype
        return result.to(getattr(torch, dtype)).detach().cpu().double().numpy()


def flat_points(points: Sequence[np.ndarray]) -> np.ndarray:
    """Stacks per-argument point arrays (B, *shape) into flat rows (B, n)."""
    batch = points[0].shape[0] if points else 0
    return np.concatenate([p.reshape(batch, -1) for p in points], axis=1)
