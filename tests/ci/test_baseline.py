"""--baseline FILE: new failures, fixes and slowdowns against an earlier report.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verify.baseline import compare

GOOD = """
name: claim
variables: [x]
functions:
  f: x**3
checks:
  - gradient: f
    expect: 3*x**2
points: {random: 4}
modes: [rev]
---
name: steady
variables: [x]
functions: {f: sin(x)}
points: {random: 4}
modes: [rev]
"""
BROKEN = GOOD.replace("expect: 3*x**2", "expect: 3*x")

TIMINGS = ("symbolic_s", "reference_s", "autograd_s")


def diff_of(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "reports" / "baseline_diff.json").read_text(encoding="utf-8"))


def test_baseline_lifecycle(write_case, run_cli, records, tmp_path: Path) -> None:
    path = write_case(GOOD)
    baseline = tmp_path / "ci" / "baseline.json"

    # 1. no baseline yet: --update-baseline creates it from this run's records
    code, output = run_cli(str(path), "--baseline", str(baseline), "--update-baseline")
    assert code == 0, output
    assert json.loads(baseline.read_text(encoding="utf-8")) == records(tmp_path / "reports")

    # 2. the claim breaks: a new failure, exit 1, named in the output and in baseline_diff.json
    path.write_text(BROKEN, encoding="utf-8")
    code, output = run_cli(str(path), "--baseline", str(baseline))
    assert code == 1
    diff = diff_of(tmp_path)
    assert [(e["case"], e["mode"], e["before"], e["now"]) for e in diff["new_failures"]] == [
        ("claim", "expect", "pass", "fail")]
    assert "false at entry" in diff["new_failures"][0]["message"]
    assert diff["fixed"] == [] and diff["only_now"] == 0 and diff["only_before"] == 0
    assert diff["compared"] == len(records(tmp_path / "reports"))
    assert "1 new failure(s)" in output and "NEW FAILURE" in output
    # the baseline itself is untouched without --update-baseline
    assert {r["status"] for r in json.loads(baseline.read_text(encoding="utf-8"))} == {"pass"}

    # 3. accept the failing state as the baseline, then fix the claim: reported as fixed
    assert run_cli(str(path), "--baseline", str(baseline), "--update-baseline")[0] == 1
    path.write_text(GOOD, encoding="utf-8")
    code, output = run_cli(str(path), "--baseline", str(baseline))
    assert code == 0, output
    diff = diff_of(tmp_path)
    assert diff["new_failures"] == []
    assert [(e["case"], e["mode"], e["before"], e["now"]) for e in diff["fixed"]] == [("claim", "expect", "fail", "pass")]
    assert "FIXED" in output


def test_a_new_failing_record_counts_as_new_failure(write_case, run_cli, tmp_path: Path) -> None:
    path = write_case(GOOD)
    baseline = tmp_path / "baseline.json"
    baseline.write_text("[]", encoding="utf-8")  # an empty baseline: every record is new
    path.write_text(BROKEN, encoding="utf-8")
    assert run_cli(str(path), "--baseline", str(baseline))[0] == 1
    diff = diff_of(tmp_path)
    assert [(e["case"], e["before"]) for e in diff["new_failures"]] == [("claim", None)]
    assert diff["only_now"] > 0 and diff["compared"] == 0


def test_timing_regressions_fail_only_with_fail_on_slowdown(write_case, run_cli, records, tmp_path: Path) -> None:
    path = write_case(GOOD)
    assert run_cli(str(path))[0] == 0
    fast = records(tmp_path / "reports")
    for record in fast:  # a baseline in which everything took no time at all
        record.update(dict.fromkeys(TIMINGS, 0.0))
    baseline = tmp_path / "fast.json"
    baseline.write_text(json.dumps(fast), encoding="utf-8")

    args = (str(path), "--baseline", str(baseline), "--timing-min-seconds", "0")
    code, output = run_cli(*args)
    assert code == 0, output
    slower = diff_of(tmp_path)["slower"]
    timed = [r for r in records(tmp_path / "reports") if sum(r[t] for t in TIMINGS) > 0]
    assert len(slower) == len(timed) > 0
    assert all(e["before_s"] == 0 and e["now_s"] > 0 for e in slower)
    assert "SLOWER" in output
    assert run_cli(*args, "--fail-on-slowdown")[0] == 1
    # the same growth under an absolute floor it does not reach is no slowdown
    code, _ = run_cli(str(path), "--baseline", str(baseline), "--timing-min-seconds", "1000", "--fail-on-slowdown")
    assert code == 0 and diff_of(tmp_path)["slower"] == []


def _record(seconds: float, status: str = "pass", mode: str = "rev") -> dict:
    return {"file": "f.yaml", "case": "c", "check": "jacobian", "function": "F", "dtype": "float64",
            "device": "cpu", "mode": mode, "status": status, "symbolic_s": seconds / 2, "reference_s": 0.0,
            "autograd_s": seconds / 2}


@pytest.mark.parametrize(
    ("before", "now", "slower"),
    [(0.10, 0.25, True),  # 2.5x and +0.15 s
     (0.10, 0.19, False),  # under 2x
     (0.01, 0.05, False),  # 5x, but only +0.04 s
     (0.00, 0.06, True),  # from nothing to over the floor
     (0.30, 0.20, False)],  # faster
)
def test_timing_threshold_is_a_factor_and_an_absolute_floor(before: float, now: float, slower: bool) -> None:
    diff = compare([_record(before)], [_record(now)], factor=2.0, min_seconds=0.05)
    assert bool(diff.slower) is slower


def test_rows_are_matched_by_their_key_and_occurrence() -> None:
    before = [_record(0.1, "pass"), _record(0.1, "fail"), _record(0.1, "pass", mode="fwd")]
    now = [_record(0.1, "fail"), _record(0.1, "pass"), _record(0.1, "pass", mode="fwd")]
    diff = compare(before, now)
    assert [(e["mode"], e["before"], e["now"]) for e in diff.new_failures] == [("rev", "pass", "fail")]
    assert [(e["mode"], e["before"], e["now"]) for e in diff.fixed] == [("rev", "fail", "pass")]
    assert diff.compared == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--update-baseline"], "needs --baseline"),
     (["--fail-on-slowdown"], "needs --baseline"),
     (["--baseline", "{tmp}/missing.json"], "no such file"),
     (["--baseline", "{tmp}/bad.json"], "not a readable report.json"),
     (["--baseline", "{tmp}/dict.json"], "expected a JSON list"),
     (["--timing-threshold", "0"], "--timing-threshold")],
)
def test_bad_baseline_usage_exits_2(write_case, run_cli, capsys, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "dict.json").write_text('{"a": 1}', encoding="utf-8")
    path = write_case(GOOD)
    code, _ = run_cli(str(path), *(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "reports").exists(), "a bad baseline is found before anything runs"
