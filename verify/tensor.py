"""Vector form: expressions on whole tensors, their exact directional derivatives, and two evaluators.

Dense checks expand every entry of every variable into a SymPy symbol; at 4096 or 1,048,576
entries that is impossible. Probe checks (`jvp`, `vjp`, `hvp`) use this module instead: an
expression is parsed (with `ast`, never eval) into a small graph of tensor operations
(elementwise maps given by SymPy scalar formulas, broadcasting, `@`, transposes, reductions,
the softmax family, indexing, stacking), and its JVP, VJP and Hessian-vector product are built
as graphs of the same kind by the rules of matrix calculus, so no n x n Jacobian is ever formed.

A graph is evaluated either by torch (float64 tensors: for the tolerance scale `m`) or exactly,
over arrays of Arb balls (FLINT/Arb through python-flint: elementwise maps entry by entry,
matrix products as `arb_mat` products in C), with the precision raised until every compared
entry is certified. Elementwise formulas are compiled by verify.engines.certified, so the
exact values here are the same certified values the dense checks use.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

from verify.errors import CaseError, Location

__all__ = [
    "Elem", "Graph", "Node", "Var", "build_graph", "jvp", "vjp",
]


# -- nodes ----------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Node:
    """A tensor-valued operation; `shape` is static. Nodes compare by identity (a DAG)."""

    shape: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Var(Node):
    name: str = ""


@dataclass(frozen=True, eq=False)
class Tangent(Node):
    """The probe direction for a variable (in JVPs), or the cotangent probe (in VJPs)."""

    name: str = ""


@dataclass(frozen=True, eq=False)
class Const(Node):
    value: sympy.Expr = sympy.S.Zero  # an exact scalar, broadcast to `shape`


@dataclass(frozen=True, eq=False)
class Elem(Node):
    """`formula` over `params`, applied entrywise to `args` broadcast together (numpy rules)."""

    formula: sympy.Expr = sympy.S.Zero
    params: tuple[sympy.Symbol, ...] = ()
    args: tuple[Node, ...] = ()


@dataclass(frozen=True, eq=False)
class MatMul(Node):
    a: Node = field(default=None)  # type: ignore[assignment]
    b: Node = field(default=None)  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class Transpose(Node):
    a: Node = field(default=None)  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class Sum(Node):
    """The sum over all entries (axis None, a scalar) or over the last axis."""

    a: Node = field(default=None)  # type: ignore[assignment]
    last_axis: bool = False


@dataclass(frozen=True, eq=False)
class LogSumExp(Node):
    """log(sum(exp(a))) over the last axis."""

    a: Node = field(default=None)  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class Reshape(Node):
    a: Node = field(default=None)  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class Broadcast(Node):
    a: Node = field(default=None)  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class SumTo(Node):
    """`a` summed down to `shape` (the adjoint of broadcasting)."""

    a: Node = field(default=None)  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class Index(Node):
    a: Node = field(default=None)  # type: ignore[assignment]
    index: tuple[int, ...] = ()


@dataclass(frozen=True, eq=False)
class Scatter(Node):
    """A zero tensor of `shape` with `a` placed at `index` (the adjoint of Index)."""

    a: Node = field(default=None)  # type: ignore[assignment]
    index: tuple[int, ...] = ()


@dataclass(frozen=True, eq=False)
class Stack(Node):
    parts: tuple[Node, ...] = ()


@dataclass(frozen=True, eq=False)
class Diagonal(Node):
    """The diagonal of a square matrix, a vector."""

    a: Node = field(default=None)  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class DiagEmbed(Node):
    """A square matrix with the vector `a` on its diagonal and zeros elsewhere (the adjoint of Diagonal)."""

    a: Node = field(default=None)  # type: ignore[assignment]


def _inputs(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Elem):
        return node.args
    if isinstance(node, MatMul):
        return (node.a, node.b)
    if isinstance(node, Stack):
        return node.parts
    if isinstance(node, (Transpose, Sum, LogSumExp, Reshape, Broadcast, SumTo, Index, Scatter, Diagonal, DiagEmbed)):
        return (node.a,)
    return ()


def topological(roots: Sequence[Node]) -> list[Node]:
    """Every node under `roots`, inputs before the nodes that use them (iterative, no recursion limit)."""
    seen: set[int] = set()
    order: list[Node] = []
    stack: list[tuple[Node, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(_inputs(node)))
    return order


# -- building blocks ------------------------------------------------------------------------------

_P = sympy.symbols("p0:16", real=True)


def broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(np.broadcast_shapes(*shapes))


def elem(formula: Callable[..., sympy.Expr], *args: Node) -> Node:
    """An elementwise node from a SymPy builder over as many params as `args`."""
    params = _P[: len(args)]
    expression = sympy.sympify(formula(*params))
    used = [i for i, p in enumerate(params) if expression.has(p)]
    if not used:
        return Const(broadcast_shape(*(a.shape for a in args)), expression)
    return Elem(broadcast_shape(*(a.shape for a in args)), expression, tuple(params), tuple(args))


def add(a: Node | None, b: Node | None) -> Node | None:
    if a is None:
        return b
    if b is None:
        return a
    return elem(lambda p, q: p + q, a, b)


def mul(a: Node, b: Node) -> Node:
    return elem(lambda p, q: p * q, a, b)


def scale(a: Node, factor: sympy.Expr) -> Node:
    return elem(lambda p: factor * p, a)


def absolute(a: Node) -> Node:
    return elem(sympy.Abs, a)


def sum_to(a: Node, shape: tuple[int, ...]) -> Node:
    return a if a.shape == shape else SumTo(shape, a)


def broadcast_to(a: Node, shape: tuple[int, ...]) -> Node:
    return a if a.shape == shape else Broadcast(shape, a)


def softmax_of(a: Node) -> Node:
    lse = Reshape((*a.shape[:-1], 1), LogSumExp(a.shape[:-1], a))
    return elem(lambda p, q: sympy.exp(p - q), a, lse)


# -- the graph of a function ----------------------------------------------------------------------

@dataclass(frozen=True)
class Graph:
    """A function in vector form: its output node over variables `inputs` (name -> shape), in order."""

    output: Node
    inputs: tuple[tuple[str, tuple[int, ...]], ...]


class _Builder(ast.NodeVisitor):
    """Python syntax -> graph nodes, for the language's tensor operations; anything else is an error."""

    def __init__(self, text: str, where: Location, names: Mapping[str, Node],
                 callees: Mapping[str, Callable[[list[Node]], Node]]) -> None:
        self.text = text
        self.at = where
        self.names = names
        self.callees = callees

    def fail(self, node: ast.AST, message: str, hint: str = "") -> CaseError:
        column = getattr(node, "col_offset", 0)
        at = Location(self.at.file, self.at.line, self.at.col + column if self.at.col else 0)
        return CaseError(at, message, hint or "large-tensor functions use the language's tensor operations: "
                         "arithmetic, @, .T, elementwise functions, sum, mean, dot, norm, trace, softmax, "
                         "log_softmax, logsumexp, where, indexing and list literals")

    def build(self) -> Node:
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as exc:
            raise self.fail(ast.Constant(0), f"syntax error: {exc.msg}") from None
        return self.visit(tree.body)

    def generic_visit(self, node: ast.AST) -> Node:
        raise self.fail(node, f"{type(node).__name__} is not allowed in a large-tensor expression")

    def visit_Constant(self, node: ast.Constant) -> Node:
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise self.fail(node, f"the constant {node.value!r} is not a number")
        value = sympy.Integer(node.value) if isinstance(node.value, int) else sympy.Rational(repr(node.value))
        return Const((), value)

    def visit_Name(self, node: ast.Name) -> Node:
        if node.id in self.names:
            return self.names[node.id]
        if node.id == "pi":
            return Const((), sympy.pi)
        if node.id == "E":
            return Const((), sympy.E)
        raise self.fail(node, f"unknown name {node.id!r}", f"names here: {', '.join(self.names)}")

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Node:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.USub):
            return elem(lambda p: -p, operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        raise self.fail(node, "only unary - and + are allowed")

    def visit_BinOp(self, node: ast.BinOp) -> Node:
        a, b = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.MatMult):
            if not a.shape or not b.shape:
                raise self.fail(node, "@ needs vectors or matrices on both sides")
            try:
                shape = _matmul_shape(a.shape, b.shape)
            except ValueError:
                raise self.fail(node, f"@ of shapes {list(a.shape)} and {list(b.shape)} does not match") from None
            return MatMul(tuple(shape), a, b)
        ops: dict[type, Callable[[Any, Any], Any]] = {
            ast.Add: lambda p, q: p + q, ast.Sub: lambda p, q: p - q, ast.Mult: lambda p, q: p * q,
            ast.Div: lambda p, q: p / q, ast.Pow: lambda p, q: p**q,
        }
        op = ops.get(type(node.op))
        if op is None:
            raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")
        try:
            broadcast_shape(a.shape, b.shape)
        except ValueError:
            raise self.fail(node, f"shapes {list(a.shape)} and {list(b.shape)} do not broadcast") from None
        if isinstance(node.op, ast.Pow) and isinstance(b, Const):
            exponent = b.value
            return elem(lambda p: p**exponent, a)
        return elem(op, a, b)

    def visit_Attribute(self, node: ast.Attribute) -> Node:
        if node.attr != "T":
            raise self.fail(node, f"attribute .{node.attr} is not allowed", "only .T (transpose)")
        a = self.visit(node.value)
        return a if len(a.shape) < 2 else Transpose(tuple(reversed(a.shape)), a)

    def visit_Subscript(self, node: ast.Subscript) -> Node:
        a = self.visit(node.value)
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        index = []
        for part in parts:
            value = part.operand.value if isinstance(part, ast.UnaryOp) and isinstance(part.operand, ast.Constant) \
                else getattr(part, "value", None)
            if not isinstance(value, int) or isinstance(value, bool):
                raise self.fail(node, "indexes are integer literals")
            index.append(-value if isinstance(part, ast.UnaryOp) else value)
        if len(index) > len(a.shape):
            raise self.fail(node, f"too many indexes for shape {list(a.shape)}")
        for i, n in zip(index, a.shape):
            if not -n <= i < n:
                raise self.fail(node, f"index {i} is out of range for size {n}")
        normal = tuple(i % n for i, n in zip(index, a.shape))
        return Index(a.shape[len(index):], a, normal)

    def visit_List(self, node: ast.List) -> Node:
        parts = [self.visit(e) for e in node.elts]
        if not parts or len({p.shape for p in parts}) != 1:
            raise self.fail(node, "a list needs entries of one shape")
        return Stack((len(parts), *parts[0].shape), tuple(parts))

    def visit_Call(self, node: ast.Call) -> Node:
        from verify.functions import ELEMENTWISE

        if not isinstance(node.func, ast.Name) or node.keywords:
            raise self.fail(node, "only named functions with positional arguments can be called")
        name = node.func.id
        if name in self.callees:
            return self.callees[name]([self.visit(a) for a in node.args])
        if name == "where":
            return self.where(node)
        args = [self.visit(a) for a in node.args]
        if name in ("sum", "mean", "logsumexp", "softmax", "log_softmax", "trace", "norm", "dot"):
            return self.reduction(node, name, args)
        if (name in ELEMENTWISE and name not in ("min", "max")) or (name in ("min", "max") and len(args) > 1):
            builtin = ELEMENTWISE[name]
            if len(args) not in builtin.arities:
                raise self.fail(node, f"{name} takes {builtin.arities[0]} argument(s), {len(args)} given")
            if builtin.check is not None and all(isinstance(a, Const) for a in args[:1]) and len(args) == 2:
                problem = builtin.check(args[0].value, _P[1])  # type: ignore[attr-defined]
                if problem:
                    raise self.fail(node, problem)
            return elem(lambda *p: builtin.build(*p), *args)
        raise self.fail(node, f"{name}() is not available for large tensors")

    def where(self, node: ast.Call) -> Node:
        if len(node.args) != 3 or not isinstance(node.args[0], ast.Compare) or len(node.args[0].ops) != 1:
            raise self.fail(node, "where(a < b, x, y) takes one comparison and two values")
        compare = node.args[0]
        relations = {ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt, ast.GtE: sympy.Ge, ast.Eq: sympy.Eq,
                     ast.NotEq: sympy.Ne}
        relation = relations[type(compare.ops[0])]
        left, right = self.visit(compare.left), self.visit(compare.comparators[0])
        a, b = self.visit(node.args[1]), self.visit(node.args[2])
        return elem(lambda p, q, r, s: sympy.Piecewise((r, relation(p, q)), (s, True)), left, right, a, b)

    def reduction(self, node: ast.Call, name: str, args: list[Node]) -> Node:
        a = args[0] if args else None
        if a is None:
            raise self.fail(node, f"{name} needs an argument")
        if name == "sum":
            return Sum((), a)
        if name == "mean":
            return scale(Sum((), a), sympy.Rational(1, max(1, math.prod(a.shape))))
        if name == "dot":
            if len(args) != 2 or args[0].shape != args[1].shape or len(a.shape) != 1:
                raise self.fail(node, "dot needs two vectors of one length")
            return Sum((), mul(args[0], args[1]))
        if name == "norm":
            return elem(sympy.sqrt, Sum((), elem(lambda p: p**2, a)))
        if name == "trace":
            if len(a.shape) != 2 or a.shape[0] != a.shape[1]:
                raise self.fail(node, "trace needs a square matrix")
            return Sum((), Diagonal((a.shape[0],), a))
        if not a.shape:
            raise self.fail(node, f"{name} needs a vector or a matrix")
        if name == "logsumexp":
            return LogSumExp(a.shape[:-1], a)
        if name == "softmax":
            return softmax_of(a)
        lse = Reshape((*a.shape[:-1], 1), LogSumExp(a.shape[:-1], a))
        return elem(lambda p, q: p - q, a, lse)


