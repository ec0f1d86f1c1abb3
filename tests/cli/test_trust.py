"""What a case file may run: `--no-impl` / VERIFY_NO_IMPL=1 import nothing a case names; impl outputs
must have the check's dtype and device; and the progress line names the case that is running."""

from __future__ import annotations

import io
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from verify.options import build_options

IMPL = '''
from pathlib import Path

import torch

Path("{marker}").write_text("imported")


def square(x):
    return x * x


def widen(x):
    return (x * x).double()


def elsewhere(x):
    return torch.zeros((), dtype=x.dtype, device="meta")
'''

CASES = """
name: with-impl
variables: [x]
functions:
  f: {{args: [x], expr: x**2, impl: "{module}:square"}}
  plain: x**3
  h: f(x) + 1
checks:
  - gradient: f
  - gradient: plain
  - gradient: h
  - gradient: f
    expect: 2*x
points: {{random: 4}}
modes: [rev]
"""


def records(directory: Path) -> list[dict[str, Any]]:
    return json.loads((directory / "report.json").read_text(encoding="utf-8"))


@pytest.fixture
def impl_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> tuple[Path, Path]:
    """A case file whose impl module leaves a marker file when imported; returns (case, marker)."""
    module = f"trust_impl_{request.node.name.split('[')[0][-20:]}_{abs(hash(request.node.nodeid)) % 10**6}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VERIFY_NO_IMPL", raising=False)
    marker = tmp_path / "imported.txt"
    (tmp_path / f"{module}.py").write_text(IMPL.format(marker=marker.as_posix()), encoding="utf-8")
    case = tmp_path / "case.yaml"
    case.write_text(textwrap.dedent(CASES.format(module=module)).lstrip(), encoding="utf-8")
    return case, marker


@pytest.mark.parametrize("how", ["flag", "env"])
def test_no_impl_skips_every_record_of_an_impl_function_and_imports_nothing(
        impl_case, run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    case, marker = impl_case
    if how == "env":
        monkeypatch.setenv("VERIFY_NO_IMPL", "1")
    code, output = run_cli(str(case), "--no-cache", *(["--no-impl"] if how == "flag" else []))
    assert code == 0, output
    assert not marker.exists(), "the impl module was imported"
    rows = records(tmp_path / "reports")
    by_function: dict[str, set[str]] = {}
    for row in rows:
        by_function.setdefault(row["function"], set()).add(row["status"])
    assert by_function == {"f": {"skip"}, "h": {"skip"}, "plain": {"pass"}}  # h calls f's impl
    skipped = [r for r in rows if r["status"] == "skip"]
    assert len(skipped) == 3  # one per check of an impl function (the two of f, the one of h)
    assert all("--no-impl" in r["message"] and "square" in r["message"] for r in skipped)


def test_without_no_impl_the_impl_runs(impl_case, run_cli, tmp_path: Path) -> None:
    case, marker = impl_case
    code, output = run_cli(str(case), "--no-cache")
    assert code == 0, output
    assert marker.exists()
    assert {r["status"] for r in records(tmp_path / "reports")} == {"pass"}


def test_the_environment_refuses_impl_imports_even_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from verify.impl import NoImplError, load_impl

    monkeypatch.setenv("VERIFY_NO_IMPL", "1")
    with pytest.raises(NoImplError, match="VERIFY_NO_IMPL"):
        load_impl("os:system", None)


@pytest.mark.parametrize(("value", "refused"), [("1", True), ("yes", True), ("0", False), ("", False),
                                                ("false", False)])
def test_verify_no_impl_values(value: str, refused: bool) -> None:
    assert build_options(environ={"VERIFY_NO_IMPL": value}).no_impl is refused


@pytest.mark.parametrize(("impl", "returned"), [("widen", "a float64 tensor on cpu"),
                                                ("elsewhere", "a float32 tensor on meta")])
def test_an_impl_output_of_the_wrong_dtype_or_device_is_an_error(impl_case, run_cli, tmp_path: Path, impl: str,
                                                                 returned: str) -> None:
    # before: a float64 result made the float32 checks pass on float64 arithmetic
    case, _ = impl_case
    text = case.read_text(encoding="utf-8").replace(":square", f":{impl}")
    case.write_text(text.replace("modes: [rev]", "modes: [rev]\ndtypes: [float32]"), encoding="utf-8")
    code, output = run_cli(str(case), "--no-cache")
    assert code == 1, output
    rows = [r for r in records(tmp_path / "reports") if r["function"] in ("f", "h") and r["mode"] != "expect"]
    assert rows and {r["status"] for r in rows} == {"error"}
    for row in rows:
        assert f"returned {returned}, but the check computes in float32 on cpu" in row["message"]
        assert "case.yaml:4" in row["message"]  # where the impl is named


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_line_names_the_case_that_is_running(write_case, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    # before: "[1/2] a.yaml::one" after `one` finished, while `two` was running
    path = write_case("""
        name: one
        variables: [x]
        functions: {f: x**2}
        points: {random: 2}
        modes: [rev]
        ---
        name: two
        variables: [x]
        functions: {f: x**3}
        points: {random: 2}
        modes: [rev]
    """)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "1000")
    code, _ = run_cli(str(path), "--no-cache")
    assert code == 0
    shown = [part for part in terminal.getvalue().split("\r\x1b[K") if part]
    assert shown == [f"[0/2] running {path}::one", f"[1/2] running {path}::two"]
