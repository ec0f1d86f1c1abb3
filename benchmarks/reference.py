"""Reference-evaluation benchmark: exact Jacobians compiled and evaluated at many points, beside torch autograd.

Run from the repository root:  python benchmarks/reference.py   (or --quick for a smoke run)

For two Jacobians,
  * the 24 x 24 tanh(W @ x) case (F = tanh(W @ x), W 24 x 24, x 24: a 24 x 600 Jacobian, 14,400 entries),
  * the seed chain-rule case (cases/seed/vector_chain_rule.yaml, function H: a 2 x 2 Jacobian),
it times
  1. verify's reference, `compile_reference(entries, symbols)`: compile time, and evaluation at
     10,000 points (float64), naming the backend it chose (`.backend`);
  2. plain `sympy.lambdify(symbols, entries, cse=True)` (NumPy) on the same entries, in a
     subprocess that is stopped after the budget; the two results are compared;
  3. torch autograd for the same Jacobian at the same points:
     `TorchEngine(model).evaluate("jacobian", f, points, "float64", "cpu", "rev")`, the first call
     (which generates the torch program) and later calls.
Every time is given as min / median of the repetitions (the compile step is repeated too); the
machine may be shared, so the load average is printed. The ratio compares the reference with
autograd's later calls (what each further dtype or mode costs), not with its first call.
It prints markdown tables and writes nothing under reports/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sympy
from common import machine, tanh_case_text  # benchmarks/ is on sys.path when run as a script

from verify.case import Case, load_file
from verify.engines.autograd import TorchEngine
from verify.engines.reference import compile_reference
from verify.engines.symbolic import SymbolicEngine
from verify.model import CompiledFunction, Model, build_model

ROOT = Path(__file__).resolve().parent.parent
CHAIN_CASE = ROOT / "cases" / "seed" / "vector_chain_rule.yaml"
POINTS = 10_000
QUICK_POINTS = 1_000
SYMPY_BUDGET_S = 60.0
SEED = 0






def load_model(path: Path) -> Model:
    [case] = load_file(path)
    if not isinstance(case, Case):
        raise RuntimeError(f"{path} does not load: {case}")
    return build_model(case)


def jacobian_and_points(path: Path, name: str, count: int) -> tuple[Model, CompiledFunction, np.ndarray, np.ndarray]:
    """The model, the function, its exact Jacobian and `count` seeded points in its variables' intervals."""
    model = load_model(path)
    function = model.functions[name]
    jacobian = SymbolicEngine(model).jacobian(function)
    rng = np.random.default_rng(SEED)
    columns = [rng.uniform(arg.low, arg.high, size=(count, max(1, int(np.prod(arg.shape))))) for arg in function.args]
    return model, function, jacobian, np.concatenate(columns, axis=1)


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    samples, result = timed(fn, repeats)
    return statistics.median(samples), result


def timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    samples, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return samples, result


def plain_lambdify(jacobian: np.ndarray, symbols: Sequence[sympy.Symbol], points: np.ndarray,
                   repeats: int) -> tuple[float, float, np.ndarray]:
    """(compile s, median eval s, values) of sympy.lambdify(cse=True) with NumPy; constants broadcast to the batch."""
    flat = list(jacobian.reshape(-1))
    start = time.perf_counter()
    fn = sympy.lambdify(list(symbols), flat, modules="numpy", cse=True, dummify=True)
    compile_s = time.perf_counter() - start
    batch = points.shape[0]

    def evaluate() -> np.ndarray:
        with np.errstate(all="ignore"):
            values = fn(*points.T)
            out = np.empty((batch, len(flat)))
            for j, value in enumerate(values):
                out[:, j] = np.broadcast_to(np.asarray(value, dtype=np.float64), (batch,))
        return out.reshape((batch, *jacobian.shape))

    eval_s, values = median_time(evaluate, repeats)
    return compile_s, eval_s, values


@dataclass
class Row:
    label: str
    entries: int
    points: int
    backend: str = ""
    ref_compile: float = 0.0
    ref_eval: float = 0.0
    ref_compile_min: float = 0.0
    ref_eval_min: float = 0.0
    autograd_min: float = 0.0
    plain_compile: float | None = None
    plain_eval: float | None = None
    plain_note: str = ""
    agree: str = ""
    autograd_first: float = 0.0
    autograd: float = 0.0


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def run_plain_in_subprocess(path: Path, name: str, count: int, repeats: int, budget_s: float,
                            reference: np.ndarray) -> tuple[float | None, float | None, str, str]:
    """Plain lambdify in a worker process stopped at the budget: (compile s, eval s, note, agreement)."""
    with tempfile.TemporaryDirectory(prefix="verify-bench-") as tmp:
        out = Path(tmp) / "values.npy"
        command = [sys.executable, __file__, "--worker", str(path), name, str(count), str(repeats), str(out)]
        try:
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=budget_s + 30)
        except subprocess.TimeoutExpired:
            return None, None, f"did not finish in {budget_s + 30:.0f} s (stopped)", "-"
        if done.returncode != 0:
            return None, None, f"failed: {done.stderr.strip().splitlines()[-1]}", "-"
        timing = json.loads(done.stdout.strip().splitlines()[-1])
        values = np.load(out)
    both = np.isfinite(values) & np.isfinite(reference)
    same_nan = bool(np.array_equal(np.isfinite(values), np.isfinite(reference)))
    worst = float(np.max(np.abs(values[both] - reference[both]), initial=0.0))
    agree = f"max abs diff {worst:.1e}{'' if same_nan else ', **different nan pattern**'}"
    return timing["compile_s"], timing["eval_s"], "", agree


