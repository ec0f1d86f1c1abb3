"""The torch engine: SymPy lowered to torch through ONE table; derivatives by torch.func autograd.

The torch side differentiates the function itself (or the user's `impl`), never a symbolic
derivative: jacrev for mode `rev`, jacfwd for mode `fwd`, jacfwd(jacrev) for Hessians, all
batched over points with vmap.
"""

from __future__ import annotations

import functools
import inspect
import math
import operator
import re
import sys
import warnings
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy

from verify.compare import Agreement, agree
from verify.engines.grouping import ColumnGroups, column_groups
from verify.engines.lowering import ImplSource, Program, lower
from verify.errors import EngineError
from verify.functions import torch_table

if TYPE_CHECKING:
    import torch

    from verify.case import Tolerance
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
    call.torch_path = path  # type: ignore[attr-defined]  # the generated program calls torch's function directly
    return call


def _erfcinv(x: Any) -> Any:
    # torch has no erfcinv; erfinv(1 - x) would lose every digit for small x, ndtri does not
    torch = _torch()
    return -torch.special.ndtri(x / 2) / math.sqrt(2.0)


def _besseli(order: Any, x: Any) -> Any:
    torch = _torch()
    functions = {0: torch.special.i0, 1: torch.special.i1}
    number = int(order.item()) if hasattr(order, "item") else int(order)
    if number not in functions:
        raise NotImplementedError(f"no torch lowering for besseli of order {number} (orders 0 and 1: i0, i1)")
    return functions[number](x)


def _logsumexp(*args: Any) -> Any:
    torch = _torch()
    return torch.logsumexp(torch.stack(torch.broadcast_tensors(*args)), 0)


# verify's own torch helpers, named in the registry's torch column as "@name"
_HELPERS: Mapping[str, Callable[..., Any]] = {
    "gamma": _gamma, "softplus": _softplus, "polygamma": _polygamma, "erfcinv": _erfcinv, "besseli": _besseli,
    "logsumexp": _logsumexp, "minimum": _reduce("minimum"), "maximum": _reduce("maximum"),
}


def _lowering() -> dict[type, Callable[..., Any]]:
    """SymPy heads -> torch: the registry's torch column, plus arithmetic and the `where` machinery."""
    table: dict[type, Callable[..., Any]] = {
        sympy.Add: lambda *a: functools.reduce(operator.add, a),
        sympy.Mul: lambda *a: functools.reduce(operator.mul, a),
        sympy.Piecewise: _piecewise,
        sympy.StrictLessThan: _fn("lt"), sympy.LessThan: _fn("le"),
        sympy.StrictGreaterThan: _fn("gt"), sympy.GreaterThan: _fn("ge"),
        sympy.Equality: _fn("eq"), sympy.Unequality: _fn("ne"),
        sympy.And: _reduce("logical_and"), sympy.Or: _reduce("logical_or"),
    }
    for head, name in torch_table().items():
        table[head] = _HELPERS[name[1:]] if name.startswith("@") else _fn(name)
    return table


# The one mapping from SymPy heads to torch, built from the registry (verify.functions.ROWS).
# Every function of the expression language reaches torch through this table; tests check that
# each language function has an entry.
LOWERING: Mapping[type, Callable[..., Any]] = _lowering()


def lower_function(function: CompiledFunction) -> Program:
    """The generated torch program of `function`'s entries (over its arguments and impl-call results)."""
    entries = function.lowered_entries if function.lowered_entries is not None else function.entries
    impls = tuple(ImplSource(call.function, tuple((tuple(v.reshape(-1)), tuple(v.shape)) for v in call.args),
                             tuple(call.result.reshape(-1))) for call in function.impl_calls)
    return lower(list(entries.reshape(-1)), function.flat_symbols, LOWERING, impls)


def resolve_device(device: str) -> str | None:
    """The torch device for a case's device name, or None when it is not available here."""
    torch = _torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        return None
    return device


