"""Time budgets for symbolic work that can blow up (simplification, proofs)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["BudgetExceededError", "Deadline", "time_budget"]


class BudgetExceededError(BaseException):
    """Raised inside a `time_budget` block when its time runs out.

    A BaseException, like KeyboardInterrupt, so that code which recovers from ordinary errors
    (fallbacks, one check's failure) cannot swallow it by accident.
    """


class Deadline:
    """A point in time after which optional work (proof attempts) is skipped."""

    def __init__(self, seconds: float) -> None:
        self.end = time.perf_counter() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.perf_counter())

    def expired(self) -> bool:
        return self.left() <= 0.0


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Interrupts the block with BudgetExceededError after `seconds` (main thread on Unix; elsewhere unbounded).

    SymPy is pure Python, so a signal handler runs between its bytecodes and can stop
    a simplification that would otherwise run for minutes.
    """
    usable = (
        seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        # Re-armed first: an exception raised while a gc callback runs is swallowed as
        # "unraisable" (hypothesis installs one), so the alarm repeats until one gets through.
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        raise BudgetExceededError(f"ran out of its {seconds:.3g} s budget")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, min(seconds, remaining) if remaining else seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if remaining:  # an outer budget was running: give back what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(remaining - (time.perf_counter() - start), 1e-3))
