"""Whole-run benchmark: start-up time, a run of the shipped cases cold and warm, and one large case.

Run from the repository root:  python benchmarks/whole_run.py   (or --quick for a smoke run)

(a) start-up: wall time of `python -c "import verify"` and `python -m verify --help` (beside
    `python -c pass`), and which heavy modules each pulls in (sys.modules checked in a subprocess);
(b) `python -m verify cases/ --report-dir TMP --cache-dir DIR`: cold (DIR fresh) and warm
    (the same DIR again);
(c) the generated case F = tanh(W @ x), W 24 x 24, x 24 (Jacobian w.r.t. W and x, 24 x 600):
    wall time of `python -m verify CASE`, cold (fresh cache) and with the cache off.
Every figure is the wall time of a subprocess, the median of several runs; the machine may be shared.
It prints markdown tables and writes nothing under reports/ (reports go to a temporary directory).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from common import tanh_case_text  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "sympy", "symengine", "numpy", "scipy", "pandas", "yaml")
LARGE_TARGET_S = 30.0

# Prints, on stderr, which HEAVY modules are loaded after running the given code or `python -m verify ARGS`.
_PROBE = """
import json, runpy, sys
heavy = {heavy!r}
if {module!r}:
    sys.argv = ["verify", *{args!r}]
    try:
        runpy.run_module("verify", run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
else:
    exec({code!r})
sys.stderr.write("LOADED " + json.dumps([m for m in heavy if m in sys.modules]) + "\\n")
"""


def machine() -> str:
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"{platform.platform()}, {os.cpu_count()} CPUs (load average at start: {load}); "
            f"Python {platform.python_version()}")


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def wall(command: Sequence[str], check: bool = True) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(list(command), cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if check and done.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return seconds, done


def median_wall(command: Sequence[str], repeats: int) -> tuple[float, list[float]]:
    samples = [wall(command)[0] for _ in range(repeats)]
    return statistics.median(samples), samples


def loaded_modules(code: str = "", module_args: Sequence[str] | None = None) -> list[str]:
    probe = _PROBE.format(heavy=HEAVY, module=module_args is not None, args=list(module_args or []), code=code)
    _, done = wall([sys.executable, "-c", probe])
    line = next(x for x in done.stderr.splitlines() if x.startswith("LOADED "))
    return json.loads(line[len("LOADED "):])


def startup_table(repeats: int) -> str:
    rows = [f"| command | median wall time ({repeats} runs) | runs | heavy modules loaded (of {', '.join(HEAVY)}) |",
            "|---|---|---|---|"]
    python = sys.executable
    for label, command, modules in (
        ('`python -c "pass"` (interpreter alone)', [python, "-c", "pass"], loaded_modules("pass")),
        ('`python -c "import verify"`', [python, "-c", "import verify"], loaded_modules("import verify")),
        ("`python -m verify --help`", [python, "-m", "verify", "--help"], loaded_modules(module_args=["--help"])),
    ):
        median, samples = median_wall(command, repeats)
        rows.append(f"| {label} | {fmt(median)} | {', '.join(fmt(s) for s in samples)} | "
                    f"{', '.join(modules) or 'none'} |")
    return "\n".join(rows)


def report_sums(report_dir: Path) -> dict[str, float]:
    with open(report_dir / "report.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {column: sum(float(r[column] or 0) for r in rows) for column in ("symbolic_s", "reference_s", "autograd_s")}


def verify_runs(paths: Sequence[str], repeats: int, tmp: Path) -> dict[str, list[tuple[float, dict[str, float], str, int]]]:
    """Cold (fresh --cache-dir), warm (same again) and --no-cache runs of `python -m verify PATHS`."""
    runs: dict[str, list[tuple[float, dict[str, float], str, int]]] = {"cold (fresh --cache-dir)": [],
                                                                        "warm (same --cache-dir again)": [],
                                                                        "no cache (--no-cache)": []}
    for _ in range(repeats):
        cache = Path(tempfile.mkdtemp(prefix="cache-", dir=tmp))  # fresh and empty: a cold cache
        report = tmp / "report"
        for label, extra in (("cold (fresh --cache-dir)", ["--cache-dir", str(cache)]),
                             ("warm (same --cache-dir again)", ["--cache-dir", str(cache)]),
                             ("no cache (--no-cache)", ["--no-cache"])):
            seconds, done = wall([sys.executable, "-m", "verify", *paths, "--report-dir", str(report), *extra])
            summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()
            runs[label].append((seconds, report_sums(report), summary, done.returncode))
    return runs


def runs_table(runs: dict[str, list[tuple[float, dict[str, float], str, int]]], target: float | None = None) -> str:
    repeats = len(next(iter(runs.values())))
    head = "| run | min / median wall time | runs | symbolic_s | reference_s | autograd_s | exit | verify's summary line |"
    rows = [head + (" meets target |" if target else ""),
            "|---|---|---|---|---|---|---|---|" + ("---|" if target else "")]
    for label, samples in runs.items():
        median = statistics.median(s[0] for s in samples)
        sums = {c: statistics.median(s[1][c] for s in samples) for c in ("symbolic_s", "reference_s", "autograd_s")}
        codes = sorted({s[3] for s in samples})
        meets = ("" if not target else (" yes |" if median < target else " **no** |"))
        low = min(s[0] for s in samples)
        rows.append(f"| {label} | {fmt(low)} / {fmt(median)} | {', '.join(fmt(s[0]) for s in samples)} | "
                    f"{fmt(sums['symbolic_s'])} | "
                    f"{fmt(sums['reference_s'])} | {fmt(sums['autograd_s'])} | {', '.join(map(str, codes))} | "
                    f"{samples[-1][2]} |{meets}")
    return (f"Medians of {repeats} run(s); symbolic_s, reference_s and autograd_s are the sums of report.csv's "
            "columns (medians over the runs).\n\n" + "\n".join(rows))




def seed_table(repeats: int, tmp: Path) -> str:
    """`python -m verify cases/seed/vector_chain_rule.yaml` beside the floor `import torch; jacrev(sin)`."""
    python = sys.executable
    floor = 'import torch; from torch.func import jacrev; jacrev(torch.sin)(torch.ones(2))'
    rows = [f"| command | min / median wall time ({repeats} runs) | runs |", "|---|---|---|"]
    for label, command in (
        (f'floor: `python -c "{floor}"`', [python, "-c", floor]),
        ("`python -m verify cases/seed/vector_chain_rule.yaml --no-cache`",
         [python, "-m", "verify", "cases/seed/vector_chain_rule.yaml", "--no-cache", "--report-dir", str(tmp / "seed")]),
    ):
        samples = [wall(command)[0] for _ in range(repeats)]
        rows.append(f"| {label} | {fmt(min(samples))} / {fmt(statistics.median(samples))} | "
                    f"{', '.join(fmt(s) for s in samples)} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 start-up runs, 1 run of each verify command, an 8 x 8 large case")
    args = parser.parse_args(argv)
    startup_repeats, repeats, size = (2, 1, 8) if args.quick else (5, 3, 24)
    print("# Whole-run benchmark\n")
    print(f"Command: `python benchmarks/whole_run.py{' --quick' if args.quick else ''}`  ")
    print(f"Date: {time.strftime('%Y-%m-%d %H:%M')}  ")
    print(f"Machine: {machine()}\n")
    print("All figures are wall times of subprocesses started from the repository root.\n")
    print("## (a) Start-up\n", flush=True)
    print(startup_table(startup_repeats))
    with tempfile.TemporaryDirectory(prefix="verify-bench-") as name:
        tmp = Path(name)
        print("\n## (b) `python -m verify cases/ --report-dir TMP` (plus --cache-dir DIR or --no-cache)\n", flush=True)
        print(runs_table(verify_runs(["cases/"], repeats, tmp)))
        case = tmp / f"tanh_layer_{size}.yaml"
        case.write_text(tanh_case_text(size))
        print(f"\n## (c) One large case: F = tanh(W @ x), W {size}x{size}, x {size} "
              f"(Jacobian {size} x {size * size + size}, {size * (size * size + size):,} entries; default 64 points, "
              f"float64, rev and fwd)\n", flush=True)
        print("```yaml\n" + tanh_case_text(size) + "```\n")
        print(runs_table(verify_runs([str(case)], repeats, tmp), target=LARGE_TARGET_S if size == 24 else None))
        if size == 24:
            print(f"\nTarget: under {LARGE_TARGET_S:.0f} s.")
        print("\n## (d) A small seed case against the floor of any torch program that differentiates\n", flush=True)
        print(seed_table(startup_repeats, tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
