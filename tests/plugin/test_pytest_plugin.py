"""The pytest plugin end to end: real pytest sessions (the `pytester` fixture) on small case files.

Collection-only tests need neither torch nor SymPy and run in a fraction of a second; the others run a
few tiny cases (float64, a handful of points). The xdist test and the import test start subprocesses.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch._dynamo  # noqa: F401 - see below

# pytester's in-process runs forget the modules first imported inside them. torch imports torch._dynamo
# lazily during autograd, and that registers an operator library which a second import refuses: import it
# here, once, so that every in-process run shares it.

PASSING = """
name: poly
tags: [fast, chain-rule]
variables: [x, y]
functions:
  f: x**2 + x*y
checks:
  - value: f
  - gradient: f
    expect: [2*x + y, x]
points: {random: 4}
"""

WRONG_EXPECT = """
name: wrong
variables: [x, y]
functions:
  f: x**2 + y
checks:
  - gradient: f
    expect: [2*x, 2]
points: {random: 4, at: [{x: 0.5, y: 0.5}]}
"""

# The check on line 7 of XFAILS: a wrong expect marked xfail; a passing one marked xfail is an xpass; and a
# case-level xfail judged over the whole case, as the CLI judges it (its passing check passes).
XFAILS = """
name: known-wrong
variables: [x]
functions:
  f: x**3
checks:
  - gradient: f
    expect: 3*x
    xfail: the hand derivation dropped a power
  - gradient: f
    expect: 3*x**2
    xfail: this one is right
points: {random: 4}
---
name: case-xfail
xfail: the expect of g is wrong
variables: [x]
functions:
  g: x**2
checks:
  - gradient: g
    expect: 2*x + 1
  - value: g
points: {random: 4}
"""

POLY_ITEMS = ["case.yaml::poly::value[f]", "case.yaml::poly::gradient[f]"]

CUDA = """
name: on-cuda
variables: [x]
functions:
  f: sin(x)
devices: [cuda]
points: {random: 4}
"""

LOAD_ERROR = """
name: typo
variables: [x]
functions:
  f: x**2
chekcs:
  - jacobian: f
