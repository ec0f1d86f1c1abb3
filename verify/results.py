"""The bottom of the house: one report record, the status vocabulary and the exit code.

Every front end (reports, terminal, JUnit, annotations, baselines, the pytest plugin) imports
this module, never the runner; it imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["NOT_OK", "STATUSES", "Result", "exit_code"]

STATUSES = ("pass", "fail", "error", "skip", "xfail", "xpass")
"""Every status a record can have, in the order reports list them."""

NOT_OK = frozenset({"fail", "error", "xpass"})
"""Statuses that make a run exit 1."""


@dataclass(frozen=True)
class Result:
    """One report record: a (case, check, function, dtype, device, mode) and how it went."""

    file: str
    case: str
    check: str
    function: str
    dtype: str
    device: str
    mode: str
    status: str
    points: int = 0
    excluded: int = 0
    mismatched: int = 0
    max_abs_err: float = float("nan")
    max_rel_err: float = float("nan")
    worst_point: str = ""
    evidence: str = ""
    message: str = ""
    symbolic_s: float = 0.0
    reference_s: float = 0.0
    autograd_s: float = 0.0
    line: int = 0
    seed: int = 0
    tags: str = ""
    description: str = ""  # the case's description, so every report shows it
    rtol: float = float("nan")  # the tolerance the record was judged by (nan: no numeric comparison)
    atol: float = float("nan")
    reference_bits: float = float("nan")  # fewest certified bits of any compared reference entry
    constants: str = ""  # the case's named constants, e.g. "beta=2, eps=1e-05"
    tolerance_ratio: float = float("nan")  # max over entries of |a - r| / (atol + rtol |r|); <= 1 passes (nan: n/a)

    @property
    def case_id(self) -> str:
        return f"{self.file}::{self.case}"


def exit_code(results: Iterable[Result]) -> int:
    """0 when nothing failed or errored; 1 for any fail, error or xpass."""
    return 1 if any(r.status in NOT_OK for r in results) else 0
