"""Exact derivatives with SymPy: Jacobians, gradients, Hessians and chain-rule products of any depth."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import sympy

from verify.cache import DerivationCache
from verify.expr import CallTree
from verify.model import CompiledFunction, Model, derivative_shape

__all__ = ["SymbolicEngine", "jacobian_of"]


def jacobian_of(entries: np.ndarray, symbols: Sequence[sympy.Symbol]) -> np.ndarray:
    """The (outputs x inputs) Jacobian of `entries` (any shape, flattened in C order).

    SymEngine derives it where it gives SymPy's result (see verify.engines.fast), SymPy elsewhere.
    """
    from verify.engines import fast

    flat = np.asarray(entries, dtype=object).reshape(-1)
    out = np.empty((flat.size, len(symbols)), dtype=object)
    rows = fast.jacobian_rows(list(flat), symbols)
    for i, entry in enumerate(flat):
        row = rows[i] if rows is not None else None
        if row is not None:
            out[i, :] = row
            continue
        free = entry.free_symbols
        differentiable = _as_real(entry)
        for j, symbol in enumerate(symbols):
            out[i, j] = sympy.diff(differentiable, symbol) if symbol in free else sympy.S.Zero
    return out


def _as_real(expr: sympy.Expr) -> sympy.Expr:
    """`expr` with abs(u) and sign(u) of a u SymPy cannot prove real written as sqrt(u**2), u/sqrt(u**2).

    verify only compares where values are real, and there these are equal; but SymPy
    differentiates abs and sign of a possibly complex u through re(u) and im(u), leaving
    derivatives unevaluated. Written this way the derivative is sign(u)*u' (and 0 for sign),
    with a 0/0 at u = 0 that excludes the kink, as for a real u.
    """
    if not expr.has(sympy.Abs, sympy.sign):
        return expr

    def not_real(node: sympy.Basic) -> bool:
        return isinstance(node, (sympy.Abs, sympy.sign)) and node.args[0].is_extended_real is not True

    def rewrite(node: sympy.Basic) -> sympy.Expr:
        u = node.args[0]
        root = sympy.sqrt(u**2)
        return root if isinstance(node, sympy.Abs) else u / root

    return expr.replace(not_real, rewrite)


# Seconds per expression node to read a stored derivation back (JSON, checksum, SymPy objects built
# node by node), measured by benchmarks/cache.py: SymEngine derives tanh(W @ x) Jacobians 2 to 3
# times faster than they are read, so those are not stored at all.
READ_S_PER_NODE = 1.5e-6
_SAMPLE = 16


def estimated_read_s(derivative: np.ndarray) -> float:
    """What reading `derivative` back from the disk cache would cost, from the size of a sample of entries."""
    flat = derivative.reshape(-1)
    if flat.size == 0:
        return 0.0
    step = max(1, flat.size // _SAMPLE)
    sample = flat[::step][:_SAMPLE]
    nodes = sum(_nodes(e) for e in sample) / len(sample)
    return nodes * flat.size * READ_S_PER_NODE


def _nodes(expr: sympy.Basic) -> int:
    count, stack = 0, [expr]
    while stack:
        node = stack.pop()
        count += 1
        stack.extend(node.args)
    return count


class SymbolicEngine:
    """Derives the exact derivatives of one model's functions, each once."""

    def __init__(self, model: Model, disk: DerivationCache | None = None,
                 validate: Callable[[str, str, np.ndarray], bool | None] | None = None) -> None:
        self.model = model
        self.disk = disk
        # (function, kind, derivative) -> whether a cached derivative is right (None: no point decides it)
        self.validate = validate
        self.from_disk: set[tuple[str, str]] = set()  # derivations read from the cache and validated
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def _cached(self, key: tuple[str, str], make: Callable[[], np.ndarray]) -> np.ndarray:
        """A derivation, from memory, else from the disk cache, else made (and stored on disk only when
        making it took longer than reading it back would: see estimated_read_s)."""
        if key not in self._cache:
            value = None
            if self.disk is not None:
                function = self.model.functions[key[0]]
                value = self.disk.load_array("|".join(key), {s.name: s for s in function.flat_symbols})
                checked = (None if value is None or self.validate is None
                           else self.validate(key[0], key[1], value))
                if checked is False:
                    from verify.cache import warn

                    warn(f"cached {key[1]} of {key[0]} does not match the function's derivative at a sample point")
                if checked is True:
                    self.from_disk.add(key)
                elif value is not None and self.validate is not None:
                    value = None  # not shown right (no sample point decides it): derived again, as if not cached
            if value is None:
                start = time.perf_counter()
                value = make()
                took = time.perf_counter() - start
                if self.disk is not None and took > estimated_read_s(value):
                    self.disk.store_array("|".join(key), value)
            value.flags.writeable = False
            self._cache[key] = value
        return self._cache[key]

    def value(self, function: CompiledFunction) -> np.ndarray:
        """The function's entries, shaped (outputs,)."""
        return function.entries.reshape(-1)

    def jacobian(self, function: CompiledFunction) -> np.ndarray:
        """The exact (outputs x inputs) Jacobian."""
        return self._cached((function.name, "jacobian"), lambda: jacobian_of(function.entries, function.flat_symbols))

    def gradient(self, function: CompiledFunction) -> np.ndarray:
        """The exact gradient of a scalar function, shaped (inputs,)."""
        return self.jacobian(function).reshape(-1)

    def hessian(self, function: CompiledFunction) -> np.ndarray:
        """The exact Hessian: (inputs x inputs) for a scalar function, (outputs x inputs x inputs) otherwise."""
        return self._cached((function.name, "hessian"), lambda: jacobian_of(
            self.gradient(function), function.flat_symbols).reshape(derivative_shape("hessian", function)))

    def chain_product(self, function: CompiledFunction) -> np.ndarray:
        """J_F(G(x)) . J_G(x) . ... for a composition, each stage's Jacobian at its own inputs."""
        tree = function.call_tree
        assert tree is not None, f"{function.name} is not a composition"
        return self._cached((function.name, "chain_product"), lambda: self._tree_jacobian(tree, function.flat_symbols))

    def _tree_jacobian(self, tree: CallTree | np.ndarray, symbols: list[sympy.Symbol]) -> np.ndarray:
        if not isinstance(tree, CallTree):
            return jacobian_of(tree, symbols)
        callee = self.model.functions[tree.callee]
        inner = [self._tree_jacobian(part, symbols) for part in tree.parts]
        inner_values = [v for part in tree.parts
                        for v in (part.value if isinstance(part, CallTree) else part).reshape(-1)]
        at_inputs = dict(zip(callee.flat_symbols, inner_values))
        outer = self.jacobian(callee)
        outer_at = np.empty(outer.shape, dtype=object)
        for index in np.ndindex(*outer.shape):
            outer_at[index] = sympy.sympify(outer[index]).xreplace(at_inputs)
        stacked = np.concatenate(inner, axis=0) if inner else np.empty((0, len(symbols)), dtype=object)
        product = np.empty((outer.shape[0], len(symbols)), dtype=object)
        for i in range(outer.shape[0]):
            for j in range(len(symbols)):
                product[i, j] = sympy.Add(*(outer_at[i, k] * stacked[k, j] for k in range(stacked.shape[0])
                                            if outer_at[i, k] != 0 and stacked[k, j] != 0))
        return product