def _matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """numpy's matmul shape for 1-D and 2-D operands, without allocating them."""
    if len(a) > 2 or len(b) > 2:
        raise ValueError("matmul of more than 2 dimensions")
    inner_a = a[-1]
    inner_b = b[0] if len(b) == 1 else b[-2]
    if inner_a != inner_b:
        raise ValueError("inner dimensions differ")
    return tuple([*a[:-1], *b[1:]]) if len(b) == 2 else tuple(a[:-1])


def build_graph(expr_text: str, where: Location, inputs: Sequence[tuple[str, tuple[int, ...]]],
                let: Sequence[tuple[str, str, Location]] = (), constants: Mapping[str, sympy.Expr] | None = None,
                callees: Mapping[str, Callable[[list[Node]], Node]] | None = None) -> Graph:
    """The graph of one expression over `inputs`, with `let` bindings and named `constants`."""
    names: dict[str, Node] = {name: Var(shape, name) for name, shape in inputs}
    for name, value in (constants or {}).items():
        names[name] = Const((), value)
    for name, text, at in let:
        names[name] = _Builder(text, at, names, callees or {}).build()
    output = _Builder(expr_text, where, names, callees or {}).build()
    return Graph(output, tuple(inputs))


# -- derivatives as graphs ------------------------------------------------------------------------

