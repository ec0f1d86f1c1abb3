"""Spreading cases out: over CI machines (`--shard K/N`) and over worker processes (`--jobs N`)."""

from __future__ import annotations

import hashlib
import pickle
import re
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from verify.errors import UsageError

if TYPE_CHECKING:
    from verify.case import Case, LoadFailure
    from verify.results import Result
    from verify.run import RunOptions

__all__ = ["in_shard", "parse_shard", "run_parallel", "shard"]

T = TypeVar("T")
OnCase = Callable[["Case | LoadFailure", "list[Result]", float], None]


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


def _run_one(case: Case, options: RunOptions) -> tuple[list[Result], float]:
    """Worker side: every result of one case and the seconds it took; never raises."""
    from verify.run import run_case

    start = time.perf_counter()
    try:
        rows = run_case(case, options)
    except Exception as exc:  # noqa: BLE001 - the exception itself may not pickle; its text does
        rows = [_crash_row(case, "".join(traceback.format_exception_only(type(exc), exc)).strip())]
    return rows, time.perf_counter() - start


def _crash_row(case: Case | LoadFailure, detail: str) -> Result:
    from verify.results import Result

    return Result(file=case.file, case=case.name, check="run", function="-", dtype="-", device="-", mode="-",
                  status="error", message=f"{case.id}: the case could not run: {detail}",
                  line=getattr(getattr(case, "where", None), "line", 0) or 0, tags=",".join(case.tags))


def _picklable(case: object) -> bool:
    try:
        pickle.dumps(case)
    except Exception:  # noqa: BLE001 - any failure means: run it here instead
        return False
    return True


def run_parallel(cases: Sequence[Case | LoadFailure], options: RunOptions, jobs: int,
                 on_case: OnCase | None = None) -> Iterator[Result]:
    """Runs `cases` in `jobs` spawned worker processes; yields every result in the cases' order.

    `on_case` is called in this process as each case finishes (in finishing order). Load
    failures, and cases that do not pickle, are run here: they need no engine and are quick.
    The results are those of `verify.run.run_paths`, timings aside.
    """
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor, as_completed

    from verify.case import Case
    from verify.run import run_case

    done: dict[int, list[Result]] = {}
    remote = {i for i, case in enumerate(cases) if isinstance(case, Case) and _picklable(case)}

    def run_here() -> None:
        for i, case in enumerate(cases):
            if i not in remote:
                start = time.perf_counter()
                done[i] = run_case(case, options)
                if on_case is not None:
                    on_case(case, done[i], time.perf_counter() - start)

    if not remote:
        run_here()
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(jobs, len(remote)), mp_context=context,
                                 initializer=_warm_up) as pool:
            try:
                futures: dict[Future[tuple[list[Result], float]], int] = {
                    pool.submit(_run_one, cases[i], options): i for i in sorted(remote)}  # type: ignore[arg-type]
                run_here()  # while the workers start
                for future in as_completed(futures):
                    i = futures[future]
                    try:
                        rows, seconds = future.result()
                    except Exception as exc:  # noqa: BLE001 - a worker died (killed, out of memory)
                        rows, seconds = [_crash_row(cases[i], f"worker process failed: {exc!r}")], 0.0
                    done[i] = rows
                    if on_case is not None:
                        on_case(cases[i], rows, seconds)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    for i in range(len(cases)):
        yield from done[i]