"""


@pytest.fixture(autouse=True)
def only_this_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner sessions load just this plugin (-p verify finds it by its entry point name): other installed
    plugins would add seconds to each one (hypothesis's imports hypothesis afresh every time)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "verify", *args)


def write(pytester: pytest.Pytester, name: str, text: str) -> None:
    path = pytester.path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def collected(pytester: pytest.Pytester, *args: str) -> list[str]:
    """The node ids that `pytest --collect-only -q ARGS` lists, in order."""
    result = run(pytester, "--collect-only", "-q", *args)
    return [line for line in result.outlines if "::" in line]


def outcomes(lines: list[str]) -> dict[str, str]:
    """node id -> PASSED/FAILED/... from the `-rA` short summary."""
    out = {}
    for line in lines:
        match = re.match(r"(PASSED|FAILED|SKIPPED|XFAIL|XPASS|ERROR) (\S+::\S+)", line)
        if match:
            out[match.group(2)] = match.group(1)
    return out


# -- collection --------------------------------------------------------------------------------------

def test_each_check_of_each_case_is_one_item_in_file_document_and_check_order(pytester: pytest.Pytester) -> None:
    write(pytester, "b.yaml", PASSING)
    write(pytester, "a/multi.yml", """
        name: first
        variables: [x, y]
        functions:
          G: [x + y, x*y]
          F: {args: [u, v], expr: u*v}
          H: F(G(x, y))
        ---
        name: second
        variables: [x]
        functions:
          f: x**2
        checks:
          - jacobian: f
          - jacobian: f
            expect: [[2*x]]
        """)
    assert collected(pytester) == [
        "a/multi.yml::first::jacobian[G]",
        "a/multi.yml::first::jacobian[F]",
        "a/multi.yml::first::jacobian[H]",
        "a/multi.yml::first::chain_rule[H]",  # the default checks: a chain_rule for the composition
        "a/multi.yml::second::jacobian[f]",
        "a/multi.yml::second::jacobian[f-2]",
        "b.yaml::poly::value[f]",
        "b.yaml::poly::gradient[f]",
    ]


def test_yaml_files_that_are_not_cases_are_ignored_silently(pytester: pytest.Pytester) -> None:
    write(pytester, "case.yaml", PASSING)
    write(pytester, "config.yaml", "variables: {CI: 1}\nstages: [build, test]\n")  # like a CI file
    write(pytester, "list.yml", "- 1\n- 2\n")
    write(pytester, "empty.yaml", "")
    write(pytester, "broken.yaml", "a: [1, 2\n")
    write(pytester, "tagged.yaml", "x: !!python/object/apply:os.system [echo hi]\n")
    write(pytester, ".hidden.yaml", PASSING)  # hidden files are skipped, as the CLI skips them
    result = run(pytester, "--collect-only", "-q")
    assert result.ret == 0
    assert [line for line in result.outlines if "::" in line] == POLY_ITEMS
    assert "error" not in result.stdout.str().lower()


def test_a_yaml_file_named_on_the_command_line_is_read_as_a_case(pytester: pytest.Pytester) -> None:
    write(pytester, "notes.yaml", "title: not a case\n")
    assert collected(pytester, "notes.yaml") == ["notes.yaml::notes::load"]
    result = run(pytester, "notes.yaml")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["notes.yaml:1:1: unknown key 'title' in the case"])


def test_tags_become_registered_marks_and_select_with_m(pytester: pytest.Pytester) -> None:
    write(pytester, "one.yaml", PASSING)
    write(pytester, "two.yaml", WRONG_EXPECT.replace("name: wrong", "name: wrong\ntags: [slowish, xfail]"))
    strict = ("--strict-markers", "-W", "error::pytest.PytestUnknownMarkWarning")
    assert collected(pytester, "-m", "chain-rule", *strict) == ["one.yaml::poly::value[f]", "one.yaml::poly::gradient[f]"]
    assert collected(pytester, "-m", "slowish and not fast", *strict) == ["two.yaml::wrong::gradient[f]"]
    items, _ = pytester.inline_genitems("-p", "verify", "two.yaml")
    # a tag named like a built-in mark selects with -k, but does not turn into that mark
    assert [m.name for m in items[0].iter_markers()] == ["slowish"]
    assert collected(pytester, "-k", "xfail") == ["two.yaml::wrong::gradient[f]"]


def test_k_selects_by_case_and_check_names(pytester: pytest.Pytester) -> None:
    write(pytester, "one.yaml", PASSING)
    write(pytester, "two.yaml", WRONG_EXPECT)
    assert collected(pytester, "-k", "gradient and not wrong") == ["one.yaml::poly::gradient[f]"]
    assert collected(pytester, "-k", "value[f]") == ["one.yaml::poly::value[f]"]
    assert collected(pytester, "-k", "wrong") == ["two.yaml::wrong::gradient[f]"]


# -- running -----------------------------------------------------------------------------------------

def test_a_passing_case_gives_passed_items_with_the_plugin_loaded_as_installed(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write(pytester, "case.yaml", PASSING)
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=2)
    text = result.stdout.str()
    assert "case.yaml::poly::value[f] PASSED" in text and "case.yaml::poly::gradient[f] PASSED" in text


def test_the_checks_of_a_case_share_one_compiled_case(pytester: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import verify.run

    built: list[str] = []
    original = verify.run.build_model

    def counting(case: object) -> object:
        built.append(getattr(case, "name", "?"))
        return original(case)  # type: ignore[arg-type]

    monkeypatch.setattr(verify.run, "build_model", counting)
    write(pytester, "case.yaml", PASSING)
    write(pytester, "other.yaml", PASSING.replace("name: poly", "name: other"))
    run(pytester).assert_outcomes(passed=4)
    assert built == ["poly", "other"]  # two items each, one compilation each


def test_a_kept_case_is_reused_only_with_the_same_options(tmp_path: Path) -> None:
    from verify.case import load_file
    from verify.run import CaseRuns, RunOptions, run_case

    path = tmp_path / "case.yaml"
    path.write_text(textwrap.dedent(PASSING).lstrip("\n"), encoding="utf-8")
    [case] = load_file(path)
    runs = CaseRuns()
    first = run_case(case, RunOptions(dtypes=("float64",)), runs=runs)
    second = run_case(case, RunOptions(dtypes=("float32",)), runs=runs)
    assert {r.dtype for r in first} - {"-", "exact"} == {"float64"}
    assert {r.dtype for r in second} - {"-", "exact"} == {"float32"}


def test_a_wrong_expect_fails_with_the_entry_the_point_and_the_location(pytester: pytest.Pytester) -> None:
    write(pytester, "case.yaml", WRONG_EXPECT)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "gradient of f (case.yaml:6:5): 1 of 3 results not ok",
        "  fail [expect, exact]: expect of gradient f is false at entry [1] (d f / d y): derived 1, claimed 2;"
        " at x=0.5, y=0.5 they are 1 and 2",
    ])


def test_a_wrong_impl_fails_with_each_bad_row_and_the_mismatch(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(plugin_wrong_ops="def square(x):\n    return x * x * 1.001\n")
    write(pytester, "case.yaml", """
        name: wrong-impl
        variables: [x]
        functions:
          f: {args: [x], expr: x**2, impl: "plugin_wrong_ops:square"}
        checks:
          - jacobian: f
        points: {random: 4}
        """)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines([
        r"jacobian of f \(case.yaml:6:5\): 3 of 3 results not ok",
        r"  fail \[value, float64, cpu\]: .*Mismatched entries: 4 / 4 .*worst at x=.*expected .*, got ",
        r"  fail \[rev, float64, cpu\]: .*Mismatched entries: 4 / 4 .*\(d f / d x\)",
        r"  fail \[fwd, float64, cpu\]: .*Mismatched entries: 4 / 4 ",
    ])


def test_the_location_is_the_yaml_file_and_the_line_of_the_check(pytester: pytest.Pytester) -> None:
    write(pytester, "sub/case.yaml", PASSING)
    reprec = pytester.inline_run("-p", "verify")
    locations = [r.location for r in reprec.getreports("pytest_runtest_logreport") if r.when == "call"]
    # value: f is on line 7, gradient: f on line 8; pytest's lines are 0-based
    assert locations == [("sub/case.yaml", 6, "poly::value[f]"), ("sub/case.yaml", 7, "poly::gradient[f]")]


def test_a_case_that_fails_to_load_is_one_failing_item_with_file_line_and_hint(pytester: pytest.Pytester) -> None:
    write(pytester, "case.yaml", LOAD_ERROR)
    write(pytester, "broken.yaml", "name: broken\nvariables: [x]\nfunctions:\n  f: [x, \n")  # YAML that does not parse
    reprec = pytester.inline_run("-p", "verify")
    failed = reprec.getreports("pytest_runtest_logreport")
    assert [(r.nodeid, r.outcome, r.location[1]) for r in failed if r.when == "call"] == [
        ("broken.yaml::broken::load", "failed", 4),
        ("case.yaml::typo::load", "failed", 4),
    ]
    result = run(pytester)
    result.stdout.fnmatch_lines([
        "case 'broken' could not be loaded:",
        "broken.yaml:5:1: invalid YAML: *",
        "case 'typo' could not be loaded:",
        "case.yaml:5:1: unknown key 'chekcs' in the case",
        "  hint: did you mean 'checks'? *",
    ])


def test_xfail_in_yaml_gives_xfailed_and_a_pass_under_xfail_fails(pytester: pytest.Pytester) -> None:
    write(pytester, "case.yaml", XFAILS)
    result = run(pytester, "-rA")
    assert outcomes(result.outlines) == {
        "case.yaml::known-wrong::gradient[f]": "XFAIL",
        "case.yaml::known-wrong::gradient[f-2]": "FAILED",
        "case.yaml::case-xfail::gradient[g]": "XFAIL",
        "case.yaml::case-xfail::value[g]": "PASSED",
    }
    text = result.stdout.str()
    assert "xpass [expect, exact]: expected to fail (this one is right) but passed" in text
    assert "XFAIL case.yaml::known-wrong::gradient[f] - the hand derivation dropped a power" in text


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the skip that a machine without CUDA gives")
def test_a_cuda_case_is_skipped_without_cuda_and_runs_with_verify_device_cpu(pytester: pytest.Pytester) -> None:
    write(pytester, "case.yaml", CUDA)
    result = run(pytester, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED *device 'cuda' is not available on this machine"])
    run(pytester, "--verify-device", "cpu").assert_outcomes(passed=1)


def test_verify_options_choose_dtypes_and_modes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(plugin_bad_ops="def square(x):\n    return x * x * 1.01\n")
    write(pytester, "case.yaml", """
        name: wrong-impl
        variables: [x]
        functions:
          f: {args: [x], expr: x**2, impl: "plugin_bad_ops:square"}
        checks:
          - jacobian: f
        points: {random: 4}
        """)
    result = run(pytester, "--verify-dtype", "float32", "--verify-mode", "fwd")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "fail [fwd, float32, cpu]" in text
    # no float64 record ran (the failure's diagnosis may still name float64, from its own comparison)
    assert ", float64, cpu]" not in text and "[rev," not in text
    bad = run(pytester, "--verify-dtype", "float16")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--verify-dtype: 'float16': expected one of float64, float32"])
    bad = run(pytester, "--verify-mode", "cheaper,rev")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR


def test_xdist_gives_the_same_outcomes(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist", reason="pytest-xdist is not installed (pip install 'verify[test]')")
    write(pytester, "a_pass.yaml", PASSING)
    write(pytester, "b_wrong.yaml", WRONG_EXPECT)
    write(pytester, "c_xfail.yaml", XFAILS)
    write(pytester, "d_load.yaml", LOAD_ERROR)
    serial = outcomes(run(pytester, "-rA").outlines)
    parallel = run(pytester, "-p", "xdist", "-rA", "-n", "2")
    assert "2 workers" in parallel.stdout.str()
    assert len(serial) == 8
    assert outcomes(parallel.outlines) == serial


def test_the_plugin_is_an_entry_point_and_collection_imports_neither_torch_nor_sympy(pytester: pytest.Pytester) -> None:
    [entry] = [e for e in importlib.metadata.entry_points(group="pytest11") if e.name == "verify"]
    assert entry.value == "verify.pytest_plugin"
    heavy = ("torch", "sympy", "numpy", "pandas")
    probe = f"import sys, verify.pytest_plugin; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
    # a whole collection, with only this plugin loaded (found through its entry point by -p verify)
    write(pytester, "case.yaml", PASSING)
    pytester.makeconftest(f"""
        import sys
        def pytest_collection_finish(session):
            print("HEAVY", [m for m in {heavy!r} if m in sys.modules])
        """)
    result = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "verify")
    assert "HEAVY []" in result.outlines
    assert [line for line in result.outlines if "::" in line] == POLY_ITEMS
