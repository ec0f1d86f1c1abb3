"""SymPy entries -> one generated Python/torch function: whole-vector operations, built once per function.

The torch engine differentiates a plain torch program, so the program should look like one a
person would write: `tanh(W @ x)`, not 24 x 24 scalar products. `lower` reads a function's
entries (a flat list of SymPy scalars) and emits Python source once, like SymPy's printers do:

* entries that share a head become one vectorised operation (`torch.tanh(t3)` over a block);
* sums of products become gathers, a multiply and a `sum(-1)`; a dense product of a matrix
  block and a shared vector becomes `A @ b`, a linear map with constant coefficients `C @ u`;
* input symbols become slices (views) of the point vector where they are contiguous;
* every distinct subexpression (and every distinct block of them) is computed once, as a
  temporary;
* numbers become tensors of the check's dtype and device, and index arrays long tensors, made
  when the program is bound, outside any torch.func transform.

The source is compiled once (`Program.code`) and bound per dtype and device (`Program.bind`):
no SymPy is walked when the function runs. Deliberately independent of the certified reference
(verify.engines.certified): they share the SymPy expressions and nothing else.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

__all__ = ["ImplSource", "Program", "lower"]

WIDE = 4  # a single sum with at least this many terms is lowered as one gather-multiply-sum
SPLIT_OVER = 8  # single entries of an input longer than this are taken from one `split(1)`
DENSE = 0.25  # a linear map is a dense `C @ u` when at least this share of C is non-zero


@dataclass(frozen=True)
class ImplSource:
    """A call of a function with an `impl`: its name, argument entries and shapes, and result symbols."""

    function: str
    args: tuple[tuple[tuple[sympy.Basic, ...], tuple[int, ...]], ...]
    result: tuple[sympy.Symbol, ...]


@dataclass
class Program:
    """Generated source for one function, compiled once; `bind` makes the callable for a dtype and device."""

    source: str
    constants: dict[str, tuple[tuple[float, ...], tuple[int, ...]]] = field(default_factory=dict)
    booleans: dict[str, tuple[tuple[bool, ...], tuple[int, ...]]] = field(default_factory=dict)
    indices: dict[str, np.ndarray] = field(default_factory=dict)
    heads: dict[str, type] = field(default_factory=dict)
    code: Any = None

    def __post_init__(self) -> None:
        self.code = compile(self.source, "<verify lowered program>", "exec")

    def bind(self, dtype: Any, device: str, table: Mapping[type, Callable[..., Any]],
             call_impl: Callable[[str, list[Any]], Any] | None = None) -> Callable[[Any], Any]:
        """The program as a function of one point's flat input (n,) -> flat output (m,).

        Constants are created here, outside any transform: a tensor created inside a transform
        and kept for a later call would belong to a transform level that no longer exists.
        """
        import torch

        namespace: dict[str, Any] = {"torch": torch, "_impl": call_impl}
        for name, (values, shape) in self.constants.items():
            namespace[name] = torch.tensor(values, dtype=dtype, device=device).reshape(shape)
        for name, (flags, shape) in self.booleans.items():
            namespace[name] = torch.tensor(flags, dtype=torch.bool, device=device).reshape(shape)
        for name, index in self.indices.items():
            namespace[name] = torch.as_tensor(index, dtype=torch.long, device=device)
        for name, head in self.heads.items():
            namespace[name] = _resolve(table[head])
        exec(self.code, namespace)  # noqa: S102 - our own generated source: names are temporaries, never user text
        return namespace["lowered"]  # type: ignore[no-any-return]


def _resolve(op: Callable[..., Any]) -> Callable[..., Any]:
    """A table entry that names a torch function (`torch_path`) as that function, saving a lookup per call."""
    path = getattr(op, "torch_path", None)
    if path is None:
        return op
    import torch

    target: Any = torch
    for part in path.split("."):
        target = getattr(target, part)
    return target  # type: ignore[no-any-return]


def _number(value: sympy.Basic) -> float:
    try:
        return float(value)
    except OverflowError:  # an exact constant beyond float range, e.g. 10**600
        return float("inf") if value > 0 else float("-inf")
    except TypeError:  # pragma: no cover - a number SymPy cannot make a float of
        return float("nan")


def _is_constant(expr: sympy.Basic) -> bool:
    return bool(expr.is_Number or expr.is_NumberSymbol)


class _Emitter:
    """Emits the statements of one program; every method returns the name of a tensor it defined."""

    def __init__(self, inputs: Sequence[sympy.Symbol], impls: Sequence[ImplSource],
                 table: Mapping[type, Callable[..., Any]]) -> None:
        self.table = table
        self.lines: list[str] = []
        self.constants: dict[str, tuple[tuple[float, ...], tuple[int, ...]]] = {}
        self.booleans: dict[str, tuple[tuple[bool, ...], tuple[int, ...]]] = {}
        self.indices: dict[str, np.ndarray] = {}
        self.heads: dict[str, type] = {}
        self._head_names: dict[type, str] = {}
        self._constant_names: dict[tuple[tuple[float, ...], tuple[int, ...]], str] = {}
        self._index_names: dict[tuple[tuple[int, ...], bytes], str] = {}
        self._memo: dict[tuple[sympy.Basic, ...], str] = {}
        self._padded: dict[str, str] = {}
        self._split: dict[str, str] = {}
        self._count = 0
        # where each symbol lives: (source tensor's name, position, source length); sources are the
        # point vector `z` and each impl call's flat result `_r<k>`
        self.where: dict[sympy.Basic, tuple[str, int, int]] = {s: ("z", i, len(inputs)) for i, s in enumerate(inputs)}
        self.order: dict[sympy.Basic, int] = {s: i for i, s in enumerate(inputs)}
        for k, call in enumerate(impls):
            for i, s in enumerate(call.result):
                self.where[s] = (f"_r{k}", i, len(call.result))
                self.order[s] = len(self.order)
        self._anchors: dict[sympy.Basic, int] = {}

    # -- names ------------------------------------------------------------------------------
    def fresh(self, prefix: str = "t") -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def emit(self, expression: str) -> str:
        name = self.fresh()
        self.lines.append(f"    {name} = {expression}")
        return name

    def constant(self, values: Sequence[float], shape: tuple[int, ...]) -> str:
        key = (tuple(values), shape)
        if key not in self._constant_names:
            name = f"_c{len(self.constants)}"
            self.constants[name] = key
            self._constant_names[key] = name
        return self._constant_names[key]

    def boolean(self, values: Sequence[bool]) -> str:
        name = f"_b{len(self.booleans)}"
        self.booleans[name] = (tuple(values), (len(values),))
        return name

    def index(self, array: np.ndarray) -> str:
        array = np.ascontiguousarray(array, dtype=np.int64)
        key = (array.shape, array.tobytes())
        if key not in self._index_names:
            name = f"_i{len(self.indices)}"
            self.indices[name] = array
            self._index_names[key] = name
        return self._index_names[key]

    def head(self, head: type) -> str:
        if head not in self._head_names:
            if head not in self.table:
                raise NotImplementedError(f"no torch lowering for {head.__name__}")
            name = f"_f{len(self.heads)}_{head.__name__}"
            self.heads[name] = head
            self._head_names[head] = name
        return self._head_names[head]

    # -- taking entries of a vector ---------------------------------------------------------
    def take(self, vector: str, length: int, index: np.ndarray) -> str:
        """Entries `index` of the vector `vector` of `length`: a view where the index allows one.

        A 2-d index whose rows are all equal gives its one row (it broadcasts against the others).
        """
        index = np.asarray(index, dtype=np.int64)
        if index.ndim == 2:
            if index.shape[0] == 1 or (index == index[0]).all():
                return self.take(vector, length, index[0])
            flat = index.reshape(-1)
            if _is_range(flat):
                start = int(flat[0])
                part = vector if start == 0 and flat.size == length else f"{vector}[{start}:{start + flat.size}]"
                return self.emit(f"{part}.reshape({index.shape[0]}, {index.shape[1]})")
            return self.emit(f"{vector}[{self.index(index)}]")
        if index.size == length and _is_range(index) and index[0] == 0:
            return vector
        if index.size > 1 and (index == index[0]).all():  # one entry, repeated: a broadcast view
            one = vector if length == 1 else self.take(vector, length, index[:1])
            return self.emit(f"{one}.expand({index.size})")
        if index.size == 1:
            i = int(index[0])
            if length > SPLIT_OVER and (vector == "z" or vector.startswith("_r")):
                if vector not in self._split:
                    self._split[vector] = self.emit(f"{vector}.split(1)")
                return f"{self._split[vector]}[{i}]"
            return self.emit(f"{vector}[{i}:{i + 1}]")
        if _is_range(index):
            return self.emit(f"{vector}[{int(index[0])}:{int(index[-1]) + 1}]")
        step = int(index[1] - index[0]) if index.size > 1 else 0
        if step > 0 and (np.diff(index) == step).all():
            return self.emit(f"{vector}[{int(index[0])}:{int(index[-1]) + 1}:{step}]")
        return self.emit(f"{vector}[{self.index(index)}]")

    def padded(self, vector: str) -> str:
        """`vector` with a 1 appended: the slot that padding entries of a gather point to."""
        if vector not in self._padded:
            self._padded[vector] = self.emit(f"torch.cat([{vector}, {self.constant([1.0], (1,))}])")
        return self._padded[vector]

    # -- ordering ---------------------------------------------------------------------------
    def anchor(self, expr: sympy.Basic) -> int:
        """The position of the first input an expression reads (-1 for constants): blocks of
        distinct subexpressions are ordered by it, so that they line up with the inputs' order."""
        hit = self._anchors.get(expr)
        if hit is not None:
            return hit
        if expr in self.order:
            value = self.order[expr]
        elif not expr.args:
            value = -1
        else:
            value = min((self.anchor(a) for a in expr.args), default=-1)
            value = value if value >= 0 else max((self.anchor(a) for a in expr.args), default=-1)
        self._anchors[expr] = value
        return value

    def uniques(self, exprs: Sequence[sympy.Basic]) -> tuple[list[sympy.Basic], np.ndarray]:
        """The distinct entries of `exprs`, ordered by anchor, and each entry's position among them."""
        first: dict[sympy.Basic, int] = {}
        for e in exprs:
            first.setdefault(e, len(first))
        kinds: dict[Any, int] = {}  # entries of one kind stay together: they become one block
        kind = {e: kinds.setdefault(_signature(e, self.where), len(kinds)) for e in first}
        ordered = sorted(first, key=lambda e: (kind[e], self.anchor(e), first[e]))
        position = {e: i for i, e in enumerate(ordered)}
        return ordered, np.fromiter((position[e] for e in exprs), dtype=np.int64, count=len(exprs))

    def gathered(self, exprs: Sequence[sympy.Basic]) -> tuple[str, int, np.ndarray]:
        """(vector of the distinct entries, its length, index of each entry in it)."""
        ordered, index = self.uniques(exprs)
        return self.vector(tuple(ordered)), len(ordered), index

    # -- blocks -----------------------------------------------------------------------------
    def vector(self, exprs: tuple[sympy.Basic, ...]) -> str:
        """A tensor of shape (len(exprs),) holding the entries' values."""
        hit = self._memo.get(exprs)
        if hit is not None:
            return hit
        name = self._vector(exprs)
        self._memo[exprs] = name
        return name

    def _vector(self, exprs: tuple[sympy.Basic, ...]) -> str:
        n = len(exprs)
        if all(_is_constant(e) for e in exprs):
            return self.constant([_number(e) for e in exprs], (n,))
        if all(isinstance(e, sympy.logic.boolalg.BooleanAtom) for e in exprs):
            return self.boolean([bool(e) for e in exprs])
        if n > 1:
            ordered, index = self.uniques(exprs)
            if len(ordered) < n:
                return self.take(self.vector(tuple(ordered)), len(ordered), index)
        if all(e in self.where for e in exprs):
            sources = {self.where[e][0] for e in exprs}
            if len(sources) == 1:
                source, _, length = self.where[exprs[0]]
                return self.take(source, length, np.array([self.where[e][1] for e in exprs]))
        groups: dict[Any, list[int]] = {}
        for i, e in enumerate(exprs):
            groups.setdefault(_signature(e, self.where), []).append(i)
        if len(groups) > 1:
            scaled = [_scaled(e) for e in exprs]
            if len({_signature(core, self.where) for _, core in scaled}) == 1:
                # [tanh(a), -tanh(b)] (SymPy moves signs out of odd functions): one block, times constants
                weights = self.constant([_number(c) for c, _ in scaled], (n,))
                return self.emit(f"{weights} * {self.vector(tuple(core for _, core in scaled))}")
            return self.assemble(exprs, list(groups.values()))
        return self.block(exprs, next(iter(groups)))

    def assemble(self, exprs: tuple[sympy.Basic, ...], groups: list[list[int]]) -> str:
        """Blocks of different kinds, each lowered as one vector, concatenated in the entries' order."""
        parts = [self.vector(tuple(exprs[i] for i in group)) for group in groups]
        where = np.empty(len(exprs), dtype=np.int64)
        offset = 0
        for group in groups:
            where[group] = np.arange(offset, offset + len(group))
            offset += len(group)
        whole = self.emit(f"torch.cat([{', '.join(parts)}])")
        return self.take(whole, len(exprs), where)

    def block(self, exprs: tuple[sympy.Basic, ...], signature: Any) -> str:
        """Entries that all have one head (`signature`): one operation over vectors of their arguments."""
        kind = signature[0]
        if kind == "sym":  # symbols of several sources
            groups: dict[str, list[int]] = {}
            for i, e in enumerate(exprs):
                groups.setdefault(self.where[e][0], []).append(i)
            return self.assemble(exprs, list(groups.values()))
        if kind == "sum":
            return self.sums(exprs)
        if kind == "pow":
            return self.power(exprs, signature[1])
        if kind == "piecewise":
            return self.piecewise(exprs)
        if kind == "order":  # polygamma(n, x), besseli(n, x): the order is a Python integer
            x = self.vector(tuple(e.args[1] for e in exprs))
            return self.emit(f"{self.head(signature[1])}({signature[2]}, {x})")
        head, arity = signature[1], signature[2]
        args = [self.vector(tuple(e.args[q] for e in exprs)) for q in range(arity)]
        return self.emit(f"{self.head(head)}({', '.join(args)})")

    def power(self, exprs: tuple[sympy.Basic, ...], exponent: sympy.Basic | None) -> str:
        base = self.vector(tuple(e.args[0] for e in exprs))
        if exponent is None:
            power = self.vector(tuple(e.args[1] for e in exprs))
            if all(e.args[0] is sympy.E for e in exprs):
                return self.emit(f"torch.exp({power})")
            return self.emit(f"torch.pow({base}, {power})")
        if exponent == sympy.Rational(1, 2):
            return self.emit(f"torch.sqrt({base})")
        if exponent == sympy.Rational(-1, 2):
            return self.emit(f"torch.rsqrt({base})")
        if exponent == -1:
            return self.emit(f"torch.reciprocal({base})")
        if exponent.is_Integer:
            return self.emit(f"torch.pow({base}, {int(exponent)})")
        return self.emit(f"torch.pow({base}, {self.constant([_number(exponent)], ())})")

    def piecewise(self, exprs: tuple[sympy.Basic, ...]) -> str:
        pairs = len(exprs[0].args)
        result = self.vector(tuple(e.args[-1][0] for e in exprs))
        for q in reversed(range(pairs - 1)):
            conditions = tuple(e.args[q][1] for e in exprs)
            value = self.vector(tuple(e.args[q][0] for e in exprs))
            if all(c is sympy.true for c in conditions):
                result = value
                continue
            result = self.emit(f"torch.where({self.vector(conditions)}, {value}, {result})")
        return result

    # -- sums of products -------------------------------------------------------------------
    def sums(self, exprs: tuple[sympy.Basic, ...]) -> str:
        """Entries that are sums (or products): constant part + one gather-multiply-sum per factor count."""
        rows = [_terms(e) for e in exprs]
        n = len(exprs)
        if n == 1 and len(rows[0]) < WIDE:
            return self.chain(rows[0])
        profiles: dict[frozenset[int], list[int]] = {}  # rows by the factor counts of their terms
        for i, row in enumerate(rows):
            profiles.setdefault(frozenset(len(f) for _, f in row if f), []).append(i)
        if len(profiles) > 1:  # e.g. [u**2 + v, u*v]: unlike rows are lowered apart, not padded into one
            return self.assemble(exprs, list(profiles.values()))
        offsets = [sum((_number(c) for c, f in row if not f), 0.0) for row in rows]
        by_count: dict[int, list[list[tuple[sympy.Basic, tuple[sympy.Basic, ...]]]]] = {}
        for i, row in enumerate(rows):
            for coefficient, factors in row:
                if factors:
                    by_count.setdefault(len(factors), [[] for _ in range(n)])[i].append((coefficient, factors))
        parts = [self.products(p, by_count[p]) for p in sorted(by_count)]
        if any(offsets):
            parts.append(self.constant(offsets, (n,)))
        return parts[0] if len(parts) == 1 else self.emit(" + ".join(parts))

    def chain(self, terms: list[tuple[sympy.Basic, tuple[sympy.Basic, ...]]]) -> str:
        """A short sum (or a product) of one entry, written out: `t1 * t2 - t3`."""
        text = ""
        for coefficient, factors in terms:
            if not factors:
                piece, sign = self.constant([abs(_number(coefficient))], ()), "-" if coefficient < 0 else "+"
            else:
                product = self.product([self.factor(f) for f in factors])
                if abs(coefficient) == 1:
                    piece = product
                else:
                    piece = f"{self.constant([abs(_number(coefficient))], ())} * {product}"
                sign = "-" if coefficient < 0 else "+"
            text = (f"-{piece}" if sign == "-" else piece) if not text else f"{text} {sign} {piece}"
        return self.emit(text)

    def factor(self, expr: sympy.Basic) -> tuple[str, bool]:
        """A factor of a product as (vector, whether it divides): x**-1 divides by x."""
        if isinstance(expr, sympy.Pow) and expr.args[1] == -1:
            return self.vector((expr.args[0],)), True
        return self.vector((expr,)), False

    @staticmethod
    def product(factors: list[tuple[str, bool]]) -> str:
        text = ""
        for name, divides in factors:
            if not text:
                text = name if not divides else f"1 / {name}"
            else:
                text = f"{text} {'/' if divides else '*'} {name}"
        return text

    def products(self, p: int, rows: list[list[tuple[sympy.Basic, tuple[sympy.Basic, ...]]]]) -> str:
        """Sum over each row's terms c * f_1 * ... * f_p: as gathers of the distinct factors at each
        position, a multiply and a sum; as `C @ u` (constant coefficients) or `A @ b` where it is one."""
        n = len(rows)
        counts = [len(row) for row in rows]
        k = max(counts)
        slots = [(i, t) for i, row in enumerate(rows) for t in range(len(row))]
        positions = []
        for q in range(p):
            factors = [rows[i][t][1][q] for i, t in slots]
            divides = all(isinstance(f, sympy.Pow) and f.args[1] == -1 for f in factors)
            if divides:
                factors = [f.args[0] for f in factors]
            vector, length, index = self.gathered(factors)
            positions.append((vector, length, index, divides))
        coefficients = np.array([_number(rows[i][t][0]) for i, t in slots])
        if p == 1 and not positions[0][3] and positions[0][1] * n * DENSE <= len(slots) and k > 1:
            vector, length, index, _ = positions[0]
            dense = np.zeros((n, length))
            np.add.at(dense, (np.array([i for i, _ in slots], dtype=np.int64), index), coefficients)
            return self.emit(f"{self.constant(list(dense.reshape(-1)), (n, length))} @ {vector}")
        # within each row, order the terms by the position with the fewest distinct factors (the
        # shared vector of a matrix product), so that equal rows of indices line up
        shared = min(range(p), key=lambda q: positions[q][1])
        order = sorted(range(len(slots)), key=lambda s: (slots[s][0], positions[shared][2][s]))
        padded = min(counts) < k
        column = np.zeros(len(slots), dtype=np.int64)
        seen = [0] * n
        for s in order:
            i = slots[s][0]
            column[s] = seen[i]
            seen[i] += 1
        rows_of = np.array([i for i, _ in slots], dtype=np.int64)
        c_grid = np.zeros((n, k))
        c_grid[rows_of, column] = coefficients
        unit = bool((coefficients == 1).all()) and not padded
        taken, grids = [], []
        for vector, length, index, divides in positions:
            grid = np.full((n, k), length, dtype=np.int64)  # padding points to the appended 1
            grid[rows_of, column] = index
            grids.append(grid)
            source = self.padded(vector) if padded else vector
            taken.append((self.take(source, length + padded, grid[:, 0] if k == 1 else grid), divides))
        if k == 1:
            product = self.product(taken)
            if unit:
                return self.emit(product)
            c = c_grid[:, 0]
            if (c == -1).all():
                return self.emit(f"-({product})")
            weight = self.constant([c[0]], ()) if (c == c[0]).all() else self.constant(list(c), (n,))
            return self.emit(f"{weight} * {product}")
        if p == 2 and n > 1 and unit and not any(d for _, d in taken):
            other = 1 - shared
            shared_rows_equal = bool((grids[shared] == grids[shared][0]).all())
            other_rows_equal = bool((grids[other] == grids[other][0]).all())
            if shared_rows_equal and not other_rows_equal:  # A (n, k) @ b (k,): a matrix product
                return self.emit(f"{taken[other][0]} @ {taken[shared][0]}")
        product = self.product(taken)
        if not unit:
            weights = c_grid[0] if n == 1 else c_grid
            product = f"{self.constant(list(weights.reshape(-1)), weights.shape)} * {product}"
        if n == 1:
            return self.emit(f"({product}).sum(-1, keepdim=True)")
        return self.emit(f"({product}).sum(-1)")


