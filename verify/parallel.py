"""Spreading cases out: over CI machines (`--shard K/N`) and over worker processes (`--jobs N`)."""

from __future__ import annotations

import contextlib
import hashlib
import pickle
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, TypeVar

from verify.errors import UsageError

if TYPE_CHECKING:
    from verify.case import Case, LoadFailure
    from verify.results import Result
    from verify.run import RunOptions

__all__ = ["in_shard", "parse_shard", "run_parallel", "shard"]

T = TypeVar("T")
OnCase = Callable[["Case | LoadFailure", "list[Result]", float], None]
OnStart = Callable[["Case | LoadFailure"], None]


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` (1 <= K <= N) as (K, N); anything else is a UsageError that says what is expected."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not found or not 1 <= int(found.group(1)) <= int(found.group(2)):
        raise UsageError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. --shard 2/4 (the 2nd of 4 shards)")
    return int(found.group(1)), int(found.group(2))


def in_shard(case_id: str, k: int, n: int) -> bool:
    """Whether shard `k` of `n` (1-based) owns the case: int(sha256(id as UTF-8).hexdigest(), 16) % n == k - 1.

    The hash is of the id's text, so the split is the same on every machine and every run
    (Python's hash() is salted per process); ids hold the file path as given on the command
    line or relative to the working directory, so run every shard from the same folder.
    """
    return int(hashlib.sha256(case_id.encode("utf-8")).hexdigest(), 16) % n == k - 1


def shard(items: Sequence[T], k: int, n: int, key: Callable[[T], str]) -> list[T]:
    """The items shard `k` of `n` owns, in their original order."""
    return [item for item in items if in_shard(key(item), k, n)]


def _warm_up() -> None:
    """Worker start: imports the engines (torch, SymPy) once, so no case's time includes them."""
    import verify.engines.autograd
    import verify.engines.symbolic
    import verify.run  # noqa: F401
    from verify.baseline import warm_up_torch

    warm_up_torch()  # torch's first transforms, so that no record's time includes them


def _run_one(case: Case, options: RunOptions) -> tuple[list[Result], float]:
    """Worker side: every result of one case and the seconds it took; never raises."""
    from verify.run import run_case

    start = time.perf_counter()
    try:
        rows = run_case(case, options)
    except BaseException as exc:  # noqa: BLE001 - the exception itself may not pickle; its text does
        rows = [_crash_row(case, "".join(traceback.format_exception_only(type(exc), exc)).strip())]
    return rows, time.perf_counter() - start


def _worker_main(conn: Connection, options: RunOptions) -> None:
    """A worker process: says it is ready, then runs each case it is sent until told to stop (None)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the workers
    _warm_up()
    conn.send(None)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if task is None:
            return
        index, case = task
        rows, seconds = _run_one(case, options)
        conn.send((index, rows, seconds))


def _crash_row(case: Case | LoadFailure, detail: str) -> Result:
    from verify.results import Result

    return Result(file=case.file, case=case.name, check="run", function="-", dtype="-", device="-", mode="-",
                  status="error", message=f"{case.id}: the case could not run: {detail}",
                  line=getattr(getattr(case, "where", None), "line", 0) or 0, tags=",".join(case.tags),
                  seed=getattr(case, "seed", 0), description=getattr(case, "description", ""))


def _death(exitcode: int | None) -> str:
    """Why a worker process ended, in words."""
    if exitcode is None:
        return "its worker process stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        why = {"SIGKILL": " (killed; out of memory?)", "SIGSEGV": " (a crash in native code)",
               "SIGBUS": " (a crash in native code)", "SIGABRT": " (aborted)"}.get(name, "")
        return f"its worker process died of {name}{why}"
    return f"its worker process exited with status {exitcode}"


def _picklable(case: object) -> bool:
    try:
        pickle.dumps(case)
    except Exception:  # noqa: BLE001 - any failure means: run it here instead
        return False
    return True


class _Worker:
    """One worker process, the pipe to it, and the case it is running (an index into the cases)."""

    def __init__(self, context: Any, options: RunOptions) -> None:
        here, there = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(there, options), name="verify-worker")
        self.process.start()
        there.close()
        self.conn: Connection = here
        self.ready = False
        self.task: int | None = None
        self.since = 0.0

    def send(self, index: int, case: Case) -> None:
        self.task, self.since = index, time.perf_counter()
        with contextlib.suppress(OSError):  # it died just now: the next poll says how
            self.conn.send((index, case))

    def stop(self, wait: float) -> None:
        """Asks the process to end; kills it when it has not after `wait` seconds."""
        try:
            if self.process.is_alive() and self.task is None:
                self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(wait)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()


def _hard_limit(options: RunOptions) -> float | None:
    """Seconds after which a worker whose case has not come back is killed: the case's own budget
    (which the worker enforces itself) with a margin, for code that never lets the budget's signal in."""
    return None if not options.timeout_s else options.timeout_s * 1.5 + 10.0


def _poll(worker: _Worker, finish: Callable[[int, list[Result], float], None], limit: float | None,
          options: RunOptions) -> str | None:
    """Takes what `worker` has sent; returns why it is gone (None while it is fine)."""
    try:
        if worker.conn.poll():
            message = worker.conn.recv()
            if message is None:
                worker.ready = True
            else:
                i, rows, seconds = message
                worker.task = None
                finish(i, rows, seconds)
            return None
        if worker.process.is_alive():
            if limit is None or worker.task is None or time.perf_counter() - worker.since <= limit:
                return None
            worker.process.kill()
            worker.process.join(5)
            return (f"it ran {limit:g} s, far past its {options.timeout_s:g} s time budget, without letting the "
                    "budget stop it; its worker process was killed")
    except (EOFError, OSError):  # the pipe broke: the process is ending, or must
        worker.process.join(1)
        if worker.process.is_alive():
            worker.process.kill()
    worker.process.join(5)
    return _death(worker.process.exitcode)


def run_parallel(cases: Sequence[Case | LoadFailure], options: RunOptions, jobs: int,
                 on_case: OnCase | None = None, on_start: OnStart | None = None) -> Iterator[Result]:
    """Runs `cases` in `jobs` spawned worker processes; yields every result in the cases' order.

    `on_start` and `on_case` are called in this process as each case is sent to a worker and as
    it comes back (in finishing order). Load failures, and cases that do not pickle, are run here:
    they need no engine and are quick. The results are those of `verify.run.run_paths`, timings
    aside. A worker that dies (a segfault, os._exit, an out-of-memory kill) or outlives the case's
    time budget by far costs only the case it was running: that case gets one `error` record
    naming its file and how the worker ended, a fresh worker takes the next case.
    """
    import multiprocessing
    from collections import deque
    from multiprocessing.connection import wait

    from verify.case import Case
    from verify.run import run_case

    done: dict[int, list[Result]] = {}
    remote = [i for i, case in enumerate(cases) if isinstance(case, Case) and _picklable(case)]

    def finish(i: int, rows: list[Result], seconds: float) -> None:
        done[i] = rows
        if on_case is not None:
            on_case(cases[i], rows, seconds)

    def run_here() -> None:
        for i, case in enumerate(cases):
            if i not in done and i not in queued:
                if on_start is not None:
                    on_start(case)
                start = time.perf_counter()
                finish(i, run_case(case, options), time.perf_counter() - start)

    queued = set(remote)
    context = multiprocessing.get_context("spawn")
    workers: list[_Worker] = []
    queue = deque(remote)
    limit = _hard_limit(options)
    failed_starts = 0
    try:
        workers = [_Worker(context, options) for _ in range(min(jobs, len(remote)))]
        run_here()  # while the workers start
        while queue or any(w.task is not None for w in workers):
            for w in workers:
                if w.ready and w.task is None and queue:
                    i = queue.popleft()
                    if on_start is not None:
                        on_start(cases[i])
                    w.send(i, cases[i])  # type: ignore[arg-type]
            wait([x for w in workers for x in (w.conn, w.process.sentinel)], timeout=1.0)
            alive: list[_Worker] = []
            for w in workers:
                died = _poll(w, finish, limit, options)
                if died is None:
                    alive.append(w)
                    continue
                if w.task is not None:
                    lost, w.task = w.task, None
                    finish(lost, [_crash_row(cases[lost], died)], time.perf_counter() - w.since)
                elif not w.ready:
                    failed_starts += 1
                w.stop(0)
                if queue and failed_starts <= 2 * jobs:
                    alive.append(_Worker(context, options))
            workers = alive
            if queue and not workers:  # workers cannot start here: run the rest in this process
                queued.clear()
                queue.clear()
                run_here()
    finally:
        for w in workers:
            w.stop(0.0 if sys.exc_info()[0] is not None else 5.0)
    for i in range(len(cases)):
        yield from done[i]