class TorchFunction:
    """A function as torch computes it for one point: flat inputs (n,) -> flat outputs (m,).

    Calls of functions that have an `impl` go to the impl; everything else is the lowered SymPy.
    """

    def __init__(self, function: CompiledFunction, dtype: torch.dtype, device: str,
                 impls: Mapping[str, Callable[..., Any]], model: Model, program: Program | None = None) -> None:
        self.function = function
        self.torch = _torch()
        self.dtype = dtype
        self.device = device
        self.impls = impls
        self.model = model
        self.sizes = [math.prod(a.shape) for a in function.args]
        self.shapes = [a.shape for a in function.args]
        self._lowered: Callable[[Any], Any] | None = None
        if function.name not in impls:
            self.program = program if program is not None else lower_function(function)
            # bound here, outside any transform: the program's constants are tensors of this dtype and device
            self._lowered = self.program.bind(dtype, device, LOWERING, self.call_impl)

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
        expected = self.torch.device(self.device)
        device = result.device
        if result.dtype != self.dtype or device.type != expected.type or (
                expected.index is not None and device.index != expected.index):
            raise EngineError(f"{where} returned a {str(result.dtype).removeprefix('torch.')} tensor on {device}, "
                              f"but the check computes in {str(self.dtype).removeprefix('torch.')} on "
                              f"{expected}; return a tensor of its inputs' dtype and device (e.g. build constants "
                              "with x.new_tensor(...) or torch.zeros_like(x))")

    def __call__(self, z: Any) -> Any:
        if self._lowered is None:
            return self.call_impl(self.function.name, self.split(z))
        return self._lowered(z)


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
        # vmap's fallback for ops without a batching rule (log_ndtr, ...): verify's batching, not the user's code
        warnings.filterwarnings("ignore", message="There is a performance drop because we have not yet implemented")
        yield


def _autograd_grad_without_dynamo(original: Callable[..., Any]) -> Callable[..., Any]:
    """torch.func's `_autograd_grad` without its `import torch._dynamo` (about 1 s, once per process).

    torch.func's vjp (hence jacrev) calls autograd.grad inside `torch._dynamo.compiled_autograd._disable()`,
    which imports dynamo only to switch compiled autograd off around the call. The switch itself is
    torch._C's `set_autograd_compiler`; this does the same switch without the import. Once dynamo is
    loaded (a user's impl compiled something, say), torch's own function runs.
    """

    def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool = False,
             create_graph: bool = True) -> tuple[Any, ...]:
        if "torch._dynamo" in sys.modules:
            return original(outputs, inputs, grad_outputs, retain_graph, create_graph)  # type: ignore[no-any-return]
        torch = _torch()
        if grad_outputs is None:
            diff_outputs = tuple(out for out in outputs if out.requires_grad)
        else:
            pairs = tuple((out, go) for out, go in zip(outputs, grad_outputs) if out.requires_grad)
            diff_outputs, grad_outputs = (tuple(zip(*pairs)) if pairs else ((), ()))  # type: ignore[assignment]
        if not diff_outputs:
            return tuple(torch.zeros_like(inp) for inp in inputs)
        switch = torch._C._dynamo.compiled_autograd.set_autograd_compiler
        prior = switch(None, False)
        try:
            grads = torch.autograd.grad(diff_outputs, inputs, grad_outputs, retain_graph=retain_graph,
                                        create_graph=create_graph, allow_unused=True)
        finally:
            switch(*prior)
        return tuple(torch.zeros_like(inp) if g is None else g for g, inp in zip(grads, inputs))

    grad.verify_replacement = True  # type: ignore[attr-defined]
    return grad


_GRAD_PARAMETERS = ["outputs", "inputs", "grad_outputs", "retain_graph", "create_graph"]


@contextmanager
def _without_dynamo_import() -> Any:
    """While verify transforms a function, torch.func's grad step runs without importing torch._dynamo.

    Only where this torch's `_autograd_grad` has the signature the replacement was written for and
    dynamo is not loaded yet; otherwise torch is left as it is.
    """
    try:
        from torch._functorch import eager_transforms
    except ImportError:  # pragma: no cover - another torch layout
        yield
        return
    original = getattr(eager_transforms, "_autograd_grad", None)
    compiled = getattr(getattr(getattr(_torch()._C, "_dynamo", None), "compiled_autograd", None),
                       "set_autograd_compiler", None)
    if ("torch._dynamo" in sys.modules or original is None or compiled is None
            or getattr(original, "verify_replacement", False)
            or list(inspect.signature(original).parameters) != _GRAD_PARAMETERS):
        yield
        return
    replacement = _autograd_grad_without_dynamo(original)
    eager_transforms._autograd_grad = replacement
    try:
        yield
    finally:
        if eager_transforms._autograd_grad is replacement:
            eager_transforms._autograd_grad = original


