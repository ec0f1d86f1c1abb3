"""Seeded mutants: how many one-line bugs in verify/ does a fast subset of the tests catch?

Copies the working tree (without .git and generated files) to a temporary folder, then for each
mutant below: applies it there (an exact one-line replacement that must match once), runs the
test subset against that copy, and reverts it. A mutant is *killed* when the tests fail. Prints
one line per mutant and the mutation score, killed/total. /work/main itself is never changed.

    python benchmarks/mutation/run.py            # every mutant
    python benchmarks/mutation/run.py -k report  # mutants whose id contains "report"

Not part of .ci/run: it takes minutes (one test run per mutant, stopping at the first failure).
Last run (issue 12): 20/21 killed in about 4 minutes; the survivor, points-listed-dropped, is an
equivalent mutant (Sample.listed is never read).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ["tests/reporting", "tests/ci/test_junit.py", "tests/ci/test_annotate.py", "tests/ci/test_output_hygiene.py",
         "tests/ci/test_baseline.py", "tests/ci/test_terminal.py", "tests/ci/test_html_report.py",
         "tests/engines/test_autograd.py", "tests/cli/test_cli.py"]
DESELECT = "not test_selection_and_jobs_do_not_move_warm_up_into_slowdowns"  # minutes of subprocesses


@dataclass(frozen=True)
class Mutant:
    id: str
    path: str
    old: str
    new: str


MUTANTS = [
    Mutant("points-ignores-seed", "verify/points.py",
           "rng = np.random.default_rng([seed, key])", "rng = np.random.default_rng([0, key])"),
    Mutant("hessian-rev-over-fwd", "verify/engines/autograd.py",
           "return outer(func.jacrev(scalar))",
           "return func.jacrev(func.jacfwd(scalar)) if outer is func.jacfwd else outer(func.jacrev(scalar))"),
    Mutant("md-drops-excluded-column", "verify/report.py",
           '"status", "points", "excluded",\n', '"status", "points",\n'),
    Mutant("csv-no-formula-escape", "verify/report.py",
           '_FORMULA_START = ("=", "+", "-", "@", "\\t", "\\r")', '_FORMULA_START = ("+", "-", "@", "\\t", "\\r")'),
    Mutant("message-cap-10x", "verify/report.py", "MESSAGE_CHARS = 4_000", "MESSAGE_CHARS = 40_000"),
    Mutant("json-inf-as-null", "verify/report.py",
           'return "inf" if value > 0 else "-inf"', "return None"),
    Mutant("md-no-html-escape", "verify/report.py",
           "html.escape(text, quote=False))", "text)"),
    Mutant("no-neutralize", "verify/annotate.py",
           'return _COMMAND_START.sub(r"\\1\\2\\\\::", text).replace(_LEGACY, "##\\\\[")', "return text"),
    Mutant("annotation-keeps-newlines", "verify/annotate.py",
           '.replace("\\n", "%0A")', ""),
    Mutant("junit-xpass-not-counted", "verify/junit.py",
           'failures=str(counts["fail"] + counts["xpass"])', 'failures=str(counts["fail"])'),
    Mutant("junit-xfail-as-failure", "verify/junit.py",
           'ET.SubElement(case, "skipped", message=f"xfail: {headline}"',
           'ET.SubElement(case, "failure", message=f"xfail: {headline}"'),
    Mutant("baseline-new-failure-inverted", "verify/baseline.py",
           "if status in NOT_OK and before_status not in NOT_OK:", "if status in NOT_OK and before_status in NOT_OK:"),
    Mutant("baseline-last-not-median", "verify/baseline.py",
           "before_s = statistics.median(past)", "before_s = past[-1]"),
    Mutant("baseline-no-load", "verify/baseline.py",
           "return max(1.0, statistics.median(ratios))", "return 1.0"),
    Mutant("xpass-is-ok", "verify/results.py",
           'NOT_OK = frozenset({"fail", "error", "xpass"})', 'NOT_OK = frozenset({"fail", "error"})'),
    Mutant("tolerance-rtol-ignored", "verify/compare.py",
           "allowed = tolerance.atol + tolerance.rtol * np.where", "allowed = tolerance.atol + 0 * np.where"),
    Mutant("compare-strict-inequality", "verify/compare.py",
           "bad = ~finite | ~(error <= allowed)", "bad = ~finite | ~(error < allowed)"),
    Mutant("summary-wrong-word", "verify/report.py",
           'words = {"pass": "passed", "fail": "failed"', 'words = {"pass": "passed", "fail": "fail"'),
    Mutant("html-unescaped", "verify/html_report.py",
           "return html.escape(str(value), quote=True)", "return str(value)"),
    Mutant("terminal-total-row", "verify/terminal.py",
           'lines.append(row("total", [str(total[s]) for s in _STATUSES]))',
           'lines.append(row("total", [str(total[s] - (s == "pass")) for s in _STATUSES]))'),
    # equivalent today: nothing reads Sample.listed (it survives; a use of the field would make it count)
    Mutant("points-listed-dropped", "verify/points.py",
           "        listed += 1\n", "        listed += 0\n"),
]


def _ignore(directory: str, names: list[str]) -> set[str]:
    skip = {".git", "reports", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"}
    return {n for n in names if n in skip or n.endswith(".egg-info")}


def _run_tests(tree: Path, timeout: float) -> tuple[bool, float]:
    """Whether the subset passes against `tree` (its verify/ first on the path), and the seconds taken."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-k", DESELECT,
                               *TESTS], cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, time.perf_counter() - start  # a hang counts as caught
    return done.returncode == 0, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="select", default="", help="only mutants whose id contains this text")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per test run (default 900)")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if args.select in m.id]
    with tempfile.TemporaryDirectory(prefix="verify-mutants-") as temp:
        tree = Path(temp) / "tree"
        shutil.copytree(ROOT, tree, ignore=_ignore)
        probe = subprocess.run([sys.executable, "-c", "import verify; print(verify.__file__)"], cwd=tree,
                               env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True)
        assert probe.stdout.strip().startswith(str(tree)), f"verify imports from {probe.stdout.strip()}, not the copy"
        ok, seconds = _run_tests(tree, args.timeout)
        if not ok:
            print("the test subset fails without any mutant: fix that first", file=sys.stderr)
            return 2
        print(f"unmutated: tests pass ({seconds:.0f}s)", flush=True)
        killed = 0
        for mutant in chosen:
            target = tree / mutant.path
            original = target.read_text(encoding="utf-8")
            if original.count(mutant.old) != 1:
                print(f"{mutant.id:32} STALE (the line to mutate is not in {mutant.path} exactly once)")
                continue
            target.write_text(original.replace(mutant.old, mutant.new), encoding="utf-8")
            try:
                passed, seconds = _run_tests(tree, args.timeout)
            finally:
                target.write_text(original, encoding="utf-8")
            killed += not passed
            print(f"{mutant.id:32} {'killed' if not passed else 'SURVIVED':8} ({seconds:.0f}s)", flush=True)
    print(f"mutation score: {killed}/{len(chosen)} killed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