def jvp(graph: Graph, absolute_mode: bool = False, output: Node | None = None) -> Node | None:
    """The directional derivative J u of `output` (default: the graph's) along Tangent nodes named like inputs.

    With `absolute_mode`, every local derivative and tangent is taken by absolute value: the
    result bounds |J| |u|, the scale of rounding errors in the contraction.
    """
    root = output if output is not None else graph.output
    tangents: dict[int, Node | None] = {}

    def t(node: Node) -> Node | None:
        return tangents[id(node)]

    def factor(node: Node) -> Node:
        return absolute(node) if absolute_mode else node

    for node in topological([root]):
        result: Node | None = None
        if isinstance(node, Var):
            result = Tangent(node.shape, node.name)
            if absolute_mode:
                result = absolute(result)
        elif isinstance(node, Tangent):
            result = None  # probe directions are constants of the derivative
        elif isinstance(node, Const):
            result = None
        elif isinstance(node, Elem):
            for k, arg in enumerate(node.args):
                tk = t(arg)
                if tk is None:
                    continue
                partial = sympy.diff(node.formula, node.params[k])
                if partial == 0:
                    continue
                local = Elem(node.shape, sympy.Abs(partial) if absolute_mode else partial, node.params, node.args)
                result = add(result, mul(local, tk))
        elif isinstance(node, MatMul):
            ta, tb = t(node.a), t(node.b)
            if ta is not None:
                result = add(result, MatMul(node.shape, ta, factor(node.b)))
            if tb is not None:
                result = add(result, MatMul(node.shape, factor(node.a), tb))
        elif isinstance(node, LogSumExp):
            ta = t(node.a)
            if ta is not None:
                result = Sum(node.shape, mul(softmax_of(node.a), ta), last_axis=True)
        elif isinstance(node, Stack):
            parts = [t(p) for p in node.parts]
            if any(p is not None for p in parts):
                result = Stack(node.shape, tuple(p if p is not None else Const(q.shape) for p, q in
                                                 zip(parts, node.parts)))
        else:  # linear ops: apply the same op to the tangent
            ta = t(node.a)  # type: ignore[attr-defined]
            if ta is not None:
                result = _same_op(node, ta)
        tangents[id(node)] = result
    return t(root)


