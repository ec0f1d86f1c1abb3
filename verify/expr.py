"""The expression language: Python syntax parsed with `ast` against a whitelist into SymPy, never eval.

Every value is a numpy object array of SymPy scalars (0-d for a scalar), so shapes, broadcasting,
`@`, `.T` and indexing follow numpy exactly while every entry stays an exact SymPy expression.
"""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from verify.errors import CaseError, Location
from verify.functions import CONSTANTS, ELEMENTWISE, MAX_DENSE_MATRIX, REDUCTIONS
from verify.source import Source
from verify.special import logsumexp

__all__ = [
    "LIMITS", "CallTree", "Callee", "Source", "as_array", "compile_call_tree", "compile_expression",
    "shape_text", "spread",
]


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a hostile or accidental expression from exhausting the machine."""

    max_chars: int = 20_000
    max_nodes: int = 4_000
    max_depth: int = 100
    max_entries: int = 100_000  # entries of any intermediate value
    max_matmul_terms: int = 2_000_000
    max_exponent: int = 1_000  # |n| in x**n for a non-numeric x
    max_digits: int = 1_000  # digits of a number the expression computes exactly


LIMITS = Limits()

ALLOWED = (
    "numbers, the names declared in the case, pi, E, + - * / ** @, unary -, x.T, x[i], A[i, j], [a, b], "
    "and calls of declared functions or of: " + ", ".join([*ELEMENTWISE, *REDUCTIONS])
)

_COMPARISONS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt, ast.GtE: sympy.Ge,
    ast.Eq: sympy.Eq, ast.NotEq: sympy.Ne,
}


class Callee:
    """A declared function as seen by a call: its argument shapes and a way to apply it."""

    def __init__(self, name: str, arg_names: Sequence[str], arg_shapes: Sequence[tuple[int, ...]],
                 apply: Callable[[list[np.ndarray]], np.ndarray]) -> None:
        self.name = name
        self.arg_names = tuple(arg_names)
        self.arg_shapes = tuple(tuple(s) for s in arg_shapes)
        self.apply = apply

    def signature(self) -> str:
        parts = [f"{n}{'' if not s else list(s)}" for n, s in zip(self.arg_names, self.arg_shapes)]
        return f"{self.name}({', '.join(parts)})"


def matrix_product(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`left @ right` of object arrays (vectors or matrices), each entry one n-ary sum.

    numpy's matmul adds the products one at a time, and every SymPy `+` re-sorts the partial
    sum: quadratic in the length of a row (2.9 s for a 100 x 100 matrix times a vector, against
    0.3 s). The sum is the same canonical Add either way.
    """
    rows = left.reshape(1, -1) if left.ndim == 1 else left
    columns = right.reshape(-1, 1) if right.ndim == 1 else right
    out = np.empty((rows.shape[0], columns.shape[1]), dtype=object)
    for i in range(rows.shape[0]):
        for j in range(columns.shape[1]):
            out[i, j] = sympy.Add(*(a * b for a, b in zip(rows[i], columns[:, j])))
    shape = (*left.shape[:-1], *right.shape[1:])
    return out.reshape(shape)


def as_array(value: Any) -> np.ndarray:
    """`value` as an object array (0-d for a scalar)."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        return value
    if isinstance(value, np.ndarray):
        converted = np.empty(value.shape, dtype=object)
        converted[...] = value
        return converted
    scalar = np.empty((), dtype=object)
    scalar[()] = value
    return scalar


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape as users read it: 'scalar' or '(2, 3)'."""
    return "scalar" if not shape else str(tuple(shape))


