"""--baseline FILE: new failures, fixes and slowdowns against an earlier report.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from verify.baseline import REPEATS, compare, save_baseline
from verify.cli import _slowdown_argv

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
    saved = json.loads(baseline.read_text(encoding="utf-8"))
    assert [{k: v for k, v in r.items() if k != "repeats_s"} for r in saved] == records(tmp_path / "reports")
    assert all(r["repeats_s"] == [pytest.approx(sum(r[t] for t in TIMINGS))] for r in saved)

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
    assert run_cli(*args, "--fail-on-slowdown", "3.5")[0] == 1  # from 0 s, every factor is exceeded
    # the same growth under an absolute floor it does not reach is no slowdown
    code, _ = run_cli(str(path), "--baseline", str(baseline), "--timing-min-seconds", "1000", "--fail-on-slowdown")
    assert code == 0 and diff_of(tmp_path)["slower"] == []


def _record(seconds: float, status: str = "pass", mode: str = "rev", case: str = "c", **more: object) -> dict:
    return {"file": "f.yaml", "case": case, "check": "jacobian", "function": "F", "dtype": "float64",
            "device": "cpu", "mode": mode, "status": status, "symbolic_s": seconds / 2, "reference_s": 0.0,
            "autograd_s": seconds / 2, **more}


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


# -- medians over repeats, noise, load, warm-up ---------------------------------------------------------

def test_the_baseline_time_is_the_median_of_its_repeats() -> None:
    # the last repeat was an outlier (a busy machine): the median, not the last time, is the baseline
    before = [_record(5.0, repeats_s=[0.1, 0.1, 0.1, 0.1, 5.0])]
    assert [e["before_s"] for e in compare(before, [_record(0.25)]).slower] == [0.1]
    assert compare(before, [_record(0.15)]).slower == []  # 1.5x: not slower
    # noisy repeats widen the margin: +0.15 s is within 3 x their median absolute deviation
    noisy = [_record(0.1, repeats_s=[0.1, 0.2, 0.05, 0.3, 0.1])]
    assert compare(noisy, [_record(0.25)]).slower == []
    assert compare(noisy, [_record(0.6)]).slower != []


def test_updating_keeps_the_last_repeats(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    previous: list[dict] = []
    for i in range(REPEATS + 2):
        save_baseline([_record(float(i)), _record(1.0, mode="fwd")], path, previous)
        previous = json.loads(path.read_text(encoding="utf-8"))
    assert previous[0]["repeats_s"] == [float(i) for i in range(2, REPEATS + 2)]
    assert previous[1]["repeats_s"] == [1.0] * REPEATS


def test_a_busy_machine_is_not_a_slowdown_but_one_record_out_of_line_is() -> None:
    before = [_record(0.02, case=f"c{i}") for i in range(10)]
    busy = [_record(0.06, case=f"c{i}") for i in range(10)]  # everything 3x slower: the load
    diff = compare(before, busy, factor=2.0, min_seconds=0.01)
    assert diff.load == pytest.approx(3.0) and diff.slower == []
    busy[4] = _record(0.6, case="c4")  # ... and one record 10x slower than that
    diff = compare(before, busy, factor=2.0, min_seconds=0.01)
    assert [e["case"] for e in diff.slower] == ["c4"] and diff.slower[0]["load_ratio"] == pytest.approx(10.0)
    assert diff.slower_than(5.0) and not diff.slower_than(20.0)
    # too few records to tell load from a slowdown: no scaling
    assert compare(before[:3], busy[:3], factor=2.0, min_seconds=0.01).load == 1.0


@pytest.mark.parametrize(
    ("argv", "expected"),
    [(["--fail-on-slowdown", "cases"], ["--fail-on-slowdown=threshold", "cases"]),
     (["cases", "--fail-on-slowdown"], ["cases", "--fail-on-slowdown=threshold"]),
     (["--fail-on-slowdown", "3", "cases"], ["--fail-on-slowdown=3", "cases"]),
     (["--fail-on-slowdown=1.5", "cases"], ["--fail-on-slowdown=1.5", "cases"]),
     (["--", "--fail-on-slowdown", "2"], ["--", "--fail-on-slowdown", "2"])],
)
def test_fail_on_slowdown_takes_an_optional_factor(argv: list[str], expected: list[str]) -> None:
    assert _slowdown_argv(argv) == expected


@pytest.mark.parametrize("value", ["0", "-2", "=abc", "=inf"])
def test_a_bad_slowdown_factor_is_a_usage_error(write_case, run_cli, capsys, tmp_path: Path, value: str) -> None:
    baseline = tmp_path / "b.json"
    baseline.write_text("[]", encoding="utf-8")
    path = write_case(GOOD)
    args = ["--fail-on-slowdown" + value] if value.startswith("=") else ["--fail-on-slowdown", value]
    assert run_cli(str(path), "--baseline", str(baseline), *args)[0] == 2
    assert "--fail-on-slowdown" in capsys.readouterr().err


def test_a_slowdown_under_the_fail_factor_is_reported_but_does_not_fail(write_case, run_cli, records,
                                                                        tmp_path: Path) -> None:
    path = write_case(GOOD)
    assert run_cli(str(path))[0] == 0
    rows = records(tmp_path / "reports")
    baseline = tmp_path / "b.json"
    # a baseline in which the slowest record took a 1/1000 of its time now: 1000x slower, all else equal
    slowest = max(range(len(rows)), key=lambda i: sum(rows[i][t] for t in TIMINGS))
    for t in TIMINGS:
        rows[slowest][t] /= 1000
    baseline.write_text(json.dumps(rows), encoding="utf-8")
    # re-running changes timings a little; compare the run with itself via a saved report instead
    from verify.baseline import compare as compare_records

    now = records(tmp_path / "reports")
    diff = compare_records(rows, now, factor=2.0, min_seconds=0.0)
    assert [e["case"] for e in diff.slower] == [rows[slowest]["case"]]
    assert diff.slower_than(100.0) and not diff.slower_than(1e6)


WARM = """
name: first
variables: [x, y]
functions:
  F: [sin(x) * y, x**2 + exp(y)]
  f: sin(x) * y + x**2
checks: [{jacobian: F}, {hessian: f}]
points: {random: 64}
dtypes: [float64, float32]
---
name: second
variables: [x, y]
functions:
  G: [cos(x) * y, x * y**3]
  g: cos(x) * y**2
checks: [{jacobian: G}, {hessian: g}]
points: {random: 64}
dtypes: [float64, float32]
---
name: third
variables: [u, v]
functions:
  H: [tanh(u) + v, u * v]
checks: [{jacobian: H}]
points: {random: 64}
dtypes: [float64, float32]
"""


@pytest.mark.slow
def test_selection_and_jobs_do_not_move_warm_up_into_slowdowns(tmp_path: Path) -> None:
    """A full serial baseline, then a run of a later case only and a run with --jobs 2, each in a fresh
    process: torch's one-time warm-up would land on another record each time; it must not read as slower."""
    (tmp_path / "cases.yaml").write_text(WARM.lstrip(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def verify(*args: str) -> tuple[int, str]:
        done = subprocess.run([sys.executable, "-m", "verify", "cases.yaml", "--baseline", "baseline.json", *args],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        return done.returncode, done.stdout + done.stderr

    code, output = verify("--update-baseline")
    assert code == 0, output
    for args in (["-k", "third"], ["--jobs", "2"]):
        code, output = verify("--fail-on-slowdown", *args)
        diff = json.loads((tmp_path / "reports" / "baseline_diff.json").read_text(encoding="utf-8"))
        assert diff["slower"] == [] and code == 0, (args, output)
