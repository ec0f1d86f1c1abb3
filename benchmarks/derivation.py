"""Derivation benchmark: exact Jacobians of tanh(A @ x) by plain SymPy and by verify, and the disk cache.

Run from the repository root:  python benchmarks/derivation.py   (or --quick for a smoke run)

(a) plain SymPy: `sympy.diff` entry by entry, for the n x n Jacobian of tanh(A @ x), A a dense
    random integer matrix (entries in -9..9, fixed seed), x n real symbols. Sizes whose
    estimated time (a power law fitted to the smaller sizes) is over the budget are not run.
(b) verify: `verify.engines.symbolic.jacobian_of` (the SymEngine path, converted back to SymPy),
    with the time of SymEngine's own `diff` alone beside it, to show where the time goes.
    Where both ran, the two Jacobians are compared entry by entry (`==`, else expand(a - b) == 0).
(c) the disk cache: `python -m verify CASE` on a generated case tanh(W @ x), W 24 x 24, x 24,
    in subprocesses, cold (fresh --cache-dir) then warm (the same directory again).

SymPy's global cache is cleared before every timed repetition, so no repetition reuses the
work of another. Figures are medians of several repetitions; the machine may be shared.
It prints markdown tables and writes nothing under reports/.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sympy
from common import machine, tanh_case_text  # benchmarks/ is on sys.path when run as a script
from sympy.core.cache import clear_cache

from verify.engines.symbolic import jacobian_of

ROOT = Path(__file__).resolve().parent.parent
SIZES = (10, 30, 100, 300)
QUICK_SIZES = (10, 30)
SYMPY_BUDGET_S = 60.0  # plain SymPy is run only where it is expected to finish within this
TARGETS_S = {100: 1.0, 300: 10.0}  # from the issue: jacobian_of of tanh(A @ x)
SEED = 0




def problem(n: int, seed: int = SEED) -> tuple[np.ndarray, list[sympy.Symbol]]:
    """The n entries of tanh(A @ x), A n x n with integers in -9..9, and the n real symbols x."""
    matrix = np.random.default_rng(seed).integers(-9, 10, size=(n, n))
    x = [sympy.Symbol(f"x{j}", real=True) for j in range(n)]
    entries = np.empty(n, dtype=object)
    for i in range(n):
        entries[i] = sympy.tanh(sympy.Add(*(int(a) * s for a, s in zip(matrix[i], x))))
    return entries, x


def timed(fn: Callable[[Any], Any], repeats: int, n: int) -> tuple[float, list[float], Any]:
    """Median seconds of `fn(problem(n))` over `repeats` runs; the last result.

    Before each run SymPy's cache is cleared and the entries are built anew, as verify's compile
    step builds them just before deriving: the derivation meets the cache a real run leaves.
    """
    samples, result = [], None
    for _ in range(repeats):
        clear_cache()
        built = problem(n)
        start = time.perf_counter()
        result = fn(built)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), samples, result


def sympy_jacobian(entries: np.ndarray, x: Sequence[sympy.Symbol], budget_s: float) -> tuple[np.ndarray | None, float, int]:
    """Plain SymPy, entry by entry; gives up (None) when the run passes `budget_s`. Returns (J, seconds, rows done).

    The cache is cleared and the entries built anew first, exactly as `timed` does for verify.
    """
    clear_cache()
    entries, x = problem(len(entries))
    out = np.empty((len(entries), len(x)), dtype=object)
    start = time.perf_counter()
    for i, entry in enumerate(entries):
        for j, symbol in enumerate(x):
            out[i, j] = sympy.diff(entry, symbol)
        if time.perf_counter() - start > budget_s and i + 1 < len(entries):
            return None, time.perf_counter() - start, i + 1
    return out, time.perf_counter() - start, len(entries)


def symengine_diff_only(entries: np.ndarray, x: Sequence[sympy.Symbol]) -> None:
    """SymEngine's own conversion and diff of every entry, with no conversion back to SymPy."""
    import symengine

    se_x = [symengine.Symbol(s.name) for s in x]
    for entry in entries:
        se_entry = symengine.sympify(entry)
        for s in se_x:
            se_entry.diff(s)


def compare(ours: np.ndarray, theirs: np.ndarray) -> str:
    """'identical' when every entry is ==; otherwise how many differ in form and how many in value."""
    differ = [(i, j) for i, j in np.ndindex(*ours.shape) if ours[i, j] != theirs[i, j]]
    if not differ:
        return f"identical ({ours.size} entries ==)"
    unequal = [(i, j) for i, j in differ if sympy.expand(ours[i, j] - theirs[i, j]) != 0]
    if not unequal:
        return f"equal ({len(differ)} of {ours.size} entries differ in form only; expand(a - b) == 0)"
    i, j = unequal[0]
    return (f"**DIFFERENT**: {len(unequal)} of {ours.size} entries, e.g. [{i}, {j}]: "
            f"verify {ours[i, j]} vs SymPy {theirs[i, j]}")


