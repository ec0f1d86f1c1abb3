"""Column groups for forward-mode Jacobians of sparse functions: one tangent per group, not per input.

Inputs whose columns of the Jacobian can be nonzero only in different rows share one tangent:
torch's jvp along the sum of their unit vectors gives each column in its own rows (Curtis,
Powell and Reid, 1974). For tanh(W @ x), W 100 x 100, the 10,000 columns of W fall into 100
groups (W[i, j] reaches output i only), and the 100 of x are one group each: 200 tangents
instead of 10,100.

The pattern is structural and taken from the function itself, not from the symbolic engine:
output i can depend on input j only where j is a free symbol of entry i. A value torch puts
where the pattern says zero is not lost: it adds to the entry of the same row whose column
shares its tangent (a mismatch there), or, where the row has no such entry, it is reported at
an entry the exact Jacobian has zero (a mismatch too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import sympy

from verify.case import Tolerance
from verify.compare import Agreement, agree

__all__ = ["ColumnGroups", "column_groups"]

@dataclass(frozen=True)
class ColumnGroups:
    """Which tangent each input belongs to, and where each group's results go in the Jacobian."""

    n_outputs: int
    n_inputs: int
    group: np.ndarray  # (n_inputs,) the tangent of each input
    rows: np.ndarray  # (k,) output, input and group of every place the compressed results fill
    columns: np.ndarray
    groups: np.ndarray
    grouped: bool = True  # False: one tangent per input (the unit vectors), nothing to expand

    @classmethod
    def identity(cls, n_outputs: int, n_inputs: int) -> ColumnGroups:
        """One tangent per input, as jacfwd has."""
        empty = np.zeros(0, dtype=np.intp)
        return cls(n_outputs, n_inputs, np.arange(n_inputs, dtype=np.intp), empty, empty, empty, grouped=False)

    @property
    def n_groups(self) -> int:
        return int(self.group.max()) + 1 if self.group.size else 0

    def describe(self) -> str:
        """The evidence line: how torch's forward mode was run."""
        if not self.grouped:
            return "vmap"
        return (f"forward mode along {self.n_groups} tangents for {self.n_inputs} inputs (inputs that reach "
                f"different outputs share a tangent)")

    def agree(self, compressed: np.ndarray, reference: np.ndarray, tolerance: Tolerance,
              defined: np.ndarray | None = None) -> Agreement:
        """`verify.compare.agree` of the expanded Jacobians with `reference` (B, *out, n_inputs), without expanding.

        Every result along a tangent is compared with the exact entry it stands for; the other
        entries are 0 in both (the reference's by the pattern, the expansion's by construction),
        so counts, maxima and the worst entry are those of the dense comparison.
        """
        batch = reference.shape[0]
        exact = reference.reshape(batch, self.n_outputs * self.n_inputs)[:, self.rows * self.n_inputs + self.columns]
        got = compressed.reshape(batch, -1)[:, self.rows * self.n_groups + self.groups]
        found = agree(got, exact, tolerance, defined)
        worst = found.worst_entry
        if worst is not None:
            (slot,) = worst
            flat = int(self.rows[slot]) * self.n_inputs + int(self.columns[slot])
            worst = tuple(int(i) for i in np.unravel_index(flat, reference.shape[1:]))
        return replace(found, entries=found.points * self.n_outputs * self.n_inputs, worst_entry=worst)

    def expand(self, compressed: np.ndarray) -> np.ndarray:
        """The Jacobians (B, n_outputs, n_inputs) from torch's results along the tangents (B, n_outputs, n_groups)."""
        if not self.grouped:
            return compressed
        batch = compressed.shape[0]
        out = np.zeros((batch, self.n_outputs * self.n_inputs), dtype=compressed.dtype)
        source = compressed.reshape(batch, -1)
        for point in range(batch):  # one point at a time: flat indices, no 3-d fancy indexing
            out[point, self.rows * self.n_inputs + self.columns] = source[point, self.rows * self.n_groups + self.groups]
        return out.reshape(batch, self.n_outputs, self.n_inputs)


def column_groups(entries: Sequence[sympy.Basic], symbols: Sequence[sympy.Symbol],
                  at_most: float = 0.5) -> ColumnGroups | None:
    """Groups of the inputs `symbols` for the outputs `entries`, or None when they would number
    more than `at_most` of the inputs (by default, grouping must at least halve the tangents)."""
    n_outputs, n_inputs = len(entries), len(symbols)
    if n_inputs < 2:
        return None
    position = {symbol: j for j, symbol in enumerate(symbols)}
    masks = [0] * n_inputs  # bit i: output i may depend on input j
    for i, entry in enumerate(entries):
        for symbol in getattr(entry, "free_symbols", ()):
            j = position.get(symbol)
            if j is not None:
                masks[j] |= 1 << i
    group = _greedy(masks, n_outputs)
    n_groups = int(group.max()) + 1
    if n_groups > at_most * n_inputs:
        return None
    rows, columns = [], []
    for j, mask in enumerate(masks):
        while mask:
            low = mask & -mask
            rows.append(low.bit_length() - 1)
            columns.append(j)
            mask ^= low
    # (row, group) pairs no column fills: a nonzero torch result there is reported at some input of the group
    filled = {(i, int(group[j])) for i, j in zip(rows, columns)}
    first: dict[int, int] = {}
    for j in range(n_inputs):
        first.setdefault(int(group[j]), j)
    for g, j in first.items():
        for i in range(n_outputs):
            if (i, g) not in filled:
                rows.append(i)
                columns.append(j)
    row_array = np.asarray(rows, dtype=np.intp)
    column_array = np.asarray(columns, dtype=np.intp)
    order = np.lexsort((column_array, row_array))  # in memory order: the expansion writes each page once
    row_array, column_array = row_array[order], column_array[order]
    return ColumnGroups(n_outputs, n_inputs, group, row_array, column_array, group[column_array])


def _greedy(masks: list[int], n_outputs: int) -> np.ndarray:
    """First-fit grouping, inputs with the most outputs first; a group is full once it covers every output."""
    full = (1 << n_outputs) - 1
    group = np.zeros(len(masks), dtype=np.intp)
    used: list[int] = []
    open_groups: list[int] = []  # groups with an output left free
    for j in sorted(range(len(masks)), key=lambda k: -masks[k].bit_count()):
        mask = masks[j]
        if not mask and used:  # an input no output depends on adds nothing to any group
            continue  # group[j] stays 0
        for g in open_groups:
            if not used[g] & mask:
                break
        else:
            g = len(used)
            used.append(0)
            open_groups.append(g)
        used[g] |= mask
        group[j] = g
        if used[g] == full:
            open_groups.remove(g)
    return group
