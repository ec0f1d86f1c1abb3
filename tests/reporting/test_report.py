"""Reports: report.csv, report.json (a list of records) and report.md, with every field of the contract."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from verify.case import load_file
from verify.report import markdown_text, summary_line, to_frame, write_reports
from verify.run import Result, exit_code, run_case

# The fields CASE_FORMAT.md section 7 requires of every record.
CONTRACT_FIELDS = ("file", "case", "check", "function", "dtype", "device", "mode", "status", "points",
                   "max_abs_err", "max_rel_err", "message", "symbolic_s", "reference_s", "autograd_s")

GOOD = """
name: good
variables: [x, y]
functions:
  F: [x**2 + y**2, x + y]
checks:
  - jacobian: F
    expect: [[2*x, 2*y], [1, 1]]
points: {random: 16}
dtypes: [float64, float32]
"""

BAD_YAML = "name: broken\nvariables: [x, y\nfunctions: {f: x}\n"
BAD_EXPRESSION = "name: bad-expression\nvariables: [x]\nfunctions:\n  f: x +* 2\n"


def strict_json(text: str) -> object:
    """JSON as the standard has it: NaN and Infinity are not JSON."""

    def reject(name: str) -> None:
        raise ValueError(f"{name} is not valid JSON")

    return json.loads(text, parse_constant=reject)


def results_of(write_case, text: str, name: str = "case.yaml") -> list[Result]:
    out: list[Result] = []
    for case in load_file(write_case(text, name)):
        out.extend(run_case(case))
    return out


@pytest.fixture
def good_results(write_case) -> list[Result]:
    return results_of(write_case, GOOD)


# -- the three files ------------------------------------------------------------------------------

def test_three_files_are_written(tmp_path: Path, good_results: list[Result]) -> None:
    written = write_reports(good_results, tmp_path / "new" / "dir", seconds=1.5)
    names = sorted(p.name for p in written)
    assert names == ["report.csv", "report.json", "report.md", "report.meta.json"]
    for path in written:
        assert path.parent == tmp_path / "new" / "dir"
        assert path.is_file() and path.stat().st_size > 0


def test_json_is_a_list_of_records_with_every_contract_field(tmp_path: Path, good_results: list[Result]) -> None:
    write_reports(good_results, tmp_path)
    records = strict_json((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert isinstance(records, list) and len(records) == len(good_results)
    for record, result in zip(records, good_results):
        assert isinstance(record, dict)
        missing = set(CONTRACT_FIELDS) - set(record)
        assert not missing, missing
        assert record["status"] == result.status and record["mode"] == result.mode
    # one record per (check, function, dtype, device, mode)
    keys = [(r["check"], r["function"], r["dtype"], r["device"], r["mode"]) for r in records]
    assert len(set(keys)) == len(keys)


def test_json_records_describe_the_run(tmp_path: Path, good_results: list[Result]) -> None:
    write_reports(good_results, tmp_path)
    records = strict_json((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert {r["case"] for r in records} == {"good"}
    assert {r["function"] for r in records} == {"F"}
    assert {r["status"] for r in records} == {"pass"}
    modes = {(r["dtype"], r["mode"]) for r in records}
    assert {("float64", "rev"), ("float64", "fwd"), ("float32", "rev"), ("float32", "fwd")} <= modes
    assert any(r["mode"] == "expect" for r in records)
    for r in records:
        if r["mode"] in ("rev", "fwd"):
            assert r["points"] == 16
            assert r["max_abs_err"] is not None and r["max_abs_err"] >= 0
            assert r["autograd_s"] >= 0 and r["reference_s"] >= 0 and r["symbolic_s"] >= 0
    assert sum(r["autograd_s"] for r in records) > 0


def test_csv_has_the_contract_columns_and_one_row_per_result(tmp_path: Path, good_results: list[Result]) -> None:
    write_reports(good_results, tmp_path)
    frame = pd.read_csv(tmp_path / "report.csv")
    assert set(CONTRACT_FIELDS) <= set(frame.columns)
    assert len(frame) == len(good_results)
    assert list(frame["status"]) == [r.status for r in good_results]


def test_markdown_has_the_summary_and_each_case(tmp_path: Path, good_results: list[Result]) -> None:
    write_reports(good_results, tmp_path, seconds=2.0)
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert summary_line(good_results, 2.0) in text
    assert markdown_text(good_results[0].case_id) in text  # escaped as all case text is


def test_to_frame_columns_include_the_contract_in_a_stable_order(good_results: list[Result]) -> None:
    frame = to_frame(good_results)
    assert set(CONTRACT_FIELDS) <= set(frame.columns)
    assert list(frame.columns) == list(to_frame(good_results[:1]).columns) == list(to_frame([]).columns)
    assert len(to_frame([])) == 0


def test_empty_run_writes_valid_reports(tmp_path: Path) -> None:
    write_reports([], tmp_path)
    assert strict_json((tmp_path / "report.json").read_text(encoding="utf-8")) == []
    assert set(CONTRACT_FIELDS) <= set(pd.read_csv(tmp_path / "report.csv").columns)


# -- failures in the report ------------------------------------------------------------------------

@pytest.mark.parametrize("text", [BAD_YAML, BAD_EXPRESSION], ids=["yaml", "expression"])
def test_load_failure_gives_one_load_error_record(tmp_path: Path, write_case, text: str) -> None:
    results = results_of(write_case, text, "broken.yaml")
    assert len(results) == 1
    write_reports(results, tmp_path)
    [record] = strict_json((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert record["check"] == "load"
    assert record["status"] == "error"
    assert record["file"].endswith("broken.yaml")
    assert "broken.yaml:" in record["message"]  # the message names the file and line
    assert not set(CONTRACT_FIELDS) - set(record)
    assert exit_code(results) == 1


def test_failed_results_carry_their_message_into_json_and_markdown(tmp_path: Path, write_case) -> None:
    results = results_of(write_case, """
        name: wrong
        variables: [x]
        functions:
          f: x**3
        checks:
          - gradient: f
            expect: 3*x
        points: {random: 8}
    """)
    write_reports(results, tmp_path)
    records = strict_json((tmp_path / "report.json").read_text(encoding="utf-8"))
    failed = [r for r in records if r["status"] == "fail"]
    assert failed and all(r["message"] for r in failed)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "fail" in md and markdown_text(failed[0]["message"]) in md


# -- summary line ---------------------------------------------------------------------------------

def _result(status: str) -> Result:
    return Result(file="f.yaml", case="c", check="jacobian", function="f", dtype="float64", device="cpu",
                  mode="rev", status=status)


def test_summary_line_counts_each_status() -> None:
    statuses = ["pass", "pass", "fail", "error", "skip", "xfail", "xpass", "pass"]
    line = summary_line([_result(s) for s in statuses], 1.234)
    for words in ("3 passed", "1 failed", "1 error", "1 skipped", "1 xfailed", "1 xpassed"):
        assert words in line, line
    assert line.endswith("in 1.23s")


def test_summary_line_always_shows_passed_and_failed() -> None:
    line = summary_line([_result("pass")])
    assert "1 passed" in line and "0 failed" in line
    assert "skipped" not in line and "error" not in line
