"""--jobs N: cases run in worker processes give the same records, in the same order, as --jobs 1."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

from verify.case import Case
from verify.run import collect

TIMINGS = {"symbolic_s", "reference_s", "autograd_s"}
MARK = re.compile(r"^(PASS |FAIL |ERROR|SKIP |XFAIL|XPASS) (\S+::\S+)", re.MULTILINE)
REPO = Path(__file__).resolve().parents[2]


def without_timings(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMINGS} for row in rows]


def test_jobs_2_gives_the_records_of_jobs_1(corpus, run_cli, records, tmp_path: Path) -> None:
    # --no-cache: the second run must not read verdicts the first one cached ("(cached)" evidence)
    code_1, output_1 = run_cli(corpus, "--no-cache", "--jobs", "1", "--report-dir", str(tmp_path / "one"))
    log = tmp_path / "impl_imported_by.txt"
    log.unlink(missing_ok=True)
    code_2, output_2 = run_cli(corpus, "--no-cache", "--jobs", "2", "--report-dir", str(tmp_path / "two"))
    workers = set(log.read_text(encoding="utf-8").split())
    assert workers and str(os.getpid()) not in workers, "the impl cases ran in worker processes"
    assert code_1 == code_2 == 1
    one, two = records(tmp_path / "one"), records(tmp_path / "two")
    assert len(one) > 10 and {r["status"] for r in one} >= {"pass", "fail", "error", "skip", "xfail", "xpass"}
    assert without_timings(two) == without_timings(one)
    assert sum(r["autograd_s"] for r in two) > 0  # the workers did run torch
    # one line per case in both runs (in finishing order with --jobs)
    marks_1, marks_2 = MARK.findall(output_1), MARK.findall(output_2)
    assert sorted(marks_2) == sorted(marks_1) and len(marks_1) == len({case for _, case in marks_1})
    assert (tmp_path / "two" / "report.html").read_text(encoding="utf-8").count("<tr>") == (
        (tmp_path / "one" / "report.html").read_text(encoding="utf-8").count("<tr>"))


def test_bad_jobs_values_exit_2(corpus, run_cli, capsys) -> None:
    for value in ("0", "-3"):
        assert run_cli(corpus, "--jobs", value)[0] == 2
        assert "--jobs" in capsys.readouterr().err
    assert run_cli(corpus, "--jobs", "two")[0] == 2


def test_every_shipped_case_pickles_for_the_workers() -> None:
    cases = [c for c in collect([str(REPO / "cases")]).cases if isinstance(c, Case)]
    assert cases
    for case in cases:
        assert pickle.loads(pickle.dumps(case)) == case
