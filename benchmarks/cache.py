"""Is reading the derivation cache faster than deriving? Dense tanh(W @ x) cases, in-process and whole runs.

Run from the repository root:  python benchmarks/cache.py [--sizes 24 60 100] [--repeats 3] [--runs]

(a) In-process, for the Jacobian of F = tanh(W @ x) (W n x n, x n): deriving it
    (`jacobian_of`, SymEngine), storing it (`DerivationCache.store_array`: trees, JSON, sha256),
    reading it back (`load_array`), its size in expression nodes, the read cost per node (what
    verify.engines.symbolic.READ_S_PER_NODE estimates) and whether verify would store it.
(b) With --runs: wall time of `python -m verify CASE` with --no-cache, with a fresh --cache-dir
    (cold) and the same again (warm).
Times are min / median of --repeats runs; the load average is printed at start and end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine, tanh_case_text  # benchmarks/ is on sys.path when run as a script

from verify.cache import DerivationCache
from verify.case import Case, load_file
from verify.engines.symbolic import READ_S_PER_NODE, _nodes, estimated_read_s, jacobian_of
from verify.model import build_model

ROOT = Path(__file__).resolve().parent.parent


def fmt(samples: list[float]) -> str:
    return f"{min(samples):.2f} / {statistics.median(samples):.2f} s"


def in_process(size: int, repeats: int, tmp: Path) -> str:
    path = tmp / f"tanh_{size}.yaml"
    path.write_text(tanh_case_text(size))
    [case] = load_file(path)
    assert isinstance(case, Case)
    function = build_model(case).functions["F"]
    symbols = {s.name: s for s in function.flat_symbols}
    derive, store, load = [], [], []
    jacobian = None
    for k in range(repeats):
        start = time.perf_counter()
        jacobian = jacobian_of(function.entries, function.flat_symbols)
        derive.append(time.perf_counter() - start)
        disk = DerivationCache.for_text(tmp / f"cache-{size}-{k}", case.digest, case.name)
        start = time.perf_counter()
        disk.store_array("F|jacobian", jacobian)
        store.append(time.perf_counter() - start)
        start = time.perf_counter()
        back = disk.load_array("F|jacobian", symbols)
        load.append(time.perf_counter() - start)
        assert back is not None and back.shape == jacobian.shape
    assert jacobian is not None
    nodes = sum(_nodes(e) for e in jacobian.reshape(-1))
    per_node = statistics.median(load) / nodes
    stored = statistics.median(derive) > estimated_read_s(jacobian)
    return (f"| {size}x{size} | {jacobian.size:,} | {nodes:,} | {fmt(derive)} | {fmt(store)} | {fmt(load)} | "
            f"{statistics.median(load) / statistics.median(derive):.1f}x | {per_node * 1e6:.2f} µs | "
            f"{estimated_read_s(jacobian):.2f} s | {'yes' if stored else 'no'} |")


def runs(size: int, repeats: int, tmp: Path) -> list[str]:
    path = tmp / f"tanh_{size}.yaml"
    path.write_text(tanh_case_text(size))
    samples: dict[str, list[float]] = {"--no-cache": [], "cold cache": [], "warm cache": []}
    for k in range(repeats):
        cache = tmp / f"run-cache-{size}-{k}"
        for label, extra in (("--no-cache", ["--no-cache"]), ("cold cache", ["--cache-dir", str(cache)]),
                             ("warm cache", ["--cache-dir", str(cache)])):
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "verify", str(path), "--report-dir", str(tmp / "r"), *extra],
                                  cwd=ROOT, capture_output=True, text=True)
            samples[label].append(time.perf_counter() - start)
            if done.returncode not in (0, 1):
                raise RuntimeError(done.stderr)
    return [f"| {size}x{size} | {label} | {fmt(s)} |" for label, s in samples.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[24, 60, 100])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--runs", action="store_true", help="also time whole `python -m verify` runs")
    args = parser.parse_args()
    print("# Derivation cache: read vs derive\n")
    print(f"Command: `python benchmarks/cache.py --sizes {' '.join(map(str, args.sizes))} --repeats {args.repeats}"
          f"{' --runs' if args.runs else ''}`  ")
    print(f"Date: {time.strftime('%Y-%m-%d %H:%M')}  ")
    print(f"Machine: {machine()}\n")
    print(f"min / median of {args.repeats} runs. verify stores a derivation only when deriving it took longer than "
          f"its estimated read time (nodes x {READ_S_PER_NODE * 1e6:.1f} µs).\n")
    print("| Jacobian of tanh(W @ x) | entries | nodes | derive | store | read | read / derive | read per node | "
          "estimated read | stored by verify |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="verify-bench-") as name:
        tmp = Path(name)
        for size in args.sizes:
            print(in_process(size, args.repeats, tmp), flush=True)
        if args.runs:
            print("\n| case | run | wall time (min / median) |\n|---|---|---|")
            for size in args.sizes:
                print("\n".join(runs(size, args.repeats, tmp)), flush=True)
    print(f"\nLoad average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
