"""Probe checks: torch's jvp, vjp and Hessian-vector products against exact directional derivatives.

Graphs of verify.tensor are evaluated two ways: by torch (the function under test, when there is
no impl, and the tolerance scale m = |J| |u|), and exactly over arrays of Arb balls, entry by
entry for elementwise maps and as FLINT `arb_mat` products for `@`, at a precision raised until
every compared entry is certified. No n x n Jacobian is ever formed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from verify.engines.certified import CAP_BITS, ArbProgram, _arb_constant, _precision, _State, flint_module
from verify.tensor import (
    Broadcast,
    Const,
    DiagEmbed,
    Diagonal,
    Elem,
    Index,
    LogSumExp,
    MatMul,
    Node,
    Reshape,
    Scatter,
    Stack,
    Sum,
    SumTo,
    Tangent,
    Transpose,
    Var,
    topological,
)

__all__ = ["ExactResult", "exact_values", "torch_values"]


# -- torch ----------------------------------------------------------------------------------------

def _torch_formula(formula: sympy.Expr, params: Sequence[sympy.Symbol], args: Sequence[Any]) -> Any:
    """A SymPy scalar formula applied to broadcast tensors, through the engine's one lowering table."""
    import torch

    from verify.engines.autograd import LOWERING

    env = dict(zip(params, args))
    like = next(a for a in args if isinstance(a, torch.Tensor))

    def lower(expr: sympy.Basic) -> Any:
        if expr in env:
            return env[expr]
        if expr.is_Number or expr.is_NumberSymbol:
            return torch.tensor(float(expr), dtype=like.dtype, device=like.device)
        if expr is sympy.true:
            return True
        if isinstance(expr, sympy.Pow):
            base, exponent = expr.args
            if exponent == sympy.S.Half:
                return torch.sqrt(lower(base))
            if exponent.is_Integer:
                return lower(base) ** int(exponent)
            return torch.pow(lower(base), lower(exponent))
        if isinstance(expr, sympy.Piecewise):
            result = lower(expr.args[-1][0])
            for value, condition in reversed(expr.args[:-1]):
                result = torch.where(lower(condition), lower(value), result)
            return result
        head = LOWERING.get(type(expr)) or LOWERING.get(expr.func)  # type: ignore[call-overload]
        if head is None:
            raise NotImplementedError(f"no torch lowering for {type(expr).__name__}")
        return head(*(lower(a) for a in expr.args))

    return lower(formula)


def torch_values(roots: Sequence[Node], variables: Mapping[str, Any], tangents: Mapping[str, Any]) -> list[Any]:
    """The values of `roots` with torch tensors for the variables and the tangent/cotangent probes."""
    import torch

    like = next(iter(variables.values()))
    values: dict[int, Any] = {}
    for node in topological(list(roots)):
        if isinstance(node, Var):
            out = variables[node.name]
        elif isinstance(node, Tangent):
            out = tangents[node.name]
        elif isinstance(node, Const):
            out = torch.full(node.shape, float(node.value), dtype=like.dtype, device=like.device)
        elif isinstance(node, Elem):
            out = torch.broadcast_to(_torch_formula(node.formula, node.params, [values[id(a)] for a in node.args]),
                                     node.shape)
        elif isinstance(node, MatMul):
            out = values[id(node.a)] @ values[id(node.b)]
        elif isinstance(node, Transpose):
            out = values[id(node.a)].T
        elif isinstance(node, Sum):
            out = values[id(node.a)].sum(-1) if node.last_axis else values[id(node.a)].sum()
        elif isinstance(node, LogSumExp):
            out = torch.logsumexp(values[id(node.a)], -1)
        elif isinstance(node, Reshape):
            out = values[id(node.a)].reshape(node.shape)
        elif isinstance(node, Broadcast):
            out = torch.broadcast_to(values[id(node.a)], node.shape)
        elif isinstance(node, SumTo):
            out = _torch_sum_to(values[id(node.a)], node.shape)
        elif isinstance(node, Index):
            out = values[id(node.a)][node.index]
        elif isinstance(node, Scatter):
            out = torch.zeros(node.shape, dtype=like.dtype, device=like.device)
            out[node.index] = values[id(node.a)]
        elif isinstance(node, Stack):
            out = torch.stack([values[id(p)] for p in node.parts])
        elif isinstance(node, Diagonal):
            out = torch.diagonal(values[id(node.a)])
        elif isinstance(node, DiagEmbed):
            out = torch.diag_embed(values[id(node.a)])
        else:
            raise TypeError(f"unknown node {type(node).__name__}")
        values[id(node)] = out
    return [values[id(r)] for r in roots]