def measure(label: str, path: Path, name: str, count: int, repeats: int) -> Row:
    model, function, jacobian, points = jacobian_and_points(path, name, count)
    row = Row(label, jacobian.size, count)
    samples, reference = timed(lambda: compile_reference(jacobian, function.flat_symbols), repeats)
    row.ref_compile, row.ref_compile_min = statistics.median(samples), min(samples)
    row.backend = reference.backend
    samples, values = timed(lambda: reference(points), repeats)
    row.ref_eval, row.ref_eval_min = statistics.median(samples), min(samples)
    print(f"  ({label}: reference done)", file=sys.stderr, flush=True)
    row.plain_compile, row.plain_eval, row.plain_note, row.agree = run_plain_in_subprocess(
        path, name, count, repeats, SYMPY_BUDGET_S, values)
    print(f"  ({label}: plain lambdify done)", file=sys.stderr, flush=True)
    del values
    engine = TorchEngine(model)
    start = time.perf_counter()
    engine.evaluate("jacobian", function, points, "float64", "cpu", "rev")
    row.autograd_first = time.perf_counter() - start
    samples, _ = timed(lambda: engine.evaluate("jacobian", function, points, "float64", "cpu", "rev"), repeats)
    row.autograd, row.autograd_min = statistics.median(samples), min(samples)
    print(f"  ({label}: autograd done)", file=sys.stderr, flush=True)
    return row


def table(rows: Sequence[Row]) -> str:
    lines = ["| Jacobian | entries | points | reference backend | reference compile (min / median) | "
             "reference eval (min / median) | reference total (medians) | plain lambdify(cse) compile | "
             "plain lambdify eval | plain vs reference | autograd first call (once) | "
             "autograd later calls (min / median) | reference total / autograd later calls |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        total = r.ref_compile + r.ref_eval
        plain_compile = r.plain_note or fmt(r.plain_compile)
        lines.append(f"| {r.label} | {r.entries:,} | {r.points:,} | {r.backend} | {fmt(r.ref_compile_min)} / "
                     f"{fmt(r.ref_compile)} | {fmt(r.ref_eval_min)} / {fmt(r.ref_eval)} | {fmt(total)} | "
                     f"{plain_compile} | {fmt(r.plain_eval)} | {r.agree} | {fmt(r.autograd_first)} | "
                     f"{fmt(r.autograd_min)} / {fmt(r.autograd)} | {total / r.autograd:.2f} |")
    lines.append("")
    for r in rows:
        rate = r.entries * r.points / r.ref_eval / 1e6
        speedup = "" if r.plain_compile is None or r.plain_eval is None else (
            f"; compile + eval {((r.plain_compile + r.plain_eval) / (r.ref_compile + r.ref_eval)):.1f}x faster "
            "than plain lambdify")
        lines.append(f"- {r.label}: the reference evaluates {rate:.0f} million entries/s{speedup}; autograd later "
                     f"calls / reference eval = {r.autograd / r.ref_eval:.2f}")
    return "\n".join(lines)


def worker(argv: Sequence[str]) -> int:
    """Subprocess mode: plain lambdify of one Jacobian; prints timings as JSON, saves the values."""
    path, name, count, repeats, out = Path(argv[0]), argv[1], int(argv[2]), int(argv[3]), Path(argv[4])
    _, function, jacobian, points = jacobian_and_points(path, name, count)
    compile_s, eval_s, values = plain_lambdify(jacobian, function.flat_symbols, points, repeats)
    np.save(out, values)
    print(json.dumps({"compile_s": compile_s, "eval_s": eval_s}))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        return worker(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_POINTS:,} points, one repetition, an 8 x 8 tanh(W @ x) case")
    args = parser.parse_args(argv)
    count, repeats, size = (QUICK_POINTS, 1, 8) if args.quick else (POINTS, 3, 24)
    print("# Reference-evaluation benchmark\n")
    print(f"Command: `python benchmarks/reference.py{' --quick' if args.quick else ''}`  ")
    print(f"Date: {time.strftime('%Y-%m-%d %H:%M')}  ")
    print(f"Machine: {machine(threads=True)}\n")
    print(f"Jacobians evaluated at {count:,} seeded random points in float64. Times are min / median of "
          f"{repeats} repetition(s); autograd first calls are single runs. \"Plain lambdify\" is "
          f"`sympy.lambdify(symbols, entries, modules='numpy', cse=True)`, run in a subprocess stopped after "
          f"{SYMPY_BUDGET_S:.0f} s (+30 s for setup); \"plain vs reference\" compares its values with the "
          "reference's. \"autograd\" is `TorchEngine(model).evaluate('jacobian', f, points, 'float64', 'cpu', "
          "'rev')`: the first call includes generating the torch program; later calls are what each further "
          "dtype, mode or point set costs, and the last column divides by them.\n", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="verify-bench-") as tmp:
        case = Path(tmp) / f"tanh_layer_{size}.yaml"
        case.write_text(tanh_case_text(size))
        rows.append(measure(f"tanh(W @ x), W {size}x{size} (F)", case, "F", count, repeats))
        rows.append(measure("seed chain rule (H)", CHAIN_CASE, "H", count, repeats))
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
