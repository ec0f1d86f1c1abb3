"""Detection-power benchmark: verify vs torch.autograd.gradcheck on seeded derivative bugs.

Run from the repository root:  python benchmarks/mutants/run.py

For every case in benchmarks/mutants/cases (tagged `mutant` or `correct`, plus one tag naming the
kind of implementation) it
  1. runs verify in float64 and again in float32 (RunOptions(dtypes=...)): "caught" means any
     `fail` or `error` row;
  2. runs torch.autograd.gradcheck on the same callables at verify's own points (float64 inputs
     with requires_grad), with the defaults and again with check_forward_ad=True, and
     torch.autograd.gradgradcheck on every case that has a hessian check: "caught" means a
     GradcheckError / False / any other exception at any point, except that a forward-AD check
     of a function with no forward-mode rule counts as "not applicable", not as caught.
It prints one table and writes it, with the command, date, machine and torch version, to
benchmarks/mutants/RESULTS.md.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.autograd.gradcheck import GradcheckError

from verify.case import Case, load_file
from verify.engines.autograd import TorchEngine
from verify.model import CompiledFunction, Model, build_model
from verify.points import sample_points
from verify.run import Result, RunOptions, run_case

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CASES = HERE / "cases"
RESULTS = HERE / "RESULTS.md"
COMMAND = "python benchmarks/mutants/run.py"
ROLES = ("mutant", "correct")
DERIVATIVE_CHECKS = ("jacobian", "gradient", "hessian", "chain_rule")

# Why a tool is expected to miss a bug; printed under the table so a miss is never unexplained.
NOTES = {
    "truncated-constant": "the backward is off by ~1e-7 relative (0.797885 vs sqrt(2/pi) = 0.79788456): below "
                          "float32 rounding (verify float32 tolerance rtol 1e-4, atol 1e-5) and below gradcheck's "
                          "finite-difference tolerance (atol 1e-5, rtol 1e-3); only verify float64 (rtol 1e-7) sees it",
    "wrong-forward-rule": "only the forward-mode rule (jvp) is wrong: gradcheck's default checks reverse mode only",
    "detached-backward": "first derivatives are right: only a second-order check (verify hessian, gradgradcheck) "
                         "can see it; first-order gradcheck cannot",
    "no-grad-backward": "first derivatives are right, and the backward is differentiable in forward mode "
                        "(no_grad does not stop forward AD), so a forward-over-reverse Hessian is right; only "
                        "reverse-over-reverse (verify's rev-over-rev hessian row, gradgradcheck) shows the zeros",
}


@dataclass
class Target:
    """One function under test and what gradcheck needs for it."""

    case: Case
    function: CompiledFunction
    fn: Callable[..., Any]
    inputs: list[tuple[torch.Tensor, ...]]  # one tuple per point, float64, requires_grad
    how: str
    second_order: bool


@dataclass
class Row:
    name: str
    kind: str
    role: str
    verify: dict[str, list[Result]] = field(default_factory=dict)
    gradcheck: dict[str, list[str]] = field(default_factory=dict)  # tool -> one outcome per point


def kind_of(case: Case) -> tuple[str, str]:
    """(role, kind): the role tag, and the other tag prefixed with the letter of the file name (`a_...` -> (a))."""
    role = next((t for t in case.tags if t in ROLES), "?")
    kind = next((t for t in case.tags if t not in ROLES), "?")
    letter = Path(case.file).stem.split("_")[0]
    if role == "mutant":
        kind = f"({letter.replace('2', chr(39))}) {kind}"
    return role, kind


def load_cases() -> list[Case]:
    cases: list[Case] = []
    # by file name, the letter of the bug kind first: a_..., ..., g_..., g2_..., h_..., then ok_...
    for path in sorted(CASES.glob("*.yaml"), key=lambda p: p.stem.replace("_", " ")):
        for case in load_file(path, str(path.relative_to(ROOT))):
            if not isinstance(case, Case):
                raise SystemExit(f"cannot load {path}: {case.error.render()}")
            cases.append(case)
    return cases


# -- gradcheck side ------------------------------------------------------------------------------
def targets_of(case: Case) -> list[Target]:
    """The functions the case checks, with verify's points and the torch callable verify tests."""
    model: Model = build_model(case)
    engine = TorchEngine(model)
    out: list[Target] = []
    names = dict.fromkeys(c.target for c in model.checks if c.kind in DERIVATIVE_CHECKS)
    for name in names:
        function = model.functions[name]
        second_order = any(c.kind == "hessian" and c.target == name for c in model.checks)
        sample = sample_points(case, function.args, function.input_labels())
        points = torch.as_tensor(sample.flat, dtype=torch.float64)
        if function.impl:
            # the impl itself, called with one tensor per argument, as a user would gradcheck it
            fn = engine.impls_for(function)[name]
            sizes = [math.prod(a.shape) for a in function.args]
            shapes = [a.shape for a in function.args]
            inputs = []
            for row in points:
                parts = torch.split(row, sizes)
                inputs.append(tuple(p.reshape(s).clone().requires_grad_(True) for p, s in zip(parts, shapes)))
            how = f"impl {function.impl}"
        else:
            # a composition: verify's own torch callable (plain stages lowered, impl stages called)
            fn = engine.torch_function(function, "float64", "cpu")
            inputs = [(row.clone().requires_grad_(True),) for row in points]
            how = "verify's torch function of the composition (flat inputs)"
        out.append(Target(case, function, fn, inputs, how, second_order))
    return out


