"""What certification costs: the certified (Arb) reference beside a plain float64 evaluation of the same entries.

Run from the repository root:  python benchmarks/certification.py   (or --quick for a smoke run)

(a) Reference evaluation, for three workloads:
    * the seed chain-rule case's 2 x 2 Jacobian of H at 10,000 points,
    * every function of `cases/elementary/functions.yaml` (values and Jacobians) at 10,000 points,
    * the 24 x 24 tanh(W @ x) Jacobian (24 x 600 entries) at 64 points (a run's default),
    each timed as compile + evaluate with verify's certified evaluator (`compile_arb`) and with
    `sympy.lambdify(..., modules="numpy", cse=True)` in float64 (what verify used before; it is
    not certified), min and median of repeated evaluations, and how many entries the float64
    result gets wrong by more than the default float64 tolerance.
(b) The whole run `python -m verify cases/ --no-cache` (a subprocess): wall time, min and
    median of repeated runs, and the share of `reference_s` in the report.
It prints markdown tables; it writes nothing under reports/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import sympy
from common import machine, tanh_case_text  # benchmarks/ is on sys.path when run as a script

from verify.case import Case, load_file
from verify.engines.certified import compile_arb
from verify.engines.symbolic import SymbolicEngine
from verify.model import build_model

ROOT = Path(__file__).resolve().parent.parent


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def workloads(quick: bool) -> list[tuple[str, np.ndarray, list[sympy.Symbol], int]]:
    """(label, entries, symbols, points) for each workload."""
    out = []
    many = 1_000 if quick else 10_000
    [chain] = load_file(ROOT / "cases" / "seed" / "vector_chain_rule.yaml")
    assert isinstance(chain, Case)
    model = build_model(chain)
    h = model.functions["H"]
    out.append(("chain-rule H, 2 x 2 Jacobian", SymbolicEngine(model).jacobian(h), h.flat_symbols, many))
    entries, symbols = [], []
    for case in load_file(ROOT / "cases" / "elementary" / "functions.yaml"):
        if not isinstance(case, Case):
            continue
        model = build_model(case)
        engine = SymbolicEngine(model)
        for function in model.functions.values():
            rename = {s: sympy.Symbol(f"{case.name}_{s.name}", real=True) for s in function.flat_symbols}
            for expr in [*function.entries.reshape(-1), *engine.jacobian(function).reshape(-1)]:
                entries.append(sympy.sympify(expr).xreplace(rename))
            symbols.extend(s for s in rename.values() if s not in symbols)
    out.append((f"elementary functions, {len(entries)} values and derivatives",
                np.array(entries, dtype=object), symbols, many))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tanh24.yaml"
        path.write_text(tanh_case_text(24), encoding="utf-8")
        [case] = load_file(path)
    assert isinstance(case, Case)
    model = build_model(case)
    f = model.functions["F"]
    out.append(("tanh(W @ x) 24 x 24, 24 x 600 Jacobian", SymbolicEngine(model).jacobian(f), f.flat_symbols, 64))
    return out


def points_for(symbols: Sequence[sympy.Symbol], count: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(0.2, 1.8, (count, len(symbols)))  # inside every elementary case's domain


def plain_entries(entries: np.ndarray) -> list[sympy.Expr]:
    """verify's own functions written out, as a plain float64 evaluation would have them."""
    from verify.functions import relu, sigmoid, softplus

    out = []
    for entry in entries.reshape(-1):
        expr = sympy.sympify(entry).replace(sigmoid, lambda a: 1 / (1 + sympy.exp(-a)))
        expr = expr.replace(softplus, lambda a: sympy.log(1 + sympy.exp(a))).replace(relu, lambda a: sympy.Max(a, 0))
        expr = expr.replace(sympy.DiracDelta, lambda *a: sympy.S.Zero)
        out.append(expr)
    return out


def float64_lambdify(fn: Callable[..., Sequence[object]], points: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        values = fn(*[points[:, i] for i in range(points.shape[1])])
        return np.stack([np.broadcast_to(np.asarray(v, dtype=np.complex128).real, (points.shape[0],))
                         for v in values], axis=1)


def reference_table(quick: bool, repeats: int) -> None:
    print("| workload | points | certified: compile s | certified: eval min / median s | float64 lambdify: "
          "compile s | float64: eval min / median s | ratio (median) | float64 entries off by more than "
          "the float64 tolerance |")
    print("|---|---|---|---|---|---|---|---|")
    for label, entries, symbols, count in workloads(quick):
        points = points_for(symbols, count)
        start = time.perf_counter()
        program = compile_arb(entries, symbols)
        arb_compile = time.perf_counter() - start
        arb_min, arb_median, certified = timed(lambda p=program, q=points: p(q, "float64", 1e-7, 1e-10), repeats)
        start = time.perf_counter()
        fn = sympy.lambdify(list(symbols), plain_entries(entries), modules=["scipy", "numpy"], cse=True)
        plain_compile = time.perf_counter() - start
        plain_min, plain_median, plain = timed(lambda f=fn, q=points: float64_lambdify(f, q), repeats)
        exact = certified.values.reshape(count, -1)  # type: ignore[attr-defined]
        got = np.asarray(plain).reshape(count, -1)
        defined = np.isfinite(exact)
        with np.errstate(all="ignore"):
            off = int((defined & ~(np.abs(got - exact) <= 1e-10 + 1e-7 * np.abs(exact))).sum())
        print(f"| {label} | {count:,} | {arb_compile:.2f} | {arb_min:.3f} / {arb_median:.3f} | {plain_compile:.2f} | "
              f"{plain_min:.4f} / {plain_median:.4f} | {arb_median / plain_median:.0f}x | {off} of {int(defined.sum()):,} |")


def whole_run(repeats: int) -> None:
    walls, shares = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "verify", "cases/", "--no-cache", "--quiet", "--report-dir", tmp],
                           cwd=ROOT, check=False, capture_output=True)
            walls.append(time.perf_counter() - start)
            records = json.loads((Path(tmp) / "report.json").read_text(encoding="utf-8"))
            total = sum(float(r.get("symbolic_s") or 0) + float(r.get("reference_s") or 0)
                        + float(r.get("autograd_s") or 0) for r in records)
            shares.append((sum(float(r.get("reference_s") or 0) for r in records), total))
    reference_s = statistics.median(s for s, _ in shares)
    total_s = statistics.median(t for _, t in shares)
    print(f"| `python -m verify cases/ --no-cache` | {min(walls):.2f} | {statistics.median(walls):.2f} | "
          f"{reference_s:.2f} of {total_s:.2f} s of timed work ({100 * reference_s / total_s:.0f}%) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer points and repetitions (a smoke run)")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    print(f"Machine: {machine()}; {repeats} repetition(s) per figure\n")
    print("### Reference evaluation: certified (Arb) vs plain float64\n")
    reference_table(args.quick, repeats)
    print("\n### Whole run of the shipped cases\n")
    print("| run | wall min s | wall median s | reference_s (median) |")
    print("|---|---|---|---|")
    whole_run(repeats)
    print(f"\nLoad average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
