"""Dense-layer cases end to end, against the floor of the same work done directly.

Run from the repository root:  python benchmarks/end_to_end.py [--sizes 24 60 100] [--repeats 3]

For F = tanh(W @ x), W n x n, x n (the Jacobian w.r.t. W and x at verify's default 64 points,
float64, modes rev and fwd), it times
  * verify end to end: the wall time of `python -m verify CASE --no-cache` (a subprocess), and
    its peak memory (ru_maxrss of the child);
  * the floor, the same work without verify: a subprocess that imports torch, SymPy and
    SymEngine and runs one jacrev (the start-up any torch program pays), plus, in a fresh
    process, the derivation (`jacobian_of`), the certified reference at the same 64 points
    (`compile_reference(...)(points)`) and hand-written torch: `vmap(jacrev(f))`, and the forward
    Jacobian as `vmap(jacfwd(f))` where its tangents (64 x n_in^2 values) fit in 2 GiB, else
    jvp along the unit vectors in blocks of bounded memory (what jacfwd computes, without its
    memory); first calls of these transforms on this function (torch's one-time first jacrev is in
    the start-up part, not counted twice). The hand-written forward mode uses one
    tangent per input; verify groups inputs that reach different outputs (see
    verify/engines/grouping.py), which the floor does not.
Target: verify <= 2x the floor; the 100x100 case under 10 s. Times are min / median of
--repeats runs; the load average is printed at start and end. It prints markdown and writes
nothing under reports/.
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
from pathlib import Path

from common import machine, tanh_case_text  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
FLOOR = ("import sympy, symengine, torch; from torch.func import jacrev; "
         "jacrev(torch.sin)(torch.ones(2, dtype=torch.float64))")
POINTS = 64

# the in-process part of the floor, run in a fresh process so that torch's first calls are paid
_WORK = """
import json, sys, time
import numpy as np, torch
from verify.case import load_file
from verify.model import build_model
from verify.engines.symbolic import jacobian_of
from verify.engines.reference import compile_reference
[case] = load_file(sys.argv[1])
function = build_model(case).functions["F"]
n = int(sys.argv[2])
inputs = n * n + n
points = np.random.default_rng(0).uniform(-1, 1, (POINTS, inputs))
out = {}
start = time.perf_counter()
jacobian = jacobian_of(function.entries, function.flat_symbols)
out["derivation"] = time.perf_counter() - start
start = time.perf_counter()
compile_reference(jacobian, function.flat_symbols, derivative=True)(points)
out["reference"] = time.perf_counter() - start
def f(z):
    return torch.tanh(z[: n * n].reshape(n, n) @ z[n * n:])
z = torch.as_tensor(points)
torch.func.jacrev(torch.sin)(torch.ones(2, dtype=torch.float64))  # the start-up part pays the first jacrev
start = time.perf_counter()
torch.func.vmap(torch.func.jacrev(f))(z).numpy()
out["torch_rev"] = time.perf_counter() - start
start = time.perf_counter()
if POINTS * inputs * inputs * 8 <= 2 << 30:
    torch.func.vmap(torch.func.jacfwd(f))(z).numpy()
    out["fwd_how"] = "vmap(jacfwd)"
else:
    batched, block = torch.func.vmap(f), max(1, (1 << 22) // inputs)
    jacobian = torch.empty(POINTS, n, inputs, dtype=z.dtype)
    for first in range(0, inputs, block):
        last = min(inputs, first + block)
        seeds = torch.zeros(last - first, inputs, dtype=z.dtype)
        seeds[torch.arange(last - first), torch.arange(first, last)] = 1
        for p in range(POINTS):
            _, columns = torch.func.jvp(batched, (z[p].repeat(last - first, 1),), (seeds,))
            jacobian[p, :, first:last] = columns.T
    out["fwd_how"] = "jvp along unit vectors, in blocks"
out["torch_fwd"] = time.perf_counter() - start
print(json.dumps(out))
""".replace("POINTS", str(POINTS))


def wall(command: list[str], prints: bool = False) -> tuple[float, str, float]:
    """Wall time, stdout and peak memory (GiB) of `command`; raises with its stderr if it fails (or,
    when it `prints` a result, prints nothing)."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, stdout=stdout, stderr=stderr, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, not the largest child's so far
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        out, err = stdout.read(), stderr.read()
    if child.returncode not in (0, 1) or (prints and not out.strip()):
        raise RuntimeError(f"{command[:3]} exited {child.returncode} with no result: {err[-2000:]}")
    return elapsed, out, usage.ru_maxrss / 2**20


def fmt(samples: list[float]) -> str:
    return f"{min(samples):.2f} / {statistics.median(samples):.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[24, 60, 100])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("# Dense-layer cases end to end vs the floor\n")
    print(f"Command: `python benchmarks/end_to_end.py --sizes {' '.join(map(str, args.sizes))} "
          f"--repeats {args.repeats}`  ")
    print(f"Date: {time.strftime('%Y-%m-%d %H:%M')}  ")
    print(f"Machine: {machine()}\n")
    print(f"min / median of {args.repeats} runs, each part in a fresh process.\n")
    print("| case | verify `--no-cache` | verify peak memory | floor: start-up | derivation | reference | "
          "hand-written torch rev | hand-written torch fwd | floor total (medians) | verify / floor |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="verify-bench-") as name:
        tmp = Path(name)
        for size in args.sizes:
            case = tmp / f"tanh_{size}.yaml"
            case.write_text(tanh_case_text(size))
            ours, memory, start = [], [], []
            parts: dict[str, list[float]] = {"derivation": [], "reference": [], "torch_rev": [], "torch_fwd": []}
            how = ""
            for _ in range(args.repeats):
                elapsed, _, peak = wall([sys.executable, "-m", "verify", str(case), "--no-cache", "--report-dir",
                                         str(tmp / "r")])
                ours.append(elapsed)
                memory.append(peak)
                start.append(wall([sys.executable, "-c", FLOOR])[0])
                _, out, _ = wall([sys.executable, "-c", _WORK, str(case), str(size)], prints=True)
                measured = json.loads(out.strip().splitlines()[-1])
                how = measured.pop("fwd_how")
                for key, value in measured.items():
                    parts[key].append(value)
            floor = statistics.median(start) + sum(statistics.median(v) for v in parts.values())
            peak = max(memory)
            print(f"| {size}x{size} | {fmt(ours)} | {peak:.2f} GiB | {fmt(start)} | {fmt(parts['derivation'])} | "
                  f"{fmt(parts['reference'])} | {fmt(parts['torch_rev'])} | {fmt(parts['torch_fwd'])} ({how}) | "
                  f"{floor:.2f} s | **{statistics.median(ours) / floor:.2f}** |", flush=True)
    print(f"\nLoad average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