def _same_op(node: Node, a: Node) -> Node:
    if isinstance(node, Transpose):
        return Transpose(node.shape, a)
    if isinstance(node, Sum):
        return Sum(node.shape, a, node.last_axis)
    if isinstance(node, Reshape):
        return Reshape(node.shape, a)
    if isinstance(node, Broadcast):
        return Broadcast(node.shape, a)
    if isinstance(node, SumTo):
        return SumTo(node.shape, a)
    if isinstance(node, Index):
        return Index(node.shape, a, node.index)
    if isinstance(node, Scatter):
        return Scatter(node.shape, a, node.index)
    if isinstance(node, Diagonal):
        return Diagonal(node.shape, a)
    if isinstance(node, DiagEmbed):
        return DiagEmbed(node.shape, a)
    raise TypeError(f"no linear rule for {type(node).__name__}")


def vjp(graph: Graph, cotangent: Node, absolute_mode: bool = False) -> dict[str, Node]:
    """The cotangent w^T J of each input (by name) for the output cotangent `cotangent`."""
    order = topological([graph.output])
    adjoint: dict[int, Node | None] = {id(graph.output): absolute(cotangent) if absolute_mode else cotangent}

    def push(node: Node, value: Node | None) -> None:
        if value is None:
            return
        adjoint[id(node)] = add(adjoint.get(id(node)), value)

    def factor(node: Node) -> Node:
        return absolute(node) if absolute_mode else node

    for node in reversed(order):
        w = adjoint.get(id(node))
        if w is None:
            continue
        if isinstance(node, Elem):
            for k, arg in enumerate(node.args):
                if isinstance(arg, Const):
                    continue
                partial = sympy.diff(node.formula, node.params[k])
                if partial == 0:
                    continue
                local = Elem(node.shape, sympy.Abs(partial) if absolute_mode else partial, node.params, node.args)
                push(arg, sum_to(mul(w, local), arg.shape))
        elif isinstance(node, MatMul):
            push(node.a, _matmul_adjoint_a(w, factor(node.b), node.a.shape))
            push(node.b, _matmul_adjoint_b(factor(node.a), w, node.b.shape))
        elif isinstance(node, Transpose):
            push(node.a, Transpose(node.a.shape, w))
        elif isinstance(node, Sum):
            if node.last_axis:
                push(node.a, Broadcast(node.a.shape, Reshape((*node.shape, 1), w)))
            else:
                push(node.a, broadcast_to(w, node.a.shape))
        elif isinstance(node, LogSumExp):
            push(node.a, mul(Broadcast(node.a.shape, Reshape((*node.shape, 1), w)), softmax_of(node.a)))
        elif isinstance(node, Reshape):
            push(node.a, Reshape(node.a.shape, w))
        elif isinstance(node, Broadcast):
            push(node.a, sum_to(w, node.a.shape))
        elif isinstance(node, SumTo):
            push(node.a, broadcast_to(w, node.a.shape))
        elif isinstance(node, Index):
            push(node.a, Scatter(node.a.shape, w, node.index))
        elif isinstance(node, Scatter):
            push(node.a, Index(node.a.shape, w, node.index))
        elif isinstance(node, Stack):
            for k, part in enumerate(node.parts):
                push(part, Index(part.shape, w, (k,)))
        elif isinstance(node, Diagonal):
            push(node.a, DiagEmbed(node.a.shape, w))
        elif isinstance(node, DiagEmbed):
            push(node.a, Diagonal(node.a.shape, w))
    out = {}
    for node in order:
        if isinstance(node, Var) and adjoint.get(id(node)) is not None:
            out[node.name] = adjoint[id(node)]
    return out  # type: ignore[return-value]