def _is_range(index: np.ndarray) -> bool:
    return bool(index.size > 0 and (np.diff(index) == 1).all())


def _terms(expr: sympy.Basic) -> list[tuple[sympy.Basic, tuple[sympy.Basic, ...]]]:
    """A sum's terms as (numeric coefficient, non-numeric factors); a product is one term."""
    out: list[tuple[sympy.Basic, tuple[sympy.Basic, ...]]] = []
    for term in (expr.args if isinstance(expr, sympy.Add) else (expr,)):
        if term.is_Number:
            out.append((term, ()))
        elif isinstance(term, sympy.Mul):
            numbers = [a for a in term.args if a.is_Number]
            out.append((sympy.Mul(*numbers), tuple(a for a in term.args if not a.is_Number)))
        else:
            out.append((sympy.S.One, (term,)))
    return out


_INTEGER_ORDER = (sympy.polygamma, sympy.besseli)  # heads whose first argument is an integer order


def _scaled(expr: sympy.Basic) -> tuple[sympy.Basic, sympy.Basic]:
    """`expr` as (number, the rest) when it is a number times one factor, else (1, expr)."""
    if isinstance(expr, sympy.Mul) and len(expr.args) == 2 and expr.args[0].is_Number:
        return expr.args[0], expr.args[1]
    return sympy.S.One, expr