def repeats_for(n: int, quick: bool) -> int:
    if quick:
        return 1
    return 5 if n <= 30 else 3


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def derivation_table(sizes: Sequence[int], quick: bool, budget_s: float) -> str:
    rows = ["| n | entries | (a) plain SymPy diff | (b) verify jacobian_of | SymEngine diff alone "
            "| target (b) | (b) meets target | SymPy / verify | same result as SymPy |",
            "|---|---|---|---|---|---|---|---|---|"]
    sympy_times: dict[int, float] = {}
    notes: list[str] = []
    for n in sizes:
        entries, x = problem(n)
        repeats = repeats_for(n, quick)
        ours_s, ours_samples, ours = timed(lambda built: jacobian_of(*built), repeats, n)
        alone_s, _, _ = timed(lambda built: symengine_diff_only(*built), repeats, n)
        estimate = estimate_sympy(sympy_times, n)
        if estimate is not None and estimate > budget_s:
            plain = f"not run (estimated {fmt(estimate)})"
            ratio, same = "-", "-"
        else:
            sympy_repeats = repeats if n <= 30 else 1
            samples, theirs = [], None
            for _ in range(sympy_repeats):
                theirs, seconds, done = sympy_jacobian(entries, x, 1.5 * budget_s)
                if theirs is None:
                    break
                samples.append(seconds)
            if theirs is None:
                projected = seconds / done * n
                plain = f"stopped after {done}/{n} rows, {fmt(seconds)} (estimated {fmt(projected)})"
                ratio, same = "-", "-"
            else:
                sympy_times[n] = statistics.median(samples)
                plain = fmt(sympy_times[n]) + ("" if len(samples) > 1 else " (1 run)")
                ratio = f"{sympy_times[n] / ours_s:.1f}x"
                same = compare(ours, theirs)
        target = TARGETS_S.get(n)
        meets = "-" if target is None else ("yes" if ours_s < target else "**no**")
        rows.append(f"| {n} | {n * n:,} | {plain} | {fmt(ours_s)} | {fmt(alone_s)} | "
                    f"{'-' if target is None else '< ' + fmt(target)} | {meets} | {ratio} | {same} |")
        notes.append(f"n = {n}: verify runs {', '.join(fmt(s) for s in ours_samples)}")
        print(f"  (n = {n} done)", file=sys.stderr, flush=True)
    return "\n".join(rows) + "\n\n" + "; ".join(notes)


def estimate_sympy(measured: dict[int, float], n: int) -> float | None:
    """Plain SymPy's time at n from a power law through the two largest measured sizes (None: too few)."""
    if len(measured) < 2:
        return None
    (n1, t1), (n2, t2) = sorted(measured.items())[-2:]
    power = math.log(t2 / t1) / math.log(n2 / n1)
    return t2 * (n / n2) ** power


# -- (c) the disk cache ----------------------------------------------------------------------



def run_verify(case: Path, report_dir: Path, cache_args: list[str]) -> tuple[float, float]:
    """(wall seconds, sum of report.csv's symbolic_s) of one `python -m verify` subprocess."""
    command = [sys.executable, "-m", "verify", str(case), "--report-dir", str(report_dir), "-q", *cache_args]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    with open(report_dir / "report.csv", newline="") as handle:
        symbolic = sum(float(row["symbolic_s"] or 0) for row in csv.DictReader(handle))
    return wall, symbolic


def cache_table(size: int, repeats: int) -> str:
    runs: dict[str, list[tuple[float, float]]] = {"no cache (--no-cache)": [], "cold (fresh --cache-dir)": [],
                                                  "warm (same --cache-dir again)": []}
    with tempfile.TemporaryDirectory(prefix="verify-bench-") as tmp:
        case = Path(tmp) / f"tanh_layer_{size}.yaml"
        case.write_text(tanh_case_text(size))
        for k in range(repeats):
            cache = Path(tmp) / f"cache{k}"
            runs["no cache (--no-cache)"].append(run_verify(case, Path(tmp) / "r", ["--no-cache"]))
            runs["cold (fresh --cache-dir)"].append(run_verify(case, Path(tmp) / "r", ["--cache-dir", str(cache)]))
            runs["warm (same --cache-dir again)"].append(run_verify(case, Path(tmp) / "r", ["--cache-dir", str(cache)]))
    rows = [f"Case: F = tanh(W @ x), W {size}x{size}, x {size}: Jacobian {size} x {size * size + size} "
            f"({size * (size * size + size):,} entries), default points and dtypes; medians of {repeats} run(s).", "",
            "| run | symbolic_s (report.csv) | wall time of `python -m verify` |", "|---|---|---|"]
    for label, samples in runs.items():
        wall = statistics.median(s[0] for s in samples)
        symbolic = statistics.median(s[1] for s in samples)
        rows.append(f"| {label} | {fmt(symbolic)} | {fmt(wall)} |")
    cold = statistics.median(s[1] for s in runs["cold (fresh --cache-dir)"])
    warm = statistics.median(s[1] for s in runs["warm (same --cache-dir again)"])
    rows.append("")
    rows.append(f"symbolic_s warm / cold: {warm / cold:.2f} ({cold / warm:.1f}x faster warm)")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: sizes {', '.join(map(str, QUICK_SIZES))}, one repetition, an 8x8 cache case")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else SIZES
    print("# Derivation benchmark\n")
    print(f"Command: `python benchmarks/derivation.py{' --quick' if args.quick else ''}`  ")
    print(f"Date: {time.strftime('%Y-%m-%d %H:%M')}  ")
    print(f"Machine: {machine()}\n")
    print(f"## Jacobian of tanh(A @ x), A n x n integers in -9..9 (seed {SEED}), x n real symbols\n")
    print(f"Medians of {'1' if args.quick else '5 (n <= 30) or 3 (n > 30)'} repetition(s), SymPy's cache cleared "
          f"before each; plain SymPy has the same count for n <= 30 and 1 run beyond. Plain SymPy is run only where "
          f"a power law through the smaller sizes estimates under {SYMPY_BUDGET_S:.0f} s. \"SymEngine diff alone\" "
          "is the conversion to SymEngine and its diff, without the conversion of the results back to SymPy "
          "that jacobian_of also does.\n", flush=True)
    print(derivation_table(sizes, args.quick, SYMPY_BUDGET_S))
    size, repeats = (8, 1) if args.quick else (24, 3)
    print("\n## Disk cache of derivations: `python -m verify CASE -q` in a subprocess\n", flush=True)
    print(cache_table(size, repeats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