def _matmul_adjoint_a(w: Node, b: Node, a_shape: tuple[int, ...]) -> Node:
    if len(a_shape) == 2 and len(b.shape) == 2:
        return MatMul(a_shape, w, Transpose(tuple(reversed(b.shape)), b))
    if len(a_shape) == 2 and len(b.shape) == 1:  # A @ v: dA = outer(w, v)
        return mul(Reshape((a_shape[0], 1), w), Reshape((1, b.shape[0]), b))
    if len(a_shape) == 1 and len(b.shape) == 2:  # v @ B: dv = B @ w
        return MatMul(a_shape, b, w)
    return mul(w, b)  # v @ u (a dot product): dv = w u


def _matmul_adjoint_b(a: Node, w: Node, b_shape: tuple[int, ...]) -> Node:
    if len(a.shape) == 2 and len(b_shape) == 2:
        return MatMul(b_shape, Transpose(tuple(reversed(a.shape)), a), w)
    if len(a.shape) == 2 and len(b_shape) == 1:  # A @ v: dv = A.T @ w
        return MatMul(b_shape, Transpose(tuple(reversed(a.shape)), a), w)
    if len(a.shape) == 1 and len(b_shape) == 2:  # v @ B: dB = outer(v, w)
        return mul(Reshape((a.shape[0], 1), a), Reshape((1, w.shape[0]), w))
    return mul(w, a)