def spread(callee: Callee, values: list[np.ndarray], where: Location, call_text: str) -> list[np.ndarray]:
    """Matches call values to `callee`'s arguments: whole when counts agree, else flattened and spread.

    Raises CaseError naming both sides when the sizes or shapes do not fit.
    """
    if len(values) == len(callee.arg_shapes):
        for i, (value, shape) in enumerate(zip(values, callee.arg_shapes)):
            if value.shape != shape:
                raise CaseError(
                    where,
                    f"{call_text}: argument {i + 1} has shape {shape_text(value.shape)}, "
                    f"but {callee.signature()} takes {callee.arg_names[i]} of shape {shape_text(shape)}",
                    "pass a value of the declared shape, or change the callee's args",
                )
        return values
    flat = [entry for value in values for entry in value.reshape(-1)]
    need = sum(math.prod(shape) for shape in callee.arg_shapes)
    if len(flat) != need:
        given = ", ".join(shape_text(v.shape) for v in values) or "nothing"
        raise CaseError(
            where,
            f"{call_text}: {callee.signature()} takes {len(callee.arg_shapes)} argument(s), {need} value(s) in all, "
            f"but the call passes {len(values)} value(s) of shape {given}, {len(flat)} value(s) in all "
            "(the columns of the outer Jacobian must equal the rows of the inner one)",
            f"pass {need} values, or change {callee.name}'s args",
        )
    out, start = [], 0
    for shape in callee.arg_shapes:
        size = math.prod(shape)
        out.append(as_array(np.array(flat[start:start + size], dtype=object).reshape(shape)))
        start += size
    return out


def _check_size(source: Source, tree: ast.AST, limits: Limits) -> None:
    count = 0
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > limits.max_nodes:
            raise CaseError(source.where, f"expression has more than {limits.max_nodes} syntax nodes",
                            "split it into several functions that call each other")
        if depth > limits.max_depth:
            raise CaseError(source.at(node), f"expression nests deeper than {limits.max_depth} levels",
                            "split it into several functions that call each other")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _parse(source: Source, limits: Limits) -> ast.expr:
    text = source.text
    if len(text) > limits.max_chars:
        raise CaseError(source.where, f"expression is {len(text)} characters long (limit {limits.max_chars})",
                        "split it into several functions that call each other")
    if not text.strip():
        raise CaseError(source.where, "empty expression", "write an expression such as x**2 + y")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        col = (exc.offset or 1)
        where = source.at(_Pos(exc.lineno or 1, col - 1))
        hint = "expressions use Python syntax: x**2 + 3*y, sin(x), v[0], A @ x"
        if not source.quoted and ("never closed" in exc.msg or "unmatched" in exc.msg):
            hint = ("YAML splits an unquoted [...] list at every comma and bracket: quote the expression, "
                    'e.g. ["atan2(x, y)", "v[0]/norm(v)"]')
        raise CaseError(where, f"invalid expression {text.strip()!r}: {exc.msg}", hint) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise CaseError(source.where, f"invalid expression: {exc}", "write a plain, reasonably sized expression") from None
    _check_size(source, tree, limits)
    return tree.body


class _Pos(ast.AST):
    _attributes = ("lineno", "col_offset")

    def __init__(self, lineno: int, col_offset: int) -> None:
        super().__init__()
        self.lineno = lineno
        self.col_offset = col_offset


