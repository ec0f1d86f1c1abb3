"""The command line end to end: exit codes, selection, overrides, the terminal summary and the reports.

Most tests run the CLI in-process through the `run_cli` fixture; a few run `python -m verify` as a
user would, in a subprocess.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from verify.cli import main

REPO = Path(__file__).resolve().parents[2]

PASSING = """
name: passing
tags: [alpha, seed]
variables: [x, y]
functions:
  F: [x**2 + y**2, x + y]
checks:
  - jacobian: F
    expect: [[2*x, 2*y], [1, 1]]
points: {random: 16, at: [{x: 3, y: -4}]}
"""

WRONG_EXPECT = """
name: wrong-expect
tags: [beta]
variables: [x, y]
functions:
  F: [x**2 + y**2, x + y]
checks:
  - jacobian: F
    expect: [[2*x, 2*y], [1, x]]
points: {random: 16}
"""

THREE_CASES = """
name: one
tags: [alpha]
variables: [x]
functions: {f: sin(x)}
points: {random: 8}
---
name: two
tags: [beta, gpu-free]
variables: [x]
functions: {f: cos(x)}
points: {random: 8}
---
name: three
tags: [alpha, beta]
variables: [x]
functions: {f: exp(x)}
points: {random: 8}
"""

MARK = re.compile(r"^(PASS |FAIL |ERROR|SKIP |XFAIL|XPASS) (\S+::\S+)", re.MULTILINE)
SUMMARY = re.compile(r"^\d+ passed, \d+ failed.* in \d+\.\d\ds$", re.MULTILINE)


def case_lines(output: str) -> dict[str, str]:
    """Case id -> its mark on the one line the terminal shows per case."""
    found = MARK.findall(output)
    ids = [case_id for _, case_id in found]
    assert len(ids) == len(set(ids)), f"a case was printed twice:\n{output}"
    return {case_id: mark.strip() for mark, case_id in found}


def records(directory: Path) -> list[dict]:
    return json.loads((directory / "report.json").read_text(encoding="utf-8"))


def python_m_verify(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "verify", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


# -- exit codes -----------------------------------------------------------------------------------

def test_passing_case_exits_0(write_case, run_cli) -> None:
    path = write_case(PASSING)
    code, output = run_cli(str(path))
    assert code == 0, output
    assert case_lines(output) == {f"{path}::passing": "PASS"}


def test_wrong_expect_exits_1_and_names_the_entry_and_a_false_point(write_case, run_cli) -> None:
    path = write_case(WRONG_EXPECT)
    code, output = run_cli(str(path))
    assert code == 1
    assert case_lines(output) == {f"{path}::wrong-expect": "FAIL"}
    assert "entry [1, 1]" in output and "d F[1] / d y" in output
    # d(x + y)/dy = 1, while the claim says x: false wherever x != 1
    found = re.search(r"at x=(\S+) they are (\S+) and (\S+)", output)
    assert found, output
    x, derived, claimed = (float(v.rstrip(",")) for v in found.groups())
    assert x != 1
    assert derived == 1.0 and claimed == pytest.approx(x)


def test_wrong_expect_record_in_report(write_case, run_cli, tmp_path: Path) -> None:
    run_cli(str(write_case(WRONG_EXPECT)), "--report-dir", str(tmp_path / "out"))
    rows = records(tmp_path / "out")
    expect_rows = [r for r in rows if r["mode"] == "expect"]
    assert [r["status"] for r in expect_rows] == ["fail"]
    assert "entry [1, 1]" in expect_rows[0]["message"]
    # torch and the exact Jacobian still agree: only the hand-derived claim is wrong
    assert {r["status"] for r in rows if r["mode"] in ("rev", "fwd")} == {"pass"}


def test_error_exits_1(write_case, run_cli) -> None:
    path = write_case("name: bad\nvariables: [x]\nfunctions: {f: unknown_fn(x)}\n")
    code, output = run_cli(str(path))
    assert code == 1
    assert case_lines(output) == {f"{path}::bad": "ERROR"}
    assert f"{path}:3" in output  # file and line of the bad expression


def test_missing_path_exits_2(run_cli, write_case, capsys, tmp_path: Path) -> None:
    good = write_case(PASSING)
    code, _ = run_cli(str(good), str(tmp_path / "no-such-dir"))
    assert code == 2
    assert "no-such-dir" in capsys.readouterr().err
    assert not (tmp_path / "reports" / "report.json").exists()


def test_directory_without_cases_exits_2(run_cli, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("variables: [x]\n", encoding="utf-8")
    (folder / ".hidden.yaml").write_text(PASSING, encoding="utf-8")  # hidden files are skipped
    code, _ = run_cli(str(folder))
    assert code == 2
    assert "no case found" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [["--dtype", "float16"], ["--device", "tpu"], ["--mode", "sideways"], ["-k", "alpha and"], ["-k", "("],
     ["--proof-budget", "-1"]],
    ids=["dtype", "device", "mode", "keyword-syntax", "keyword-paren", "budget"],
)
def test_bad_option_values_exit_2(run_cli, write_case, capsys, args: list[str]) -> None:
    code, _ = run_cli(str(write_case(PASSING)), *args)
    assert code == 2
    assert "error" in capsys.readouterr().err


def test_keyword_matching_nothing_exits_2(run_cli, write_case, capsys) -> None:
    code, _ = run_cli(str(write_case(PASSING)), "-k", "nothing-matches-this")
    assert code == 2
    assert "no case found" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--no-such-option", "cases"], []], ids=["unknown-option", "no-path"])
def test_usage_errors_exit_2_from_the_command_line(args: list[str]) -> None:
    completed = python_m_verify(*args)
    assert completed.returncode == 2
    assert "usage:" in completed.stderr


def test_main_returns_2_for_an_unknown_option(write_case, tmp_path: Path) -> None:
    import io

    assert main([str(write_case(PASSING)), "--no-such-option", "--report-dir", str(tmp_path)], io.StringIO()) == 2


def test_help_exits_0_and_lists_the_options() -> None:
    completed = python_m_verify("--help")
    assert completed.returncode == 0
    for option in ("--report-dir", "-k", "--dtype", "--device", "--mode", "--proof-budget", "PATH"):
        assert option in completed.stdout


def test_module_entry_point_runs_a_case_and_writes_reports(tmp_path: Path) -> None:
    case = tmp_path / "seed.yaml"
    case.write_text(PASSING, encoding="utf-8")
    completed = python_m_verify(str(case), "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "1 case(s)" in completed.stdout
    assert {r["status"] for r in records(tmp_path / "r")} == {"pass"}
    completed = python_m_verify(str(tmp_path / "missing.yaml"), "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert completed.returncode == 2


# -- selection and overrides ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("expression", "selected"),
    [
        ("alpha", {"one", "three"}),
        ("not alpha", {"two"}),
        ("alpha and beta", {"three"}),
        ("alpha and not beta", {"one"}),
        ("gpu-free or one", {"one", "two"}),
        ("BETA", {"two", "three"}),  # case-insensitive
        ("cases.yaml::t", {"two", "three"}),  # substring of the case id
        ("not (alpha or beta)", None),  # nothing: exit 2
    ],
)
def test_keyword_selects_by_id_and_tags(write_case, run_cli, expression: str, selected: set[str] | None,
                                        tmp_path: Path) -> None:
    path = write_case(THREE_CASES, "cases.yaml")
    code, output = run_cli(str(path), "-k", expression)
    if selected is None:
        assert code == 2
        return
    assert code == 0, output
    assert set(case_lines(output)) == {f"{path}::{name}" for name in selected}
    assert {r["case"] for r in records(tmp_path / "reports")} == selected


def test_dtype_override(write_case, run_cli, tmp_path: Path) -> None:
    path = write_case(PASSING)  # the case itself asks for float64 only (the default)
    code, output = run_cli(str(path), "--dtype", "float32", "--mode", "fwd")
    assert code == 0, output
    engine_rows = [r for r in records(tmp_path / "reports") if r["dtype"] != "exact"]
    assert engine_rows
    assert {r["dtype"] for r in engine_rows} == {"float32"}
    assert {r["mode"] for r in engine_rows} == {"fwd"}


def test_several_dtypes_by_comma_or_repeat(write_case, run_cli, tmp_path: Path) -> None:
    path = write_case(PASSING)
    for args in (["--dtype", "float32,float64"], ["--dtype", "float32", "--dtype", "float64"]):
        assert run_cli(str(path), *args)[0] == 0
        assert {r["dtype"] for r in records(tmp_path / "reports")} >= {"float32", "float64"}


def test_report_dir_option_and_default(write_case, run_cli, tmp_path: Path, monkeypatch) -> None:
    import io

    path = write_case(PASSING)
    target = tmp_path / "elsewhere" / "deep"
    code, output = run_cli(str(path), "--report-dir", str(target))
    assert code == 0
    for name in ("report.csv", "report.json", "report.md"):
        assert (target / name).is_file()
        assert str(target / name) in output
    monkeypatch.chdir(tmp_path)
    assert main([str(path)], io.StringIO()) == 0
    assert (tmp_path / "reports" / "report.json").is_file()


# -- the terminal summary -------------------------------------------------------------------------

def test_terminal_summary(write_case, run_cli, tmp_path: Path) -> None:
    good = write_case(THREE_CASES, "cases/good.yaml")
    bad = write_case(WRONG_EXPECT, "cases/wrong.yaml")
    code, output = run_cli(str(tmp_path / "cases"))
    assert code == 1
    assert case_lines(output) == {f"{good}::one": "PASS", f"{good}::two": "PASS", f"{good}::three": "PASS",
                                  f"{bad}::wrong-expect": "FAIL"}
    assert "4 case(s)" in output
    rows = records(tmp_path / "reports")
    totals = SUMMARY.findall(output)
    assert len(totals) == 1
    passed = sum(r["status"] == "pass" for r in rows)
    failed = sum(r["status"] == "fail" for r in rows)
    assert totals[0].startswith(f"{passed} passed, {failed} failed")
    reports_line = next(line for line in output.splitlines() if line.startswith("reports:"))
    assert str(tmp_path / "reports" / "report.json") in reports_line


def test_quiet_shows_only_problems_and_the_summary(write_case, run_cli, tmp_path: Path) -> None:
    write_case(THREE_CASES, "cases/good.yaml")
    bad = write_case(WRONG_EXPECT, "cases/wrong.yaml")
    code, output = run_cli(str(tmp_path / "cases"), "-q")
    assert code == 1
    assert case_lines(output) == {f"{bad}::wrong-expect": "FAIL"}
    assert SUMMARY.search(output)


# -- xfail and xpass ------------------------------------------------------------------------------

XFAIL_CASES = """
name: check-xfail
variables: [x]
functions:
  f: x**3