# -- the graph of a declared function ---------------------------------------------------------------

def function_graph(case: Any, name: str) -> Graph:
    """The graph of the case's function `name`, over its arguments; earlier functions are inlined.

    Raises CaseError (with the file location) for what the vector form does not cover.
    """
    spec = _spec(case, name)
    args = _arguments(case, spec)
    names: dict[str, Node] = {**_constant_nodes(case), **{a.name: Var(a.shape, a.name) for a in args}}
    callees = _callees(case, name)
    for bound, source in spec.let:
        names[bound] = _Builder(source.text, source.where, names, callees).build()
    output = _nested(spec.expr, names, callees)
    return Graph(output, tuple((a.name, a.shape) for a in args))


def _spec(case: Any, name: str) -> Any:
    return next(f for f in case.functions if f.name == name)


def _arguments(case: Any, spec: Any) -> tuple[Any, ...]:
    return tuple(spec.args if spec.args is not None else case.variables)


def _constant_nodes(case: Any) -> dict[str, Node]:
    from verify.model import constant_names

    return {k: Const((), v[()]) for k, v in constant_names(case).items()}


def _nested(nested: Any, names: Mapping[str, Node], callees: Mapping[str, Callable[[list[Node]], Node]]) -> Node:
    """An `expr` (one source, or nested lists of them) as one node; lists are stacked."""
    from verify.source import Source

    if isinstance(nested, Source):
        return _Builder(nested.text, nested.where, names, callees).build()
    parts = [_nested(item, names, callees) for item in nested]
    if len({p.shape for p in parts}) != 1:
        raise CaseError(_first(nested).where, "the entries of a list expression have different shapes",
                        "every entry of a list must have the same shape")
    return Stack((len(parts), *parts[0].shape), tuple(parts))


def _callees(case: Any, name: str) -> dict[str, Callable[[list[Node]], Node]]:
    """The functions declared above `name`, as calls that inline their graphs."""
    declared = [f.name for f in case.functions]
    return {spec.name: _inliner(case, spec) for spec in case.functions[:declared.index(name)]}


