"""Per-case time budgets: a symbolic blow-up becomes an `error` naming the stage, and the run goes on."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch  # noqa: F401 - imported up front, so a budget below is spent on the case, not on imports

from verify.case import load_file
from verify.engines import autograd, symbolic  # noqa: F401
from verify.run import RunOptions, run_case

BLOW_UP = """
name: blow-up
description: proving this claim expands a polynomial of degree 59 in three variables (about a minute)
variables: {x: {low: -1, high: 1}, y: {low: -1, high: 1}, z: {low: -1, high: 1}}
functions:
  f: (x + y + z + 1)**60
checks:
  - gradient: f
    expect: ["60*(x + y + z + 1)**59*(sin(x)**2 + cos(x)**2)", "60*(x + y + z + 1)**59", "60*(x + y + z + 1)**59"]
  - value: f
"""

QUICK = """
name: quick
variables: [x]
functions:
  f: x**2
checks:
  - gradient: f
    expect: 2*x
"""


def test_a_blow_up_becomes_an_error_naming_the_stage(write_case) -> None:
    case = load_file(write_case(BLOW_UP))[0]
    start = time.perf_counter()
    rows = run_case(case, RunOptions(timeout_s=3, proof_budget_s=600))
    elapsed = time.perf_counter() - start
    assert elapsed < 6, elapsed
    assert [r.status for r in rows] == ["error"]
    message = rows[0].message
    assert "ran out of its 3 s time budget while judging the expect claim on the gradient of f" in message
    assert rows[0].line == 7 and rows[0].check == "gradient"


def test_results_finished_before_the_budget_ran_out_are_kept(write_case) -> None:
    text = BLOW_UP.replace("checks:\n", "checks:\n  - value: f\n", 1)
    case = load_file(write_case(text))[0]
    rows = run_case(case, RunOptions(timeout_s=3, proof_budget_s=600))
    assert [r.status for r in rows][:1] == ["pass"] and rows[0].mode == "value"
    assert rows[-1].status == "error" and "time budget" in rows[-1].message


def test_the_run_goes_on_after_a_timeout(write_case, run_cli, tmp_path: Path) -> None:
    slow = write_case(BLOW_UP, name="a_slow.yaml")
    quick = write_case(QUICK, name="b_quick.yaml")
    code, output = run_cli(str(slow), str(quick), "--timeout", "5", "--proof-budget", "600", "--no-cache")
    assert code == 1
    assert "ran out of its 5 s time budget" in output
    records = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert {r["status"] for r in records if r["case"] == "quick"} == {"pass"}
    assert [r["status"] for r in records if r["case"] == "blow-up"] == ["error"]


def test_without_a_budget_nothing_is_interrupted(write_case) -> None:
    case = load_file(write_case(QUICK))[0]
    assert {r.status for r in run_case(case, RunOptions(timeout_s=None))} == {"pass"}


def test_an_inner_budget_does_not_absorb_the_outer_deadline() -> None:
    from verify.budget import BudgetExceededError, time_budget

    start = time.perf_counter()
    try:
        with time_budget(0.3) as outer, time_budget(10.0) as inner:
            while True:
                pass
    except BudgetExceededError as exc:
        assert outer.owns(exc) and not inner.owns(exc)
    assert time.perf_counter() - start < 2
