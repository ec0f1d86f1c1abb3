"""Time budgets for work that can blow up (simplification, proofs, a whole case)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Budget", "BudgetExceededError", "Deadline", "time_budget"]


class Budget:
    """One active time budget; `owns` tells whether an exception is this budget's own deadline."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.perf_counter() + seconds

    def owns(self, error: BudgetExceededError) -> bool:
        return error.budget is self


class BudgetExceededError(BaseException):
    """Raised inside a `time_budget` block when its time runs out.

    A BaseException, like KeyboardInterrupt, so that code which recovers from ordinary errors
    (fallbacks, one check's failure) cannot swallow it by accident. `budget` is the budget whose
    deadline passed: with nested budgets, only the one that owns it should recover.
    """

    def __init__(self, message: str, budget: Budget | None = None) -> None:
        super().__init__(message)
        self.budget = budget


class Deadline:
    """A point in time after which optional work (proof attempts) is skipped."""

    def __init__(self, seconds: float) -> None:
        self.end = time.perf_counter() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.perf_counter())

    def expired(self) -> bool:
        return self.left() <= 0.0


# The interval timer and SIGALRM are one per process, so the budgets that share them are tracked
# per process too (main thread only, where signals are delivered).
_ACTIVE: list[Budget] = []


@contextmanager
def time_budget(seconds: float) -> Iterator[Budget]:
    """Interrupts the block with BudgetExceededError after `seconds` (main thread on Unix; elsewhere unbounded).

    SymPy is pure Python, so a signal handler runs between its bytecodes and can stop a
    simplification that would otherwise run for minutes. Budgets nest: an inner one never
    outlives the outer one, and the error names whichever deadline passed first.
    """
    budget = Budget(seconds)
    usable = seconds > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield budget
        return
    outer = _ACTIVE[-1] if _ACTIVE else None
    owner = outer if outer is not None and outer.deadline < budget.deadline else budget

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        # Re-armed first: an exception raised while a gc callback runs is swallowed as
        # "unraisable" (hypothesis installs one), so the alarm repeats until one gets through. Not
        # sooner than 0.25 s: the hook that reports the swallowed one (pytest's) must be let finish,
        # or it fails itself ("Failed to process unraisable exception") on a loaded machine.
        signal.setitimer(signal.ITIMER_REAL, 0.25)
        raise BudgetExceededError(f"ran out of its {owner.seconds:.3g} s budget", owner)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    _ACTIVE.append(budget)
    signal.setitimer(signal.ITIMER_REAL, max(owner.deadline - time.perf_counter(), 1e-3))
    try:
        yield budget
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _ACTIVE.pop()
        signal.signal(signal.SIGALRM, previous)
        if outer is not None:  # the outer budget's alarm, for the time it has left
            signal.setitimer(signal.ITIMER_REAL, max(outer.deadline - time.perf_counter(), 1e-3))