def _inliner(case: Any, spec: Any) -> Callable[[list[Node]], Node]:
    """A call of `spec`: its graph (built when first called) with its arguments bound to the values."""
    built: list[Graph] = []

    def call(values: list[Node]) -> Node:
        if spec.impl:
            raise CaseError(spec.where, f"{spec.name} has an impl: in vector form (probe checks, large tensors) "
                            "a call of an impl function is not supported yet", f"check {spec.name} itself with "
                            "probe checks, or its callers with dense checks")
        if not built:
            built.append(function_graph(case, spec.name))
        return substitute(built[0], values, spec)

    return call


def _spread(values: list[Node], shapes: list[tuple[int, ...]], spec: Any) -> list[Node]:
    """The values flattened and spread over the callee's arguments (F(G(x, y)) with G's 2 outputs)."""
    scalars = [v if not v.shape else Index((), v, index) for v in values
               for index in (np.ndindex(*v.shape) if v.shape else [()])]
    if len(scalars) != sum(math.prod(s) for s in shapes) or len(scalars) > 10_000:
        raise CaseError(spec.where, f"a call of {spec.name} passes {len(scalars)} values for arguments of shapes "
                        f"{[list(s) for s in shapes]}", "pass one value per argument, or as many entries in all")
    out, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        part = scalars[start:start + size]
        start += size
        out.append(part[0] if not shape else Reshape(shape, Stack((size,), tuple(part))))
    return out


def _first(nested: Any) -> Any:
    while isinstance(nested, list):
        nested = nested[0]
    return nested


@dataclass(frozen=True)
class Stage:
    """One call F(parts...) of a composition in vector form: F's own graph, and its argument parts.

    A part is either a nested Stage (a call of a declared function) or a node over the
    composition's inputs (any other expression).
    """

    callee: str
    graph: Graph
    parts: tuple[Stage | Node, ...]


def composition(case: Any, name: str) -> tuple[Stage, Graph]:
    """The stages of the composition `name` (H = F(G(x), ...)) and H's own graph (for J_H u)."""
    from verify.source import Source

    spec = _spec(case, name)
    graph = function_graph(case, name)
    if not isinstance(spec.expr, Source) or spec.let:
        raise CaseError(spec.where, f"chain_rule with probes: {name} must be one call of a declared function",
                        f"define it as a call, e.g. {name}: F(G(x, y))")
    callees = _callees(case, name)
    inputs = {n: Var(shape, n) for n, shape in graph.inputs}
    builder = _Builder(spec.expr.text, spec.expr.where, {**_constant_nodes(case), **inputs}, callees)
    tree = ast.parse(spec.expr.text.strip(), mode="eval").body

    def stage(node: ast.AST) -> Stage | Node:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in callees:
            return Stage(node.func.id, function_graph(case, node.func.id), tuple(stage(a) for a in node.args))
        return builder.visit(node)

    top = stage(tree)
    if not isinstance(top, Stage):
        raise CaseError(spec.where, f"chain_rule with probes: {name} is not a call of a declared function",
                        f"define it as a call, e.g. {name}: F(G(x, y))")
    return top, graph


def substitute(graph: Graph, values: list[Node], spec: Any) -> Node:
    """`graph`'s output (of the function `spec`) with its inputs replaced by `values`, spread when counts differ."""
    shapes = [shape for _, shape in graph.inputs]
    if len(values) != len(shapes) or any(v.shape != s for v, s in zip(values, shapes)):
        values = _spread(values, shapes, spec)
    mapping = {name: value for (name, _), value in zip(graph.inputs, values)}
    memo: dict[int, Node] = {}
    for node in topological([graph.output]):
        if isinstance(node, Var):
            memo[id(node)] = mapping[node.name]
            continue
        children = _inputs(node)
        if not children:
            memo[id(node)] = node
            continue
        memo[id(node)] = _rebuild(node, [memo[id(c)] for c in children])
    return memo[id(graph.output)]


def _rebuild(node: Node, children: list[Node]) -> Node:
    if isinstance(node, Elem):
        return Elem(node.shape, node.formula, node.params, tuple(children))
    if isinstance(node, MatMul):
        return MatMul(node.shape, children[0], children[1])
    if isinstance(node, Stack):
        return Stack(node.shape, tuple(children))
    return _same_op(node, children[0]) if not isinstance(node, LogSumExp) else LogSumExp(node.shape, children[0])