class ModeUnsupportedError(EngineError):
    """The implementation under test does not support an AD mode (e.g. no forward-mode rule)."""


@dataclass(frozen=True)
class Computed:
    """Values computed by torch, float64, and how they were computed.

    `raw` is (points, *shape), except for a forward-mode Jacobian along grouped tangents, which
    stays as torch computed it, (points, outputs, tangents): `values` expands it, and `agree`
    compares it without expanding (a 100 x 10,100 Jacobian at 64 points is 0.5 GB dense).
    """

    raw: np.ndarray
    strategy: str
    groups: ColumnGroups | None = None

    @property
    def values(self) -> np.ndarray:
        return self.raw if self.groups is None else self.groups.expand(self.raw)

    def agree(self, reference: np.ndarray, tolerance: Tolerance, defined: np.ndarray | None = None) -> Agreement:
        """`verify.compare.agree` of these values with `reference` (points, *shape)."""
        if self.groups is None:
            return agree(self.raw.reshape(reference.shape), reference, tolerance, defined)
        return self.groups.agree(self.raw, reference, tolerance, defined)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


_GAP_PATTERNS = (re.compile(r"derivative for (aten::\S+) is not implemented"),
                 re.compile(r"Trying to use forward AD with (aten::\S+) that does not support it"))