def _signature(expr: sympy.Basic, where: Mapping[sympy.Basic, Any]) -> Any:
    """What must be equal for entries to be lowered as one vector operation."""
    if _is_constant(expr):
        return ("constant",)
    if isinstance(expr, sympy.logic.boolalg.BooleanAtom):
        return ("boolean",)
    if expr in where:
        return ("sym",)
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        return ("sum",)
    if isinstance(expr, sympy.Pow):
        base, exponent = expr.args
        return ("pow", exponent if exponent.is_Number and base is not sympy.E else None)
    if isinstance(expr, sympy.Piecewise):
        return ("piecewise", len(expr.args))
    if isinstance(expr, _INTEGER_ORDER) and expr.args[0].is_Integer:
        return ("order", type(expr), int(expr.args[0]))
    if isinstance(expr, sympy.Symbol):
        raise NotImplementedError(f"symbol {expr} is not an input of this function")
    return ("head", type(expr), len(expr.args))


@contextmanager
def _deep_recursion(limit: int = 20_000) -> Any:
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(max(saved, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(saved)


def lower(entries: Sequence[sympy.Basic], inputs: Sequence[sympy.Symbol], table: Mapping[type, Callable[..., Any]],
          impls: Sequence[ImplSource] = ()) -> Program:
    """The program computing `entries` (flat) from the flat vector of `inputs`, and from `impls`' results.

    Every impl call runs, in order, before the entries; its arguments are lowered like entries.
    Raises NotImplementedError for a head `table` has no entry for.
    """
    emitter = _Emitter(inputs, impls, table)
    with _deep_recursion():
        for k, call in enumerate(impls):
            arguments = []
            for values, shape in call.args:
                flat = emitter.vector(tuple(values)) if values else emitter.constant([], (0,))
                arguments.append(f"{flat}.reshape({shape!r})")
            emitter.lines.append(f"    _r{k} = _impl({call.function!r}, [{', '.join(arguments)}])")
        if not entries:
            result = "z.new_zeros((0,))"
        else:
            result = emitter.vector(tuple(entries))
            if result in emitter.constants or result in emitter.booleans:
                result = f"{result}.clone()"  # never hand out the program's own constant
    source = "\n".join(["def lowered(z):", *emitter.lines, f"    return {result}", ""])
    return Program(source, emitter.constants, emitter.booleans, emitter.indices, emitter.heads)
