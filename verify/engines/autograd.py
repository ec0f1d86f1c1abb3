"""The torch engine: SymPy lowered to torch through ONE table; derivatives by torch.func autograd.

The torch side differentiates the function itself (or the user's `impl`), never a symbolic
derivative: jacrev for mode `rev`, jacfwd for mode `fwd`, jacfwd(jacrev) for Hessians, all
batched over points with vmap.
"""

from __future__ import annotations

import functools
import math
import operator
import warnings
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy
from sympy.codegen.cfunctions import expm1, log1p

from verify.errors import EngineError
from verify.functions import relu, sigmoid, softplus

if TYPE_CHECKING:
    import torch

    from verify.model import CompiledFunction, Model

__all__ = ["LOWERING", "Computed", "ModeUnsupportedError", "TorchEngine", "resolve_device"]


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
    sympy.digamma: _fn("special.digamma"),
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


_WIDE = 4  # sums with at least this many terms are lowered as vector ops


class _Lowering:
    """Turns SymPy expressions into torch tensors for one dtype and device, sharing subexpressions."""

    def __init__(self, dtype: torch.dtype, device: str) -> None:
        self.torch = _torch()
        self.dtype = dtype
        self.device = device
        self._constants: dict[sympy.Basic, Any] = {}

    def prepare(self, expressions: list[sympy.Basic]) -> None:
        """Creates the constants of `expressions` now, outside any torch.func transform.

        A tensor created inside a transform and cached for a later call would belong to a
        transform level that no longer exists ("escaped" tensors): constants are made up front.
        """
        for expr in expressions:
            for atom in expr.atoms(sympy.Number, sympy.NumberSymbol):
                self._constants.setdefault(atom, self._tensor(atom))

    def _tensor(self, value: sympy.Basic) -> Any:
        try:
            number = float(value)
        except OverflowError:  # an exact constant beyond float range, e.g. 10**600
            number = float("inf") if value > 0 else float("-inf")
        return self.torch.tensor(number, dtype=self.dtype, device=self.device)

    def constant(self, value: sympy.Basic) -> Any:
        prepared = self._constants.get(value)
        return prepared if prepared is not None else self._tensor(value)  # made per call, never cached

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
        elif isinstance(expr, sympy.Add) and len(expr.args) >= _WIDE:
            result = self.wide_sum(expr.args, env)
        elif isinstance(expr, sympy.Piecewise):
            result = _piecewise(*[(self.lower(v, env), self.condition(c, env)) for v, c in expr.args])
        else:
            head = LOWERING.get(type(expr)) or LOWERING.get(expr.func)  # type: ignore[call-overload]
            if head is None:
                raise NotImplementedError(f"no torch lowering for {type(expr).__name__} in {expr}")
            result = head(*(self.lower(arg, env) for arg in expr.args))
        env[expr] = result
        return result

    def wide_sum(self, terms: tuple[sympy.Basic, ...], env: dict[sympy.Basic, Any]) -> Any:
        """A long sum as a few vector ops (stack, multiply, sum) instead of one op per term.

        Rows of a matrix product are sums of two-factor products: one stacked multiply replaces
        2k scalar ops, which is what makes wide Jacobians fast under jacfwd.
        """
        torch = self.torch
        pairs = [t.args for t in terms if isinstance(t, sympy.Mul) and len(t.args) == 2]
        rest = [t for t in terms if not (isinstance(t, sympy.Mul) and len(t.args) == 2)]
        total = None
        if len(pairs) >= _WIDE:
            left = torch.stack(torch.broadcast_tensors(*[self.lower(a, env) for a, _ in pairs]))
            right = torch.stack(torch.broadcast_tensors(*[self.lower(b, env) for _, b in pairs]))
            total = (left * right).sum(0)
        else:
            rest = list(terms)
        if rest:
            parts = torch.stack(torch.broadcast_tensors(*[self.lower(t, env) for t in rest])).sum(0)
            total = parts if total is None else total + parts
        return total

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
    """A function as torch computes it for one point: flat inputs (n,) -> flat outputs (m,).

    Calls of functions that have an `impl` go to the impl; everything else is the lowered SymPy.
    """

    def __init__(self, function: CompiledFunction, dtype: torch.dtype, device: str,
                 impls: Mapping[str, Callable[..., Any]], model: Model) -> None:
        self.function = function
        self.torch = _torch()
        self.lowering = _Lowering(dtype, device)
        self.impls = impls
        self.model = model
        self.sizes = [math.prod(a.shape) for a in function.args]
        self.shapes = [a.shape for a in function.args]
        entries = function.lowered_entries if function.lowered_entries is not None else function.entries
        self._replacements, self._outputs = sympy.cse(list(entries.reshape(-1)), order="none")
        calls = [e for call in function.impl_calls for value in call.args for e in value.reshape(-1)]
        self.lowering.prepare([expr for _, expr in self._replacements] + list(self._outputs) + calls)

    def split(self, z: Any) -> list[Any]:
        """The per-argument tensors of one point's flat input vector."""
        out, start = [], 0
        for size, shape in zip(self.sizes, self.shapes):
            out.append(z[start:start + size].reshape(shape))
            start += size
        return out

    def call_impl(self, name: str, arguments: list[Any]) -> Any:
        target = self.model.functions[name]
        where = f"{target.spec.impl_where}: impl {target.impl!r}"
        try:
            result = self.impls[name](*arguments)
        except Exception:
            raise  # ordinary errors: the caller tries the fallbacks (point by point, torch.autograd) first
        except BaseException as exc:  # sys.exit(), KeyboardInterrupt raised by the impl: its failure, not ours
            from verify.impl import describe_exception, from_user_code

            if not from_user_code(exc):
                raise
            raise EngineError(f"{where} raised {describe_exception(exc)}") from None
        torch = self.torch
        if isinstance(result, (tuple, list)):
            if not result or not all(isinstance(r, torch.Tensor) for r in result):
                raise EngineError(f"{where} returned a {type(result).__name__} that is empty or holds non-tensors; "
                                  "return a tensor, or a tuple of tensors of one shape")
            if len({tuple(r.shape) for r in result}) != 1:
                shapes = ", ".join(str(tuple(r.shape)) for r in result)
                raise EngineError(f"{where} returned a tuple of tensors of different shapes ({shapes}); "
                                  "its entries are stacked, so they need one shape")
            result = torch.stack(list(result))
        elif not isinstance(result, torch.Tensor):
            raise EngineError(f"{where} returned {type(result).__name__}, not a tensor; "
                              "return a torch tensor (or a tuple of tensors)")
        self.check_dtype_device(where, result)
        if tuple(result.shape) != target.out_shape:
            raise EngineError(f"{where} returned shape {tuple(result.shape)}, but its expr has shape "
                              f"{target.out_shape}; return a tensor of the expr's shape (0-d for a scalar)")
        return result.reshape(-1)

    def check_dtype_device(self, where: str, result: Any) -> None:
        """An impl's output must be in the check's dtype and on its device: a float64 result would
        make a float32 check pass on float64 arithmetic."""
        expected = self.torch.device(self.lowering.device)
        device = result.device
        if result.dtype != self.lowering.dtype or device.type != expected.type or (
                expected.index is not None and device.index != expected.index):
            raise EngineError(f"{where} returned a {str(result.dtype).removeprefix('torch.')} tensor on {device}, "
                              f"but the check computes in {str(self.lowering.dtype).removeprefix('torch.')} on "
                              f"{expected}; return a tensor of its inputs' dtype and device (e.g. build constants "
                              "with x.new_tensor(...) or torch.zeros_like(x))")

    def __call__(self, z: Any) -> Any:
        torch = self.torch
        name = self.function.name
        if name in self.impls:
            return self.call_impl(name, self.split(z))
        # one unbind, not n index ops: the backward of n separate z[i] would write n full-size gradients
        env: dict[sympy.Basic, Any] = dict(zip(self.function.flat_symbols, z.unbind(0)))
        for call in self.function.impl_calls:
            arguments = [torch.stack([self.lowering.lower(e, env) for e in value.reshape(-1)]).reshape(value.shape)
                         for value in call.args]
            result = self.call_impl(call.function, arguments)
            for k, symbol in enumerate(call.result.reshape(-1)):
                env[symbol] = result[k]
        for symbol, expr in self._replacements:
            env[symbol] = self.lowering.lower(expr, env)
        values = [self.lowering.lower(expr, env) for expr in self._outputs]
        if not values:
            return z.new_zeros((0,))
        zero = z.new_zeros(())
        return torch.stack([v if isinstance(v, torch.Tensor) and v.dim() == 0 else zero + v for v in values])


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