def _forward_unsupported(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, NotImplementedError) and ("jvp" in text or "forward" in text)


def gradcheck_outcome(check: Callable[..., bool], fn: Callable[..., Any], inputs: tuple[torch.Tensor, ...],
                      **options: Any) -> str:
    """'pass', 'caught-bwd', 'caught-fwd', 'caught-2nd', 'caught-other' or 'n/a' for one point."""
    try:
        ok = check(fn, inputs, **options)
    except GradcheckError as exc:
        text = str(exc)
        if "forward mode" in text:
            return "caught-fwd"
        if check is torch.autograd.gradgradcheck:
            return "caught-2nd"
        return "caught-bwd" if "Jacobian mismatch" in text else "caught-other"
    except Exception as exc:  # noqa: BLE001 - any exception of the check is its verdict
        if options.get("check_forward_ad") and _forward_unsupported(exc):
            return "n/a"
        return "caught-other"
    return "pass" if ok else "caught-other"


def run_gradcheck(targets: list[Target], tool: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for target in targets:
        key = target.case.id
        if tool == "gradgradcheck" and not target.second_order:
            continue
        outcomes = out.setdefault(key, [])
        for inputs in target.inputs:
            if tool == "gradcheck":
                outcomes.append(gradcheck_outcome(torch.autograd.gradcheck, target.fn, inputs))
            elif tool == "gradcheck+fwd":
                outcomes.append(gradcheck_outcome(torch.autograd.gradcheck, target.fn, inputs, check_forward_ad=True))
            else:
                outcomes.append(gradcheck_outcome(torch.autograd.gradgradcheck, target.fn, inputs))
    return out


# -- table ---------------------------------------------------------------------------------------
def verify_cell(results: list[Result]) -> tuple[str, bool]:
    bad = [r for r in results if r.status in ("fail", "error")]
    if not bad:
        return "no", False
    modes = sorted({f"{r.check}:{r.mode}" if r.check not in ("jacobian", "gradient") else r.mode for r in bad})
    return f"yes ({', '.join(modes)})", True


GRADCHECK_LABEL = {"caught-bwd": "backward", "caught-fwd": "forward", "caught-2nd": "2nd order",
                   "caught-other": "other"}


def gradcheck_cell(outcomes: list[str] | None) -> tuple[str, bool | str]:
    """Text, and True (caught), False (not caught), "n/a" (no forward-mode rule) or "not run"."""
    if outcomes is None:
        return "not run", "not run"
    caught = [o for o in outcomes if o.startswith("caught")]
    if caught:
        parts = [f"{GRADCHECK_LABEL[o]} at {caught.count(o)}/{len(outcomes)} pts" for o in sorted(set(caught))]
        return f"yes ({'; '.join(parts)})", True
    if "n/a" in outcomes:
        return "n/a (no forward-mode rule)", "n/a"
    return "no", False


def markdown(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def main() -> int:
    os.chdir(ROOT)  # impls are imported as benchmarks.mutants.impls, relative to the repository root
    started = time.perf_counter()
    cases = load_cases()
    rows = {c.id: Row(c.name, kind_of(c)[1], kind_of(c)[0]) for c in cases}
    times: dict[str, float] = {}

    for dtype in ("float64", "float32"):
        start = time.perf_counter()
        for case in cases:
            rows[case.id].verify[dtype] = run_case(case, RunOptions(dtypes=(dtype,)))
        times[f"verify {dtype}"] = time.perf_counter() - start
    start = time.perf_counter()  # the first pass paid one-time costs: measure float64 again, warm
    for case in cases:
        run_case(case, RunOptions(dtypes=("float64",)))
    warm_float64 = time.perf_counter() - start

    targets = [t for case in cases for t in targets_of(case)]  # points and callables: not timed
    for tool in ("gradcheck", "gradcheck+fwd", "gradgradcheck"):
        start = time.perf_counter()
        for key, outcomes in run_gradcheck(targets, tool).items():
            rows[key].gradcheck[tool] = outcomes
        times[tool] = time.perf_counter() - start

    header = ["implementation", "kind", "bug/correct", "verify float64 caught?", "verify float32 caught?",
              "gradcheck caught?", "gradcheck+forward caught?", "gradgradcheck caught? (hessian cases only)"]
    tools = ["verify float64", "verify float32", "gradcheck", "gradcheck+fwd", "gradgradcheck"]
    tally = {t: {"caught": 0, "missed": 0, "n/a": 0, "not run": 0, "false": 0, "correct": 0} for t in tools}
    table: list[list[str]] = []
    for row in rows.values():
        cells: list[str] = []
        verdicts: list[bool | str] = []
        for dtype in ("float64", "float32"):
            text, caught = verify_cell(row.verify[dtype])
            cells.append(text)
            verdicts.append(caught)
        for tool in ("gradcheck", "gradcheck+fwd", "gradgradcheck"):
            text, flag = gradcheck_cell(row.gradcheck.get(tool))
            cells.append(text)
            verdicts.append(flag)
        for tool, verdict in zip(tools, verdicts):
            if isinstance(verdict, str):
                tally[tool][verdict] += 1
            elif row.role == "mutant":
                tally[tool]["caught" if verdict else "missed"] += 1
            else:
                tally[tool]["correct"] += 1
                tally[tool]["false"] += int(verdict)
        if row.role == "mutant" and any(row.kind.endswith(k) for k in NOTES):
            cells = [c + " (see notes)" if c == "no" else c for c in cells]
        table.append([row.name, row.kind, "bug" if row.role == "mutant" else "correct", *cells])

    mutants = sum(r.role == "mutant" for r in rows.values())
    correct = len(rows) - mutants
    summary = [
        [f"**caught** (of {mutants} bugs)", "", "", *(str(tally[t]["caught"]) for t in tools)],
        ["**missed**", "", "", *(str(tally[t]["missed"]) for t in tools)],
        ["**n/a** (no forward-mode rule, bugs + correct)", "", "", *(str(tally[t]["n/a"]) for t in tools)],
        ["**not run** (no hessian check)", "", "", *(str(tally[t]["not run"]) for t in tools)],
        [f"**false alarms** (of {correct} correct)", "", "",
         *(f"{tally[t]['false']} of {tally[t]['correct']}" for t in tools)],
        ["**wall time, s**", "", "", *(f"{times[t]:.2f}" for t in tools)],
    ]
    text = markdown(header, table + summary)
    total = time.perf_counter() - started

    points = {t.case.id: len(t.inputs) for t in targets}
    timing = (f"- timing: verify float64 is the first pass in the process ({times['verify float64']:.2f} s): it pays "
              "the one-time costs (imports of the engines, first torch.func transforms, SymPy's derivation cache) "
              f"that the float32 pass reuses; rerun warm, float64 takes {warm_float64:.2f} s. gradcheck times cover the "
              "gradcheck calls only (points and callables are prepared outside the timed loop); verify times cover "
              "everything verify does per case (YAML already loaded): symbolic derivation, exact reference, torch.")
    notes = [timing] + [f"- `{kind}`: {note}" for kind, note in NOTES.items()
                        if any(r.kind.endswith(kind) for r in rows.values())]
    details = []
    for row in rows.values():
        for dtype in ("float64", "float32"):
            bad = [r for r in row.verify[dtype] if r.status in ("fail", "error")]
            for r in bad[:2]:
                details.append(f"- {row.name} [{dtype}] {r.status} {r.check}/{r.mode}: {r.message}")
            skipped = [r for r in row.verify[dtype] if r.status == "skip"]
            for r in skipped[:1]:
                details.append(f"- {row.name} [{dtype}] skip {r.check}/{r.mode}: {r.message}")
    machine = f"{platform.processor() or '(empty)'}/{platform.machine()}"
    report = "\n".join([
        "# Detection power: verify vs torch.autograd.gradcheck on seeded derivative bugs",
        "",
        f"- command: `{COMMAND}` (from the repository root)",
        f"- date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- machine: {machine} (platform.processor()/platform.machine()), "
        f"python {platform.python_version()}, torch {torch.__version__}",
        f"- cases: `benchmarks/mutants/cases/*.yaml`, implementations: `benchmarks/mutants/impls.py`; "
        f"points: verify's own ({', '.join(sorted(set(map(str, points.values()))))} per case, "
        "seeded), the same for every tool",
        "",
        "\"Caught\" means any `fail`/`error` row (verify) or a GradcheckError, `False` or other exception at any "
        "point (gradcheck). For verify the brackets name the failing modes (`rev`, `fwd`, `fwd-over-rev` = "
        "hessian, `chain_rule:rev` = the torch Jacobian of the composition); for gradcheck, which part failed "
        "and at how many points. `gradcheck+forward` is gradcheck(..., check_forward_ad=True): it checks reverse "
        "mode first, so a backward bug is reported there as `backward`; on a function with no forward-mode rule "
        "it raises NotImplementedError, counted as **n/a**, not as caught. gradgradcheck runs only on the cases "
        "with a hessian check: a second-order bug is invisible to first-order checks (gradcheck, "
        "verify jacobian/gradient). On correct implementations, \"yes\" is a false alarm.",
        "",
        text,
        "",
        "Notes (timing; why a tool misses where it does):",
        *notes,
        "",
        "verify's failure messages (first two per precision) and forward-mode skips:",
        *details,
        "",
        f"Total run time of the script: {total:.1f} s.",
        "",
    ])
    RESULTS.write_text(report, encoding="utf-8")
    print(text)
    print()
    print("\n".join(notes))
    print(f"\nwrote {RESULTS.relative_to(ROOT)}; total {total:.1f} s")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
