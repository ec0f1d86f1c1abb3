"""The plugin runs cases as the CLI does: the same options builder (cache, time budget, proof budget,
--no-impl), the same discovery rule, warnings from torch's internals kept out of the user's run, and
one line per failure under --tb=line."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
import torch
import torch._dynamo  # noqa: F401 - imported once outside pytester's in-process runs (see test_pytest_plugin.py)

import verify.pytest_plugin as plugin
from verify.options import DEFAULT_PROOF_BUDGET_S, DEFAULT_TIMEOUT_S

PASSING = """
name: poly
variables: [x, y]
functions:
  f: x**2 + x*y
checks:
  - gradient: f
    expect: [2*x + y, x]
  - jacobian: f
points: {random: 4}
dtypes: [float64, float32]
"""

IMPLS = '''
import time
import warnings


def hang(x):
    while True:
        time.sleep(0.05)


def noisy(x):
    warnings.warn("a warning of the user's own code", UserWarning)
    return x * x
'''


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "verify", *args)


def write(pytester: pytest.Pytester, name: str, text: str) -> Path:
    path = pytester.path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def impl_case(pytester: pytest.Pytester, module: str, function: str, expr: str = "x**2") -> None:
    pytester.makepyfile(**{module: IMPLS})
    write(pytester, f"{function}.yaml", f"""
        name: {function}
        variables: [x]
        functions:
          f: {{args: [x], expr: "{expr}", impl: "{module}:{function}"}}
        checks:
          - gradient: f
        points: {{random: 3}}
        modes: [rev]
        """)


def test_plugin_runs_get_the_cli_defaults(pytester: pytest.Pytester) -> None:
    # before: the plugin built RunOptions(dtypes, devices, modes) alone: no cache, no time budget
    config = pytester.parseconfigure("-p", "verify")
    options = plugin._run_options(config)
    assert options.timeout_s == DEFAULT_TIMEOUT_S and options.proof_budget_s == DEFAULT_PROOF_BUDGET_S
    assert options.cache_dir == Path(os.environ["VERIFY_CACHE_DIR"]) and not options.no_impl


def test_the_plugin_fills_the_derivation_cache(pytester: pytest.Pytester) -> None:
    write(pytester, "poly.yaml", PASSING)
    cache = Path(os.environ["VERIFY_CACHE_DIR"])
    run(pytester).assert_outcomes(passed=2)
    assert any(cache.rglob("*.json")), "the plugin run cached nothing"
    run(pytester, "--verify-no-cache").assert_outcomes(passed=2)


@pytest.mark.parametrize("where", ["option", "ini"])
def test_the_case_time_budget_applies_under_pytest(pytester: pytest.Pytester, where: str) -> None:
    impl_case(pytester, f"plugin_hang_{where}", "hang")
    if where == "ini":
        pytester.makeini("[pytest]\nverify_timeout = 2\n")
        result = run(pytester)
    else:
        result = run(pytester, "--verify-timeout", "2")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ran out of its 2 s time budget*"])


def test_bad_option_values_are_usage_errors(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--verify-timeout", "-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--verify-timeout must not be negative*"])


@pytest.mark.parametrize("how", ["option", "env"])
def test_no_impl_skips_and_imports_nothing(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                           how: str) -> None:
    pytester.makepyfile(plugin_marker_impl="from pathlib import Path\nPath('imported').touch()\n"
                                           "def square(x):\n    return x * x\n")
    write(pytester, "impl.yaml", """
        variables: [x]
        functions:
          f: {args: [x], expr: x**2, impl: "plugin_marker_impl:square"}
          g: x**3
        points: {random: 3}
        """)
    if how == "env":
        monkeypatch.setenv("VERIFY_NO_IMPL", "1")
    result = run(pytester, "-rs", *(["--verify-no-impl"] if how == "option" else []))
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*--no-impl or VERIFY_NO_IMPL=1*"])
    assert not (pytester.path / "imported").exists()


def test_torch_internal_warnings_do_not_fail_a_strict_run(pytester: pytest.Pytester) -> None:
    # before: every item failed under -W error::DeprecationWarning (jacfwd's torch.jit.script deprecation)
    write(pytester, "poly.yaml", PASSING)
    result = run(pytester, "-W", "error::DeprecationWarning")
    result.assert_outcomes(passed=2)
    assert "jit" not in result.stdout.str()


def test_the_users_own_warnings_pass_through(pytester: pytest.Pytester) -> None:
    impl_case(pytester, "plugin_noisy_impl", "noisy")
    result = run(pytester)
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 1 and outcomes.get("warnings", 0) >= 1  # once per torch evaluation (value, gradient)
    result.stdout.fnmatch_lines(["*a warning of the user's own code*"])
    assert "torch.jit.script" not in result.stdout.str()


def test_tb_line_prints_one_line_per_failure(pytester: pytest.Pytester) -> None:
    # before: --tb=line printed the whole message block of every failure
    write(pytester, "wrong.yaml", """
        name: wrong
        variables: [x, y]
        functions:
          f: x**2 + y
        checks:
          - gradient: f
            expect: [2*x, 2]
        points: {random: 4}
        """)
    write(pytester, "broken.yaml", "name: broken\nvariables: [x\nfunctions: {f: x}\n")
    result = run(pytester, "--tb=line")
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    block = text.split("= FAILURES =")[1].split("short test summary")[0]
    lines = [line for line in block.splitlines() if line.strip() and not line.startswith("=")]
    assert len(lines) == 2, block
    assert lines[0].startswith("broken.yaml:") and lines[1].startswith("wrong.yaml:6: ")
    assert "expect of gradient f is false" in lines[1]


def test_a_data_file_shaped_like_a_case_never_breaks_collection(pytester: pytest.Pytester) -> None:
    # before: a recursive alias in any YAML file with these keys stopped the whole run at collection
    write(pytester, "data/recursive.yaml", "variables: &a [x, *a]\nfunctions: {f: x}\n")
    write(pytester, "data/settings.yaml", "variables: {debug: true}\nfunctions: [log, trace]\n")
    write(pytester, "data/compose.yml", "services: {web: {image: nginx}}\n")
    pytester.makepyfile(test_plain="def test_ok():\n    assert True\n")
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=2)
    assert "error during collection" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*recursive.yaml:1:12: a recursive YAML alias*"])