def _torch_sum_to(value: Any, shape: tuple[int, ...]) -> Any:
    lead = value.dim() - len(shape)
    if lead:
        value = value.sum(tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and value.shape[i] != 1)
    return value.sum(axes, keepdim=True) if axes else value


# -- exact, over Arb balls --------------------------------------------------------------------------

@dataclass(frozen=True)
class ExactResult:
    """Certified values of a root (float64 midpoints), whether each entry is certified, and a boundary note."""

    values: np.ndarray
    certified: np.ndarray
    bits: float
    boundary: str


class _Formulas:
    """Each distinct elementwise formula compiled once to Arb code (hull: both sides of a kink)."""

    def __init__(self) -> None:
        self._programs: dict[tuple[sympy.Expr, tuple[sympy.Symbol, ...]], ArbProgram] = {}

    def program(self, node: Elem) -> ArbProgram:
        key = (node.formula, node.params)
        if key not in self._programs:
            from verify.engines.certified import compile_arb

            self._programs[key] = compile_arb(np.array([node.formula], dtype=object), list(node.params), hull=True)
        return self._programs[key]


def _arb_array(values: np.ndarray) -> np.ndarray:
    flint = flint_module()

    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    out = np.empty(flat.size, dtype=object)
    out[:] = [flint.arb(float(v)) for v in flat]
    return out.reshape(np.shape(values))


def _arb_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """numpy's matmul semantics (1-D and 2-D) over Arb balls, through FLINT's arb_mat products."""
    flint = flint_module()

    left = a.reshape(1, -1) if a.ndim == 1 else a
    right = b.reshape(-1, 1) if b.ndim == 1 else b
    product = flint.arb_mat(left.tolist()) * flint.arb_mat(right.tolist())
    rows, columns = product.nrows(), product.ncols()
    out = np.empty((rows, columns), dtype=object)
    for i in range(rows):
        for j in range(columns):
            out[i, j] = product[i, j]
    if a.ndim == 1 and b.ndim == 1:
        return out.reshape(())
    if a.ndim == 1:
        return out.reshape(columns)
    if b.ndim == 1:
        return out.reshape(rows)
    return out


def _arb_sum(values: np.ndarray, last_axis: bool) -> np.ndarray:
    flint = flint_module()

    if not last_axis:
        total = flint.arb(0)
        for v in values.reshape(-1):
            total += v
        scalar = np.empty((), dtype=object)
        scalar[()] = total
        return scalar
    rows = values.reshape(-1, values.shape[-1])
    out = np.empty(rows.shape[0], dtype=object)
    for i, row in enumerate(rows):
        total = flint.arb(0)
        for v in row:
            total += v
        out[i] = total
    return out.reshape(values.shape[:-1])


def _arb_logsumexp(values: np.ndarray) -> np.ndarray:
    flint = flint_module()

    rows = values.reshape(-1, values.shape[-1])
    out = np.empty(rows.shape[0], dtype=object)
    for i, row in enumerate(rows):
        total = flint.arb(0)
        for v in row:
            total += v.exp()
        out[i] = total.log()
    return out.reshape(values.shape[:-1])