def _number(value: Any, source: Source, node: ast.AST, limits: Limits, text: str | None = None) -> sympy.Expr:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CaseError(source.at(node), f"{type(value).__name__} literal {value!r} is not allowed in expressions",
                        f"allowed: {ALLOWED}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CaseError(source.at(node), f"number {value!r} is not finite", "write a finite number")
        written = (text or "").replace("_", "")
        try:
            return sympy.Rational(written)  # the decimal the user wrote, exactly
        except (TypeError, ValueError):
            return sympy.Rational(repr(value))
    bits = abs(value).bit_length()
    digits = len(str(abs(value))) if bits < 10_000 else bits * math.log10(2)  # str() fails past 4300 digits
    if digits > limits.max_digits:
        raise CaseError(source.at(node), f"integer literal has more than {limits.max_digits} digits",
                        "use a smaller number")
    return sympy.Integer(value)


def _digits(number: sympy.Expr) -> float:
    """log10 of the larger of numerator and denominator: the digits per unit of exponent."""
    if number.is_Rational:
        p, q = abs(int(number.p)), int(number.q)
        return max(math.log10(p) if p > 1 else 0.0, math.log10(q) if q > 1 else 0.0)
    return 1.0


class _Compiler:
    def __init__(self, source: Source, names: Mapping[str, np.ndarray], callees: Mapping[str, Callee],
                 declared_later: Mapping[str, int], limits: Limits,
                 call_hook: Callable[[Callee, list[np.ndarray]], np.ndarray | None] | None) -> None:
        self.source = source
        self.names = names
        self.callees = callees
        self.declared_later = declared_later
        self.limits = limits
        self.call_hook = call_hook

    # -- helpers ---------------------------------------------------------------------------
    def fail(self, node: ast.AST | None, what: str, hint: str = "") -> CaseError:
        return CaseError(self.source.at(node), what, hint or f"allowed: {ALLOWED}")

    def snippet(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source.text.strip(), node) or ast.dump(node)

    def checked(self, node: ast.AST, value: np.ndarray) -> np.ndarray:
        if value.size > self.limits.max_entries:
            raise self.fail(node, f"{self.snippet(node)!r} has {value.size} entries (limit {self.limits.max_entries})",
                            "use smaller shapes")
        return value

    def broadcast(self, node: ast.AST, fn: Callable[..., Any], *values: np.ndarray) -> np.ndarray:
        try:
            shape = np.broadcast_shapes(*(v.shape for v in values))
        except ValueError:
            shapes = " and ".join(shape_text(v.shape) for v in values)
            raise self.fail(node, f"{self.snippet(node)!r}: shapes {shapes} do not broadcast",
                            "elementwise operations need equal shapes, or shapes that broadcast as in numpy") from None
        if math.prod(shape) > self.limits.max_entries:
            raise self.fail(node, f"{self.snippet(node)!r} would have {math.prod(shape)} entries "
                            f"(limit {self.limits.max_entries})", "use smaller shapes")
        parts = [np.broadcast_to(v, shape) for v in values]
        out = np.empty(shape, dtype=object)
        for index in np.ndindex(*shape):
            out[index] = fn(*(p[index] for p in parts))
        return out

    # -- nodes -----------------------------------------------------------------------------
    def compile(self, node: ast.expr) -> np.ndarray:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            raise self.fail(node, f"{_describe(node)} is not allowed in expressions")
        return self.checked(node, method(node))

    def visit_Constant(self, node: ast.Constant) -> np.ndarray:
        text = ast.get_source_segment(self.source.text.strip(), node) if isinstance(node.value, float) else None
        return as_array(_number(node.value, self.source, node, self.limits, text))

    def visit_Name(self, node: ast.Name) -> np.ndarray:
        if node.id in self.names:
            return self.names[node.id]
        if node.id in CONSTANTS:
            return as_array(CONSTANTS[node.id])
        if node.id in self.callees or node.id in ELEMENTWISE or node.id in REDUCTIONS:
            raise self.fail(node, f"{node.id!r} is a function; call it with arguments, e.g. {node.id}(x)")
        known = [*self.names, *CONSTANTS]
        close = difflib.get_close_matches(node.id, known, n=1)
        guess = f"did you mean {close[0]!r}? " if close else ""
        raise self.fail(node, f"unknown name {node.id!r}",
                        f"{guess}names here: {', '.join(known)}")

    def visit_UnaryOp(self, node: ast.UnaryOp) -> np.ndarray:
        value = self.compile(node.operand)
        if isinstance(node.op, ast.USub):
            return self.broadcast(node, lambda a: -a, value)
        if isinstance(node.op, ast.UAdd):
            return value
        raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")

    def visit_BinOp(self, node: ast.BinOp) -> np.ndarray:
        left, right = self.compile(node.left), self.compile(node.right)
        op = node.op
        if isinstance(op, ast.Add):
            return self.broadcast(node, lambda a, b: a + b, left, right)
        if isinstance(op, ast.Sub):
            return self.broadcast(node, lambda a, b: a - b, left, right)
        if isinstance(op, ast.Mult):
            return self.broadcast(node, lambda a, b: a * b, left, right)
        if isinstance(op, ast.Div):
            return self.broadcast(node, lambda a, b: a / b, left, right)
        if isinstance(op, ast.Pow):
            return self.broadcast(node, lambda a, b: self.power(node, a, b), left, right)
        if isinstance(op, ast.MatMult):
            return self.matmul(node, left, right)
        raise self.fail(node, f"operator {_OPERATOR_TEXT.get(type(op), type(op).__name__)} is not allowed")

    def power(self, node: ast.AST, base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
        if exponent.is_Number:
            if base.is_Rational and exponent.is_Rational and not base.is_zero:
                digits = _digits(base) * float(abs(exponent))
                if digits > self.limits.max_digits:
                    raise self.fail(node, f"{self.snippet(node)!r} is a number with about {digits:.3g} digits "
                                    f"(limit {self.limits.max_digits})", "use smaller numbers")
            elif abs(exponent) > self.limits.max_exponent:
                raise self.fail(node, f"exponent {exponent} in {self.snippet(node)!r} is larger than "
                                f"{self.limits.max_exponent}", "use a smaller exponent")
        return base**exponent

    def matmul(self, node: ast.BinOp, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        if left.ndim == 0 or right.ndim == 0:
            raise self.fail(node, f"{self.snippet(node)!r}: @ needs vectors or matrices, found shapes "
                            f"{shape_text(left.shape)} and {shape_text(right.shape)}", "use * to multiply by a scalar")
        if left.ndim > 2 or right.ndim > 2 or left.shape[-1] != right.shape[0]:
            raise self.fail(node, f"{self.snippet(node)!r}: shapes {shape_text(left.shape)} @ "
                            f"{shape_text(right.shape)} do not match for a matrix product",
                            "the last dimension of the left operand must equal the first of the right one")
        terms = left.size * (right.size // right.shape[0])
        if terms > self.limits.max_matmul_terms:
            raise self.fail(node, f"{self.snippet(node)!r} needs {terms} products (limit "
                            f"{self.limits.max_matmul_terms})", "use smaller shapes")
        return matrix_product(left, right)

    def visit_List(self, node: ast.List) -> np.ndarray:
        # An extension of the language: "[a, b]" inside one string builds a vector, as a YAML list would.
        if not node.elts:
            raise self.fail(node, "an empty list is not a value", "write entries, e.g. [x, y]")
        parts = [self.compile(element) for element in node.elts]
        if parts[0].ndim + 1 > _MAX_LIST_DIMENSIONS:
            raise self.fail(node, f"lists nested more than {_MAX_LIST_DIMENSIONS} deep", "use fewer dimensions")
        if len({p.shape for p in parts}) != 1:
            listed = ", ".join(shape_text(p.shape) for p in parts)
            raise self.fail(node, f"the entries of {self.snippet(node)!r} have different shapes: {listed}",
                            "every entry of a list must have the same shape")
        return as_array(np.stack(parts))

    def visit_Attribute(self, node: ast.Attribute) -> np.ndarray:
        if node.attr != "T":
            raise self.fail(node, f"attribute access .{node.attr} is not allowed; only .T (transpose) is")
        return as_array(self.compile(node.value).T)

    def visit_Subscript(self, node: ast.Subscript) -> np.ndarray:
        value = self.compile(node.value)
        raw = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        index = [self.integer(part) for part in raw]
        if len(index) != value.ndim:
            raise self.fail(node, f"{self.snippet(node)!r}: {len(index)} index(es) for a value of shape "
                            f"{shape_text(value.shape)}", f"give {value.ndim} integer index(es)")
        for i, (k, n) in enumerate(zip(index, value.shape)):
            if not -n <= k < n:
                raise self.fail(node, f"{self.snippet(node)!r}: index {k} is out of range for dimension {i} "
                                f"of size {n}", f"use 0 to {n - 1}")
        return as_array(value[tuple(index)])

    def integer(self, node: ast.expr) -> int:
        sign = 1
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            sign, node = -1, node.operand
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return sign * node.value
        raise self.fail(node, f"index {self.snippet(node)!r} is not an integer literal",
                        "indexes are integer literals, e.g. v[0] or A[1, 2]; slices are not supported")

    def visit_Call(self, node: ast.Call) -> np.ndarray:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, f"only named functions can be called, found {self.snippet(node.func)!r}")
        name = node.func.id
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(node, f"{name}(): keyword and * arguments are not allowed", "pass arguments by position")
        if name in self.callees:
            return self.call_declared(node, self.callees[name])
        if name in self.declared_later:
            raise self.fail(node, f"{name} is defined below this function (line {self.declared_later[name]})",
                            f"define {name} above the functions that call it")
        if name == "where":
            return self.where(node)
        if name in REDUCTIONS:
            return self.reduction(node, name, [self.compile(arg) for arg in node.args])
        if name in ELEMENTWISE:
            builtin = ELEMENTWISE[name]
            args = [self.compile(arg) for arg in node.args]
            if name in ("min", "max") and len(args) == 1:
                return as_array(builtin.build(*args[0].reshape(-1)))
            if len(args) not in builtin.arities:
                raise self.fail(node, f"{name} takes {_arity_text(builtin.arities)} argument(s), "
                                f"{len(args)} given", f"usage: {builtin.usage}")
            if builtin.check is not None:
                for values in np.broadcast(*args) if args else []:
                    problem = builtin.check(*values)
                    if problem:
                        raise self.fail(node, problem, f"usage: {builtin.usage}")
            return self.broadcast(node, lambda *a: _build(builtin, a), *args)
        close = difflib.get_close_matches(name, [*self.callees, *ELEMENTWISE, *REDUCTIONS], n=1)
        guess = f"did you mean {close[0]!r}? " if close else ""
        raise self.fail(node, f"unknown function {name!r}", f"{guess}allowed: {ALLOWED}")

    def call_declared(self, node: ast.Call, callee: Callee) -> np.ndarray:
        values = spread(callee, [self.compile(arg) for arg in node.args], self.source.at(node), self.snippet(node))
        if self.call_hook is not None:
            hooked = self.call_hook(callee, values)
            if hooked is not None:
                return hooked
        return callee.apply(values)

    def where(self, node: ast.Call) -> np.ndarray:
        if len(node.args) != 3:
            raise self.fail(node, f"where takes 3 arguments, {len(node.args)} given", "usage: where(condition, a, b)")
        condition = self.condition(node.args[0])
        a, b = self.compile(node.args[1]), self.compile(node.args[2])
        return self.broadcast(node, lambda c, x, y: sympy.Piecewise((x, c), (y, True)), condition, a, b)

    def condition(self, node: ast.expr) -> np.ndarray:
        if not isinstance(node, ast.Compare):
            raise self.fail(node, f"the condition of where must be a comparison, found {self.snippet(node)!r}",
                            "write e.g. where(x > 0, x, -x); comparisons: < <= > >= == !=")
        result: np.ndarray | None = None
        left = self.compile(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.compile(right_node)
            relation = _COMPARISONS[type(op)]
            part = self.broadcast(node, relation, left, right)
            result = part if result is None else self.broadcast(node, sympy.And, result, part)
            left = right
        assert result is not None
        return result

    def visit_Compare(self, node: ast.Compare) -> np.ndarray:
        raise self.fail(node, "comparisons are allowed only as the first argument of where(condition, a, b)")

    def reduction(self, node: ast.Call, name: str, args: list[np.ndarray]) -> np.ndarray:
        def need(count: int) -> None:
            if len(args) != count:
                raise self.fail(node, f"{name} takes {count} argument(s), {len(args)} given",
                                f"usage: {REDUCTIONS[name]}")

        if name == "sum":
            need(1)
            return as_array(sympy.Add(*args[0].reshape(-1)))
        if name == "dot":
            need(2)
            u, v = args
            if u.ndim != 1 or v.shape != u.shape:
                raise self.fail(node, f"dot needs two vectors of one length, found shapes {shape_text(u.shape)} "
                                f"and {shape_text(v.shape)}", "use @ for matrix products")
            return as_array(sympy.Add(*(a * b for a, b in zip(u, v))))
        if name == "norm":
            if len(args) not in (1, 2):
                raise self.fail(node, f"norm takes 1 or 2 arguments, {len(args)} given", f"usage: {REDUCTIONS[name]}")
            order = args[1][()] if len(args) == 2 and args[1].ndim == 0 else None
            if len(args) == 2 and order not in (1, 2):
                raise self.fail(node, f"norm order must be 1 or 2, found {self.snippet(node.args[1])!r}",
                                "norm(v) or norm(v, 2) is the L2 norm, norm(v, 1) the L1 norm")
            entries = args[0].reshape(-1)
            if order == 1:
                return as_array(sympy.Add(*(sympy.Abs(e) for e in entries)))
            return as_array(sympy.sqrt(sympy.Add(*(e**2 for e in entries))))
        if name in ("mean", "prod"):
            need(1)
            entries = args[0].reshape(-1)
            return as_array(sympy.Add(*entries) / len(entries) if name == "mean" else sympy.Mul(*entries))
        if name in ("softmax", "log_softmax", "logsumexp"):
            need(1)
            return self.softmax_family(node, name, args[0])
        if name == "solve":
            need(2)
        else:
            need(1)
        matrix = args[0]
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise self.fail(node, f"{name} needs a square matrix, found shape {shape_text(matrix.shape)}",
                            "pass an n x n matrix")
        if name == "trace":
            return as_array(sympy.Add(*np.diagonal(matrix)))
        return self.dense_matrix(node, name, matrix, args[1] if name == "solve" else None)

    def softmax_family(self, node: ast.Call, name: str, value: np.ndarray) -> np.ndarray:
        """softmax, log_softmax and logsumexp over the last axis, with one stable logsumexp per row."""
        if value.ndim == 0:
            raise self.fail(node, f"{name} needs a vector or a matrix, found a scalar",
                            f"usage: {REDUCTIONS[name]}; e.g. {name}(v) for a shape [n] variable v")
        rows = value.reshape(-1, value.shape[-1])
        out = []
        for row in rows:
            total = logsumexp(*row) if len(row) > 1 else row[0]
            if name == "logsumexp":
                out.append(np.array(total, dtype=object))
            elif name == "log_softmax":
                out.append(np.array([entry - total for entry in row], dtype=object))
            else:
                out.append(np.array([sympy.exp(entry - total) for entry in row], dtype=object))
        shape = value.shape[:-1] if name == "logsumexp" else value.shape
        result = np.empty(len(out) * (1 if name == "logsumexp" else value.shape[-1]), dtype=object)
        result[:] = [e for part in out for e in np.asarray(part, dtype=object).reshape(-1)]
        return result.reshape(shape)

    def dense_matrix(self, node: ast.Call, name: str, matrix: np.ndarray, rhs: np.ndarray | None) -> np.ndarray:
        """det, inv and solve of a small square matrix, expanded symbolically (adjugate over determinant)."""
        size = matrix.shape[0]
        if size > MAX_DENSE_MATRIX:
            raise self.fail(node, f"{name} of a {size} x {size} matrix is too large to expand symbolically",
                            f"det, inv and solve take matrices up to {MAX_DENSE_MATRIX} x {MAX_DENSE_MATRIX}")
        square = sympy.Matrix(matrix.tolist())
        determinant = square.det(method="berkowitz")
        if name == "det":
            return as_array(determinant)
        inverse = square.adjugate() / determinant
        if name == "inv":
            return np.array(inverse.tolist(), dtype=object).reshape(matrix.shape)
        assert rhs is not None
        if rhs.ndim not in (1, 2) or rhs.shape[0] != size:
            raise self.fail(node, f"solve(A, b): b has shape {shape_text(rhs.shape)}, but A is {size} x {size}",
                            f"b must be a vector of length {size} or a matrix with {size} rows")
        solution = inverse * sympy.Matrix(rhs.tolist())
        return np.array(solution.tolist(), dtype=object).reshape(rhs.shape)


def _printable(expr: sympy.Basic, limit: int = 200) -> str:
    try:
        text = str(expr)
    except ValueError:  # an integer over Python's 4300-digit str() limit
        return "an expression with numbers too large to print"
    return text if len(text) <= limit else text[:limit] + "..."


_MAX_LIST_DIMENSIONS = 8
_SMOOTH_EVERYWHERE = frozenset({"sin", "cos", "atan", "sinh", "cosh", "tanh", "asinh", "exp", "erf", "erfc",
                                "sigmoid", "softplus"})
_LONG_SUM = 16
_UNEVALUATED_ON_NUMBERS = frozenset({"gamma", "lgamma", "digamma", "erf", "erfc", "erfinv", "erfcinv", "polygamma"})


def _build(builtin: Any, args: tuple[sympy.Expr, ...]) -> sympy.Expr:
    # gamma(10**6) would be computed exactly (millions of digits): keep special functions of
    # numbers unevaluated; they are evaluated numerically like any other constant.
    if builtin.name in _UNEVALUATED_ON_NUMBERS and all(a.is_Number for a in args):
        return builtin.build(*args, evaluate=False)  # type: ignore[no-any-return]
    # Of a long sum, these functions' evaluation only rewrites the form (moves a sign out, turns
    # exp(a + log(b)) into b exp(a)), yet it asks SymPy's assumptions whether the sum is zero: 30 ms
    # for the 100 terms of a row of W @ x. Unevaluated, the expression is the one written.
    if builtin.name in _SMOOTH_EVERYWHERE and any(isinstance(a, sympy.Add) and len(a.args) >= _LONG_SUM
                                                   for a in args):
        return builtin.build(*args, evaluate=False)  # type: ignore[no-any-return]
    return builtin.build(*args)  # type: ignore[no-any-return]


_OPERATOR_TEXT = {ast.FloorDiv: "//", ast.Mod: "%", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
                  ast.LShift: "<<", ast.RShift: ">>"}


def _arity_text(arities: tuple[int, ...]) -> str:
    if len(arities) == 1:
        return str(arities[0])
    if arities == tuple(range(arities[0], arities[-1] + 1)):
        return f"{arities[0]} to {arities[-1]}"
    return " or ".join(map(str, arities))


def _describe(node: ast.AST) -> str:
    names = {
        ast.Lambda: "a lambda", ast.ListComp: "a comprehension", ast.GeneratorExp: "a generator",
        ast.DictComp: "a comprehension", ast.SetComp: "a comprehension", ast.Dict: "a dict",
        ast.Tuple: "a tuple", ast.Set: "a set", ast.IfExp: "an if-expression",
        ast.BoolOp: "and/or", ast.NamedExpr: "an assignment (:=)", ast.Await: "await",
        ast.Yield: "yield", ast.JoinedStr: "an f-string", ast.Starred: "a * argument", ast.Slice: "a slice",
    }
    return names.get(type(node), type(node).__name__)


def compile_expression(
    source: Source,
    names: Mapping[str, np.ndarray],
    callees: Mapping[str, Callee],
    declared_later: Mapping[str, int] | None = None,
    limits: Limits = LIMITS,
    call_hook: Callable[[Callee, list[np.ndarray]], np.ndarray | None] | None = None,
) -> np.ndarray:
    """Compiles one expression string into an object array of SymPy scalars.

    `names` maps each argument name to its array of symbols; `callees` are the functions declared
    above; `call_hook` may replace a declared call by opaque symbols (used to keep `impl` calls).
    Raises CaseError with file:line:col for anything outside the language or its limits.
    """
    tree = _parse(source, limits)
    compiler = _Compiler(source, names, callees, declared_later or {}, limits, call_hook)
    value = compiler.compile(tree)
    for entry in value.reshape(-1):
        if entry.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            raise CaseError(source.where, f"expression {source.text.strip()!r} is undefined or infinite "
                            f"({_printable(entry)}); is there a division by zero?",
                            "check the constants of the expression")
    return value


@dataclass(frozen=True)
class CallTree:
    """A composition: `callee` applied to `parts`, whose flattened values, concatenated, are its inputs.

    A part is another CallTree (a stage of the chain rule) or an object array (a plain expression).
    """

    callee: str
    parts: tuple[CallTree | np.ndarray, ...]
    value: np.ndarray


def compile_call_tree(
    source: Source,
    names: Mapping[str, np.ndarray],
    callees: Mapping[str, Callee],
    limits: Limits = LIMITS,
) -> CallTree | None:
    """The stages of `source` when it is a call of a declared function (a composition), else None."""
    tree = _parse(source, limits)
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id in callees):
        return None  # not a composition; compiling it again would only repeat compile_expression's work
    compiler = _Compiler(source, names, callees, {}, limits, None)

    def build(node: ast.expr) -> CallTree | np.ndarray:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in callees:
            callee = callees[node.func.id]
            parts = tuple(build(arg) for arg in node.args)
            values = [part.value if isinstance(part, CallTree) else part for part in parts]
            spread_values = spread(callee, values, source.at(node), compiler.snippet(node))
            return CallTree(callee.name, parts, callee.apply(spread_values))
        return compiler.compile(node)

    root = build(tree)
    return root if isinstance(root, CallTree) else None