checks:
  - gradient: f
    expect: 3*x
    xfail: the hand derivative is wrong on purpose
  - gradient: f
    expect: 3*x**2
points: {random: 8}
---
name: check-xpass
variables: [x]
functions:
  f: x**3
checks:
  - gradient: f
    expect: 3*x**2
    xfail: said to be wrong, but right
points: {random: 8}
---
name: case-xfail
xfail: the whole case is expected to fail
variables: [x]
functions:
  f: x**3
checks:
  - gradient: f
    expect: 2*x**2
points: {random: 8}
---
name: case-xpass
xfail: expected to fail, but nothing does
variables: [x]
functions:
  f: x**3
checks:
  - gradient: f
points: {random: 8}
"""


def _statuses(rows: list[dict], case: str) -> list[tuple[int, str, str]]:
    return [(r["line"], r["mode"], r["status"]) for r in rows if r["case"] == case]


def test_xfail_and_xpass_semantics(write_case, run_cli, tmp_path: Path) -> None:
    path = write_case(XFAIL_CASES)
    code, output = run_cli(str(path))
    assert code == 1  # an xpass fails the run
    assert case_lines(output) == {f"{path}::check-xfail": "XFAIL", f"{path}::check-xpass": "XPASS",
                                  f"{path}::case-xfail": "XFAIL", f"{path}::case-xpass": "XPASS"}
    rows = records(tmp_path / "reports")

    # check level: the failing row becomes xfail; the check without xfail is untouched
    check_xfail = _statuses(rows, "check-xfail")
    assert [s for line, mode, s in check_xfail if mode == "expect"] == ["xfail", "pass"]
    failing_check = min(line for line, _, _ in check_xfail)  # the first check, marked xfail
    assert {s for line, mode, s in check_xfail if line == failing_check and mode != "expect"} == {"pass"}
    assert all(r["message"] for r in rows if r["status"] in ("xfail", "xpass"))

    # a check marked xfail that passes: every passing row is xpass
    assert {s for _, _, s in _statuses(rows, "check-xpass")} == {"xpass"}

    # case level: the failure is xfail, the rows that passed stay pass
    case_xfail = _statuses(rows, "case-xfail")
    assert [s for _, mode, s in case_xfail if mode == "expect"] == ["xfail"]
    assert {s for _, mode, s in case_xfail if mode != "expect"} == {"pass"}

    # case level, nothing fails: xpass
    assert {s for _, _, s in _statuses(rows, "case-xpass")} == {"xpass"}


def test_xfail_alone_exits_0(write_case, run_cli) -> None:
    text = XFAIL_CASES.split("---")[0] + "---" + XFAIL_CASES.split("---")[2]
    code, output = run_cli(str(write_case(text)), "-k", "xfail")
    assert code == 0, output
    assert "2 xfailed" in output


# -- devices and robustness ----------------------------------------------------------------------

@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour on a machine without CUDA")
def test_cuda_case_without_cuda_is_skipped_with_exit_0(write_case, run_cli, tmp_path: Path) -> None:
    path = write_case("""
        name: on-cuda
        devices: [cuda]
        variables: [x]
        functions:
          f: sin(x)
        checks:
          - jacobian: f
            expect: cos(x)
    """)
    code, output = run_cli(str(path))
    assert code == 0, output
    assert case_lines(output) == {f"{path}::on-cuda": "SKIP"}
    rows = records(tmp_path / "reports")
    torch_rows = [r for r in rows if r["mode"] in ("rev", "fwd")]
    assert torch_rows and {r["status"] for r in torch_rows} == {"skip"}
    assert {r["device"] for r in torch_rows} == {"cuda"}
    assert all("cuda" in r["message"] for r in torch_rows)
    assert "skipped" in output


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour on a machine without CUDA")
def test_device_override_to_cuda_skips(write_case, run_cli) -> None:
    code, output = run_cli(str(write_case(PASSING)), "--device", "cuda")
    assert code == 0
    assert "skipped" in output


def test_broken_files_never_stop_the_run(write_case, run_cli, tmp_path: Path) -> None:
    write_case("name: a\nvariables: [x\n", "cases/a_broken_yaml.yaml")
    write_case("name: b\nvariables: [x]\nfunctions: {f: x +* 2}\n", "cases/b_bad_expression.yaml")
    mixed = write_case(THREE_CASES.replace("functions: {f: cos(x)}", "functions: {f: cos(x, y, z)}"),
                       "cases/c_mixed.yml")
    good = write_case(PASSING, "cases/d_good.yaml")
    code, output = run_cli(str(tmp_path / "cases"))
    assert code == 1
    marks = case_lines(output)
    assert marks[f"{good}::passing"] == "PASS"
    assert marks[f"{mixed}::one"] == "PASS" and marks[f"{mixed}::three"] == "PASS"
    assert marks[f"{mixed}::two"] == "ERROR"
    assert sum(mark == "ERROR" for mark in marks.values()) == 3
    rows = records(tmp_path / "reports")
    loads = [r for r in rows if r["check"] == "load"]
    assert len(loads) == 3 and {r["status"] for r in loads} == {"error"}


def test_proof_budget_option_reaches_the_proofs(write_case, run_cli, tmp_path: Path) -> None:
    # (x+1)**2 - 1 vs x*(x + 2): equal; with no time for a proof the evidence is numeric
    path = write_case("""
        name: budget
        variables: [x]
        functions:
          f: (x + 1)**3/3 - x
        checks:
          - gradient: f
            expect: x*(x + 2)
        points: {random: 8}
    """)
    for budget, proven in (("10", True), ("0", False)):
        code, _ = run_cli(str(path), "--proof-budget", budget)
        assert code == 0
        [row] = [r for r in records(tmp_path / "reports") if r["mode"] == "expect"]
        assert row["status"] == "pass"
        assert ("proven" in row["evidence"]) is proven, row["evidence"]


# -- the derivation cache ------------------------------------------------------------------------

def test_rerun_from_the_cache_gives_the_same_verdicts(write_case, run_cli, private_cache: Path,
                                                      tmp_path: Path) -> None:
    path = write_case(WRONG_EXPECT)
    first_code, _ = run_cli(str(path))
    first = [(r["mode"], r["dtype"], r["status"]) for r in records(tmp_path / "reports")]
    assert private_cache.is_dir() and any(p.is_file() for p in private_cache.rglob("*"))
    second_code, output = run_cli(str(path))
    second = [(r["mode"], r["dtype"], r["status"]) for r in records(tmp_path / "reports")]
    assert first_code == second_code == 1
    assert first == second
    assert "entry [1, 1]" in output and re.search(r"at x=\S+ they are", output)


def test_no_cache_writes_nothing(write_case, run_cli, private_cache: Path) -> None:
    assert run_cli(str(write_case(PASSING)), "--no-cache")[0] == 0
    assert not private_cache.exists() or not any(p.is_file() for p in private_cache.rglob("*"))


# -- imports stay light ---------------------------------------------------------------------------

def _imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(','.join(m for m in ('torch', 'sympy') if m in sys.modules))"
    completed = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                               timeout=60, check=True)
    return set(filter(None, completed.stdout.strip().split(",")))


def test_import_verify_loads_neither_torch_nor_sympy() -> None:
    assert _imported_after("import verify") == set()


def test_import_verify_cli_does_not_load_torch() -> None:
    assert "torch" not in _imported_after("import verify.cli")


def test_import_verify_cli_does_not_load_sympy() -> None:
    assert "sympy" not in _imported_after("import verify.cli")


def test_a_run_writes_its_reports_without_pandas(tmp_path: Path) -> None:
    # pandas is for the Python API's frames; a CLI run (the CI gate) must not need it
    code = ("import sys, runpy; sys.modules['pandas'] = None; "
            f"sys.argv = ['verify', 'cases/seed/scalar_derivative.yaml', '--report-dir', {str(tmp_path)!r}, '-q']; "
            "runpy.run_module('verify', run_name='__main__')")
    completed = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    header = (tmp_path / "report.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",")[:3] == ["file", "case", "check"]
    assert (tmp_path / "report.json").is_file() and (tmp_path / "report.md").is_file()


def test_a_python_without_python_flint_gets_one_error_naming_the_fix(tmp_path: Path) -> None:
    # before: every check of every case was an error record "could not run: No module named 'flint'"
    code = ("import sys, runpy; sys.modules['flint'] = None; "
            f"sys.argv = ['verify', 'cases/seed/scalar_derivative.yaml', '--report-dir', {str(tmp_path)!r}, '-q']; "
            "runpy.run_module('verify', run_name='__main__')")
    completed = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 2, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert "python-flint" in completed.stderr and "pip install 'python-flint>=0.9'" in completed.stderr
    assert not (tmp_path / "report.csv").exists()  # nothing ran
