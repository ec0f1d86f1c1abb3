"""Large tensors: a probe check (vjp and jvp of softmax) from 2^10 to 2^20 entries, beside gradcheck.

Run from the repository root:  python benchmarks/large.py   (or --quick for 2^10 and 2^12 only)

For each n, in a fresh subprocess (so peak memory is the process's own):
  * verify: `python -m verify CASE` on a generated case, F = softmax(v) with v of n entries,
    checks `vjp` and `jvp` with 1 probe at 1 point, float64: wall time and peak resident memory;
  * gradcheck: `torch.autograd.gradcheck(torch.softmax, v)` on the same n (float64, the finite
    difference reference it uses, one forward per input), stopped after a time budget.
Figures: min and median over repetitions (3 by default); the machine line gives the load.
It prints a markdown table; it writes nothing under reports/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import machine  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
GRADCHECK_BUDGET_S = 120.0
GRADCHECK_MEMORY_GIB = 8.0  # this machine has 24 GiB; a larger dense Jacobian is not attempted

CASE = """name: softmax-{n}
variables: {{v: {{low: -4, high: 4, shape: [{n}]}}}}
functions:
  sm: {{args: [v], expr: softmax(v)}}
checks:
  - vjp: sm
    probes: 1
  - jvp: sm
    probes: 1
points: {{random: 1}}
dtypes: [float64]
"""

_MEASURE = r"""
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall": wall, "peak_mib": peak_kib / 1024, "rc": done.returncode, "tail": done.stdout[-400:]}))
"""

_GRADCHECK = r"""
import sys, torch
n = int(sys.argv[1])
v = torch.empty(n, dtype=torch.float64).uniform_(-4, 4).requires_grad_()
torch.autograd.gradcheck(lambda t: torch.softmax(t, -1), (v,))
"""


def measure(command: list[str], timeout: float | None = None) -> dict[str, float] | None:
    try:
        done = subprocess.run([sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2^10 and 2^12 only, one repetition")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    sizes = [2**10, 2**12] if args.quick else [2**10, 2**12, 2**14, 2**16, 2**18, 2**20]
    print(f"Machine: {machine()}; {repeats} repetition(s) per figure\n")
    print("| n | verify vjp + jvp: wall min / median s | verify peak MiB | gradcheck: wall min / median s | "
          "gradcheck peak MiB |")
    print("|---|---|---|---|---|")
    gradcheck_gave_up = False
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"softmax_{n}.yaml"
            path.write_text(CASE.format(n=n), encoding="utf-8")
            runs = [measure([sys.executable, "-m", "verify", str(path), "--no-cache", "--quiet", "--report-dir",
                             str(Path(tmp) / "reports")]) for _ in range(repeats)]
            ok = [r for r in runs if r is not None and r["rc"] == 0]
            walls = [r["wall"] for r in ok]
            verify_text = (f"{min(walls):.2f} / {statistics.median(walls):.2f}" if walls else "failed")
            verify_peak = f"{max(r['peak_mib'] for r in ok):.0f}" if ok else "-"
            dense_gib = 2 * n * n * 8 / 2**30  # gradcheck holds the numerical and the analytical Jacobian
            if dense_gib > GRADCHECK_MEMORY_GIB:
                gradcheck_text, gradcheck_peak = f"not run (its two dense Jacobians need {dense_gib:,.0f} GiB)", "-"
            elif gradcheck_gave_up:
                gradcheck_text, gradcheck_peak = f"not run (over {GRADCHECK_BUDGET_S:.0f} s at a smaller n)", "-"
            else:
                checks = [measure([sys.executable, "-c", _GRADCHECK, str(n)], timeout=GRADCHECK_BUDGET_S)
                          for _ in range(repeats)]
                if any(c is None for c in checks):
                    gradcheck_gave_up = True
                    gradcheck_text, gradcheck_peak = f"over {GRADCHECK_BUDGET_S:.0f} s (stopped)", "-"
                else:
                    times = [c["wall"] for c in checks if c is not None]
                    gradcheck_text = f"{min(times):.2f} / {statistics.median(times):.2f}"
                    gradcheck_peak = f"{max(c['peak_mib'] for c in checks if c is not None):.0f}"
            print(f"| 2^{n.bit_length() - 1} = {n:,} | {verify_text} | {verify_peak} | {gradcheck_text} | "
                  f"{gradcheck_peak} |", flush=True)
    print(f"\nLoad average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