def _arb_sum_to(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    lead = values.ndim - len(shape)
    for _ in range(lead):
        values = np.add.reduce(values, axis=0)
    for i, n in enumerate(shape):
        if n == 1 and values.shape[i] != 1:
            values = np.add.reduce(values, axis=i, keepdims=True)
    return np.asarray(values, dtype=object).reshape(shape)


def _arb_values(roots: Sequence[Node], variables: Mapping[str, np.ndarray], tangents: Mapping[str, np.ndarray],
                formulas: _Formulas, bits: int) -> tuple[list[np.ndarray], str]:
    flint = flint_module()

    state = _State()
    values: dict[int, np.ndarray] = {}
    with _precision(bits):
        for node in topological(list(roots)):
            if isinstance(node, Var):
                out = variables[node.name]
            elif isinstance(node, Tangent):
                out = tangents[node.name]
            elif isinstance(node, Const):
                out = np.full(node.shape, _arb_constant(node.value), dtype=object)
            elif isinstance(node, Elem):
                program = formulas.program(node)
                constants = [_arb_constant(c) for c in program.constants]
                arrays = np.broadcast_arrays(*[values[id(a)] for a in node.args])
                flat = [np.asarray(a, dtype=object).reshape(-1) for a in arrays]
                result = np.empty(flat[0].size if flat else 1, dtype=object)
                fixed = program.constant(0)
                if fixed is not None:  # the formula is a rational constant (a derivative of p - q, say)
                    result[:] = [_arb_constant(fixed)] * result.size
                else:
                    run = program._program
                    result[:] = [run(constants, state, *entry)[0] for entry in zip(*flat)]
                out = result.reshape(node.shape)
            elif isinstance(node, MatMul):
                out = _arb_matmul(values[id(node.a)], values[id(node.b)])
            elif isinstance(node, Transpose):
                out = values[id(node.a)].T
            elif isinstance(node, Sum):
                out = _arb_sum(values[id(node.a)], node.last_axis)
            elif isinstance(node, LogSumExp):
                out = _arb_logsumexp(values[id(node.a)])
            elif isinstance(node, Reshape):
                out = values[id(node.a)].reshape(node.shape)
            elif isinstance(node, Broadcast):
                out = np.broadcast_to(values[id(node.a)], node.shape)
            elif isinstance(node, SumTo):
                out = _arb_sum_to(values[id(node.a)], node.shape)
            elif isinstance(node, Index):
                out = np.asarray(values[id(node.a)][node.index], dtype=object).reshape(node.shape)
            elif isinstance(node, Scatter):
                out = np.full(node.shape, flint.arb(0), dtype=object)
                out[node.index] = values[id(node.a)]
            elif isinstance(node, Stack):
                out = np.stack([values[id(p)] for p in node.parts])
            elif isinstance(node, Diagonal):
                out = np.diagonal(values[id(node.a)]).copy()
            elif isinstance(node, DiagEmbed):
                out = np.full(node.shape, flint.arb(0), dtype=object)
                np.fill_diagonal(out, values[id(node.a)])
            else:
                raise TypeError(f"unknown node {type(node).__name__}")
            values[id(node)] = out
    return [values[id(r)] for r in roots], state.boundary


def exact_values(root: Node, variables: Mapping[str, np.ndarray], tangents: Mapping[str, np.ndarray],
                 allowed: np.ndarray, formulas: _Formulas | None = None, mantissa: int = 53) -> ExactResult:
    """The certified value of `root` (float64 inputs and probes, exact), precision raised as needed.

    An entry is certified when its relative radius is below 2^-(mantissa + 2) or its radius is
    below 1e-3 of `allowed` (the entry's tolerance).
    """
    formulas = formulas or _Formulas()
    arb_variables = {name: _arb_array(v) for name, v in variables.items()}
    arb_tangents = {name: _arb_array(v) for name, v in tangents.items()}
    bits = 2 * mantissa + 16
    while True:
        (result,), boundary = _arb_values([root], arb_variables, arb_tangents, formulas, bits)
        flat = np.asarray(result, dtype=object).reshape(-1)
        mids = np.fromiter((float(b) if b.is_finite() else math.nan for b in flat), dtype=np.float64, count=flat.size)
        accuracy = np.fromiter((b.rel_accuracy_bits() for b in flat), dtype=np.float64, count=flat.size)
        radii = np.fromiter((float(b.rad()) if b.is_finite() else math.inf for b in flat), dtype=np.float64,
                            count=flat.size)
        certified = (accuracy >= mantissa + 2) | (radii <= 1e-3 * np.asarray(allowed, dtype=np.float64).reshape(-1))
        if certified.all() or bits >= CAP_BITS or boundary:
            accuracy[accuracy >= 2.0**62] = np.inf
            return ExactResult(mids.reshape(np.shape(result)), certified.reshape(np.shape(result)),
                               float(accuracy.min()) if accuracy.size else math.inf, boundary)
        bits = min(CAP_BITS, bits * 4)


def new_formulas() -> _Formulas:
    """A cache of compiled elementwise formulas, shared by the evaluations of one check."""
    return _Formulas()



def _split(arrays: Sequence[np.ndarray], shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """Arrays flattened and spread over `shapes` (the spreading rule of calls, F(G(x, y)))."""
    if len(arrays) == len(shapes) and all(np.shape(a) == s for a, s in zip(arrays, shapes)):
        return [np.asarray(a, dtype=object) for a in arrays]
    flat = np.concatenate([np.asarray(a, dtype=object).reshape(-1) for a in arrays])
    out, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        out.append(flat[start:start + size].reshape(shape))
        start += size
    return out


def _stage(stage: Any, variables: Mapping[str, np.ndarray], tangents: Mapping[str, np.ndarray], inputs: Any,
           formulas: _Formulas, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact value of a composition stage and its directional derivative, stage by stage."""
    from verify.tensor import Graph, Stage, jvp

    values, derivatives = [], []
    for part in stage.parts:
        if isinstance(part, Stage):
            value, derivative = _stage(part, variables, tangents, inputs, formulas, bits)
        else:
            forward = jvp(Graph(part, inputs), output=part)
            roots = [part] + ([forward] if forward is not None else [])
            evaluated, _ = _arb_values(roots, variables, tangents, formulas, bits)
            value = evaluated[0]
            derivative = evaluated[1] if forward is not None else np.full(part.shape, _zero(), dtype=object)
        values.append(value)
        derivatives.append(derivative)
    names = [name for name, _ in stage.graph.inputs]
    shapes = [shape for _, shape in stage.graph.inputs]
    at = dict(zip(names, _split(values, shapes)))
    along = dict(zip(names, _split(derivatives, shapes)))
    forward = jvp(stage.graph)
    roots = [stage.graph.output] + ([forward] if forward is not None else [])
    evaluated, _ = _arb_values(roots, at, along, formulas, bits)
    derivative = evaluated[1] if forward is not None else np.full(stage.graph.output.shape, _zero(), dtype=object)
    return evaluated[0], derivative


def _zero() -> Any:
    flint = flint_module()

    return flint.arb(0)


def chain_product(stage: Any, graph: Any, variables: Mapping[str, np.ndarray], tangents: Mapping[str, np.ndarray],
                  allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Certified J_F(G(x)) (J_G(x) u), stage by stage, and J_H(x) u from H's own graph, as float64 midpoints.

    The precision is raised until both are certified to below 1e-3 of `allowed`; returns both
    and the fewest certified bits.
    """
    from verify.tensor import jvp

    formulas = _Formulas()
    arb_variables = {name: _arb_array(v) for name, v in variables.items()}
    arb_tangents = {name: _arb_array(v) for name, v in tangents.items()}
    direct_node = jvp(graph)
    bits = 128
    while True:
        _, product = _stage(stage, arb_variables, arb_tangents, graph.inputs, formulas, bits)
        if direct_node is not None:
            (direct,), _ = _arb_values([direct_node], arb_variables, arb_tangents, formulas, bits)
        else:
            direct = np.full(graph.output.shape, _zero(), dtype=object)
        balls = [*np.asarray(product, dtype=object).reshape(-1), *np.asarray(direct, dtype=object).reshape(-1)]
        radii = np.array([float(b.rad()) if b.is_finite() else math.inf for b in balls])
        limit = np.concatenate([allowed.reshape(-1), allowed.reshape(-1)]) * 1e-3
        accuracy = min((b.rel_accuracy_bits() for b in balls), default=2**62)
        if (radii <= limit).all() or bits >= CAP_BITS:
            mids = [np.array([float(b) if b.is_finite() else math.nan for b in np.asarray(a, dtype=object).reshape(-1)])
                    for a in (product, direct)]
            return mids[0], mids[1], float(min(accuracy, CAP_BITS))
        bits = min(CAP_BITS, bits * 4)