def _torch_gap(exc: BaseException) -> str:
    """The skip reason when torch itself implements no derivative of an op (in any mode), else ''.

    Reverse and forward mode report such a gap differently; the reason names the op the same
    way in every mode, so a check gets one reason, not an error here and a skip there.
    """
    for pattern in _GAP_PATTERNS:
        found = pattern.search(str(exc))
        if found:
            return (f"torch implements no derivative of {found.group(1)}, which this check needs "
                    f"(derivative for {found.group(1)} is not implemented)")
    return ""


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
        self._programs: dict[str, Program] = {}  # generated once per function, bound per dtype and device
        self._groups: dict[str, ColumnGroups | None] = {}

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
                     "hessian": function.n_outputs * function.n_inputs**2}[kind]
        bound = max(1, MAX_CHUNK_VALUES // max(1, per_point))
        return bound if self.chunk_size is None else min(self.chunk_size, bound)

    def torch_function(self, function: CompiledFunction, dtype: str, device: str) -> TorchFunction:
        key = (function.name, dtype, device)
        if key not in self._functions:
            torch = _torch()
            impls = self.impls_for(function)
            if function.name not in impls and function.name not in self._programs:
                self._programs[function.name] = lower_function(function)
            self._functions[key] = TorchFunction(function, getattr(torch, dtype), device, impls, self.model,
                                                 self._programs.get(function.name))
        return self._functions[key]

    def evaluate(self, kind: str, function: CompiledFunction, points: np.ndarray, dtype: str, device: str,
                 mode: str = "rev") -> Computed:
        """`kind` of `function` at `points` ((B, n) float64), as float64 of shape (B, *kind shape)."""
        if kind not in self.KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {self.KINDS}")
        torch = _torch()
        fn = self.torch_function(function, dtype, device)
        z = torch.as_tensor(points, dtype=getattr(torch, dtype), device=device)
        per_point = _transform(fn, kind, mode, scalar=function.n_outputs == 1 and not function.out_shape)
        groups = self.forward_groups(function) if kind == "jacobian" and mode == "fwd" and not fn.impls else None
        with _precise_matmul(torch, device), _torch_warnings_quiet(), _without_dynamo_import():
            try:
                if groups is not None:
                    result, strategy = self._forward_jacobian(fn, z, groups), groups.describe()
                else:
                    result = torch.func.vmap(per_point, chunk_size=self.chunk_for(kind, function))(z)
                    strategy = "vmap"
            except EngineError:
                raise
            except Exception as batched:
                gap = _torch_gap(batched)
                if gap:
                    raise ModeUnsupportedError(gap) from None
                if not fn.impls:
                    raise
                result, strategy = self._point_by_point(fn, per_point, z, kind, mode, batched)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
        # jacfwd can hand back float64 tangents for float32 inputs: compare in the check's dtype
        values = result.to(getattr(torch, dtype)).detach().cpu().double().numpy()
        return Computed(values, strategy, groups if groups is not None and groups.grouped else None)

    def forward_groups(self, function: CompiledFunction) -> ColumnGroups:
        """The tangents of `function`'s forward-mode Jacobian: one per group of inputs (see grouping.py)."""
        if function.name not in self._groups:
            self._groups[function.name] = column_groups(list(function.entries.reshape(-1)), function.flat_symbols)
        return self._groups[function.name] or ColumnGroups.identity(function.n_outputs, function.n_inputs)

    def _forward_jacobian(self, fn: TorchFunction, z: Any, groups: ColumnGroups) -> Any:
        """(B, m, tangents): torch's jvp at every point along every tangent of `groups`.

        One jvp of the batched function per block of (point, tangent) pairs, the points repeated
        and the tangents stacked: torch's chunked vmap of jacfwd costs a fixed ~0.3 s a chunk on
        wide inputs (12 s for a 100 x 10,100 Jacobian at 64 points; this takes 0.8 s).
        """
        torch = _torch()
        batch, n = z.shape
        m, count = fn.function.n_outputs, groups.n_groups
        pairs = max(1, MAX_CHUNK_VALUES // (n + m))  # (point, tangent) pairs per jvp: inputs + outputs bounded
        per_call = min(count, pairs)
        points_per_call = max(1, min(self.chunk_size or batch, pairs // per_call))
        order = np.argsort(groups.group, kind="stable")
        starts = np.searchsorted(groups.group[order], np.arange(count + 1))
        batched = torch.func.vmap(fn)
        out = torch.empty((batch, m, count), dtype=z.dtype, device=z.device)
        for first in range(0, count, per_call):
            last = min(count, first + per_call)
            inputs = order[starts[first]:starts[last]]
            seeds = torch.zeros((last - first, n), dtype=z.dtype, device=z.device)
            seeds[torch.as_tensor(groups.group[inputs] - first, device=z.device),
                  torch.as_tensor(inputs, device=z.device)] = 1
            for start in range(0, batch, points_per_call):
                points = z[start:start + points_per_call]
                primal = points.repeat_interleave(last - first, dim=0)
                tangent = seeds.repeat(points.shape[0], 1)
                _, columns = torch.func.jvp(batched, (primal,), (tangent,))
                out[start:start + points.shape[0], :, first:last] = (
                    columns.reshape(points.shape[0], last - first, m).transpose(1, 2))
        return out

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


def _transform(fn: Callable[..., Any], kind: str, mode: str, scalar: bool = True) -> Callable[..., Any]:
    """The per-point torch.func transform; a Hessian of a vector function is (outputs, inputs, inputs)."""
    func = _torch().func
    if kind == "value":
        return fn
    if kind == "jacobian":
        return func.jacrev(fn) if mode == "rev" else func.jacfwd(fn)

    def first(z: Any) -> Any:
        return fn(z)[0]

    outer = func.jacfwd if mode == "fwd" else func.jacrev
    return outer(func.jacrev(first if scalar else fn))


def _classic(fn: Callable[..., Any], z: Any, kind: str, mode: str) -> Any:
    """One point by torch.autograd, for impls that torch.func cannot transform."""
    torch = _torch()
    if kind == "value":
        with torch.no_grad():
            return fn(z)
    if kind == "hessian":
        if mode == "fwd":  # forward-over-reverse needs torch.func; say so rather than mislabel a rev-over-rev
            raise NotImplementedError("forward-over-reverse Hessians need an impl that torch.func can transform")
        out = fn(z)
        if out.numel() == 1:
            return torch.autograd.functional.hessian(lambda zz: fn(zz)[0], z)
        return torch.autograd.functional.jacobian(
            lambda zz: torch.autograd.functional.jacobian(fn, zz, create_graph=True), z)
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