@contextmanager
def _torch_warnings_quiet() -> Any:
    """Warnings that torch's own modules raise while verify transforms a function (jacfwd's
    `torch.jit.script` deprecation) are not the user's business; warnings from user code pass."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"torch(\.|$)")
        yield


class ModeUnsupportedError(EngineError):
    """The implementation under test does not support an AD mode (e.g. no forward-mode rule)."""


@dataclass(frozen=True)
class Computed:
    """Values computed by torch, float64 (points, *shape), and how they were computed."""

    values: np.ndarray
    strategy: str


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _missing_forward_rule(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, NotImplementedError) or "jvp" in text or "forward ad" in text or "forward-mode" in text


MAX_CHUNK_VALUES = 1 << 22  # derivative values per vmap chunk (32 MiB in float64); intermediates scale with it


class TorchEngine:
    """Values, Jacobians and Hessians by torch autograd, batched over points.

    Plain expressions run under vmap. An `impl` that vmap cannot batch runs point by point, and
    one that torch.func cannot transform (an old-style autograd.Function) falls back to
    torch.autograd; the strategy used is reported.
    """

    KINDS = ("value", "jacobian", "hessian")

    def __init__(self, model: Model, chunk_size: int | None = 4096) -> None:
        self.model = model
        self.chunk_size = chunk_size
        self._impls: dict[str, Callable[..., Any]] = {}
        self._functions: dict[tuple[str, str, str], TorchFunction] = {}

    def impls_for(self, function: CompiledFunction) -> dict[str, Callable[..., Any]]:
        """The implementations `function` is computed from, imported on first use."""
        from verify.impl import case_directory, load_impl

        names = ([function.name] if function.impl else []) + [c.function for c in function.impl_calls]
        for name in names:
            if name not in self._impls:
                spec = self.model.functions[name].spec
                assert spec.impl is not None
                self._impls[name] = load_impl(spec.impl, spec.impl_where, case_directory(self.model.case.file))
        return {name: self._impls[name] for name in names}

    def chunk_for(self, kind: str, function: CompiledFunction) -> int | None:
        """Points per vmap chunk: at most `chunk_size`, and few enough that one chunk's derivative
        values stay under MAX_CHUNK_VALUES, which bounds memory for wide Jacobians and Hessians."""
        per_point = {"value": function.n_outputs, "jacobian": function.n_outputs * function.n_inputs,
                     "hessian": function.n_inputs**2}[kind]
        bound = max(1, MAX_CHUNK_VALUES // max(1, per_point))
        return bound if self.chunk_size is None else min(self.chunk_size, bound)

    def torch_function(self, function: CompiledFunction, dtype: str, device: str) -> TorchFunction:
        key = (function.name, dtype, device)
        if key not in self._functions:
            torch = _torch()
            self._functions[key] = TorchFunction(function, getattr(torch, dtype), device, self.impls_for(function),
                                                 self.model)
        return self._functions[key]

    def evaluate(self, kind: str, function: CompiledFunction, points: np.ndarray, dtype: str, device: str,
                 mode: str = "rev") -> Computed:
        """`kind` of `function` at `points` ((B, n) float64), as float64 of shape (B, *kind shape)."""
        if kind not in self.KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {self.KINDS}")
        torch = _torch()
        fn = self.torch_function(function, dtype, device)
        z = torch.as_tensor(points, dtype=getattr(torch, dtype), device=device)
        per_point = _transform(fn, kind, mode)
        with _precise_matmul(torch, device), _torch_warnings_quiet():
            try:
                result = torch.func.vmap(per_point, chunk_size=self.chunk_for(kind, function))(z)
                strategy = "vmap"
            except EngineError:
                raise
            except Exception as batched:
                if not fn.impls:
                    raise
                result, strategy = self._point_by_point(fn, per_point, z, kind, mode, batched)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
        # jacfwd can hand back float64 tangents for float32 inputs: compare in the check's dtype
        values = result.to(getattr(torch, dtype)).detach().cpu().double().numpy()
        return Computed(values, strategy)

    def _point_by_point(self, fn: TorchFunction, per_point: Callable[..., Any], z: Any, kind: str, mode: str,
                        batched: BaseException) -> tuple[Any, str]:
        torch = _torch()
        try:
            rows = [per_point(z[i]) for i in range(z.shape[0])]
            return torch.stack(rows), f"point by point (vmap failed: {_short(batched)})"
        except EngineError:
            raise
        except Exception as transformed:
            try:
                rows = [_classic(fn, z[i], kind, mode) for i in range(z.shape[0])]
            except EngineError:
                raise
            except Exception as plain:
                if mode == "fwd" and _missing_forward_rule(plain):
                    names = ", ".join(f"{name} ({self.model.functions[name].impl})" for name in fn.impls)
                    raise ModeUnsupportedError(f"the impl of {names} does not support forward-mode AD: "
                                               f"{_short(plain)}") from None
                from verify.impl import describe_exception

                places = ", ".join(f"{self.model.functions[n].spec.impl_where} ({self.model.functions[n].impl})"
                                   for n in fn.impls)
                raise EngineError(f"{places}: the impl raised {describe_exception(plain)}") from None
            return torch.stack(rows), f"torch.autograd point by point (torch.func failed: {_short(transformed)})"


def _transform(fn: Callable[..., Any], kind: str, mode: str) -> Callable[..., Any]:
    func = _torch().func
    if kind == "value":
        return fn
    if kind == "jacobian":
        return func.jacrev(fn) if mode == "rev" else func.jacfwd(fn)

    def scalar(z: Any) -> Any:
        return fn(z)[0]

    outer = func.jacfwd if mode == "fwd" else func.jacrev
    return outer(func.jacrev(scalar))


def _classic(fn: Callable[..., Any], z: Any, kind: str, mode: str) -> Any:
    """One point by torch.autograd, for impls that torch.func cannot transform."""
    torch = _torch()
    if kind == "value":
        with torch.no_grad():
            return fn(z)
    if kind == "hessian":
        if mode == "fwd":  # forward-over-reverse needs torch.func; say so rather than mislabel a rev-over-rev
            raise NotImplementedError("forward-over-reverse Hessians need an impl that torch.func can transform")
        return torch.autograd.functional.hessian(lambda zz: fn(zz)[0], z)
    if mode == "rev":
        return torch.autograd.functional.jacobian(fn, z, strategy="reverse-mode")
    import torch.autograd.forward_ad as fwad

    columns = []
    with fwad.dual_level():
        for j in range(z.shape[0]):
            tangent = torch.zeros_like(z)
            tangent[j] = 1
            out = fn(fwad.make_dual(z, tangent))
            derivative = fwad.unpack_dual(out).tangent
            columns.append(torch.zeros_like(out) if derivative is None else derivative)
    return torch.stack(columns, dim=-1)
