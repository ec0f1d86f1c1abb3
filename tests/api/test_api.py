"""The Python API: verify.check, verify.assert_ok and verify.run, as a test or a notebook calls them.

A case comes as a dict (with a Python callable as `impl`, correct or wrong), as YAML text or as
a path; the frame has the report's columns and the run metadata in `attrs`; `assert_ok` raises
with the terminal's failure text. Import orders of `verify.run` (the function and the module)
are checked in fresh interpreters.
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import torch

import verify
from verify.errors import UsageError
from verify.results import Result

REPO = Path(__file__).resolve().parents[2]
COLUMNS = [f.name for f in dataclasses.fields(Result)]


class Cube(torch.autograd.Function):
    """x**3 with a hand-written backward: 3 x**2."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2

    @staticmethod
    def jvp(ctx, tangent):  # forward mode: not needed for these tests
        raise NotImplementedError


class BuggyCube(Cube):
    """x**3 whose backward forgot a power: 3 x."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x


def cube_case(impl) -> dict:
    return {"name": "cube", "variables": {"x": {"low": -2, "high": 2}},
            "functions": {"f": {"expr": "x**3", "impl": impl}},
            "checks": [{"gradient": "f"}], "points": {"random": 16}, "modes": ["rev"]}


YAML = """
name: sine
description: sin and its derivative
tags: [api]
variables: {x: {low: -3, high: 3}}
functions:
  f: sin(x)
checks:
  - gradient: f
    expect: cos(x)
points: {random: 8}
"""


# -- dicts and callables -------------------------------------------------------------------------

def test_a_dict_with_a_correct_callable_impl_passes() -> None:
    frame = verify.check(cube_case(Cube.apply), dtypes="float64")
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == COLUMNS
    assert set(frame["status"]) == {"pass"}
    assert set(frame["check"]) == {"value", "gradient"}  # the impl's values are checked before its gradient
    assert (frame["file"] == "<dict>").all() and (frame["case"] == "cube").all()
    assert (frame.loc[frame["mode"] == "rev", "points"] == 16).all()
    ratios = frame["tolerance_ratio"]
    assert ((ratios >= 0) & (ratios <= 1)).all()


def test_a_dict_with_a_buggy_callable_impl_fails_with_the_entry_and_point() -> None:
    frame = verify.check(cube_case(BuggyCube.apply), dtypes="float64")
    failed = frame[frame["status"] == "fail"]
    assert list(failed["check"]) == ["gradient"] and list(failed["mode"]) == ["rev"]
    [row] = failed.to_dict("records")
    assert row["mismatched"] > 0 and row["tolerance_ratio"] > 1
    assert "d f / d x" in row["message"] and row["worst_point"].startswith("x=")
    # the message names the callable as an impl name, module:qualified name
    value = frame[frame["check"] == "value"].iloc[0]
    assert value["status"] == "pass"


def test_assert_ok_raises_with_the_terminal_failure_block() -> None:
    with pytest.raises(AssertionError) as caught:
        verify.assert_ok(cube_case(BuggyCube.apply), dtypes="float64")
    text = str(caught.value)
    first, *rest = text.splitlines()
    assert first.startswith("FAIL  <dict>::cube  (1 of 2 results not ok, ")
    assert rest[0].startswith("      fail: gradient of f [rev, float64, cpu]: Mismatched entries: ")
    assert "worst at x=" in rest[0] and "entry [0] (d f / d x): expected " in rest[0] and ", got " in rest[0]
    assert "looks like a wrong rule" in rest[0]
    assert rest[-1].startswith("1 passed, 1 failed in ")
    frame = caught.value.frame  # type: ignore[attr-defined]
    assert list(frame["status"]) == ["pass", "fail"]


def test_assert_ok_returns_the_frame_when_everything_passes() -> None:
    frame = verify.assert_ok(cube_case(Cube.apply), dtypes="float64")
    assert set(frame["status"]) == {"pass"}


def test_assert_ok_fails_on_error_and_xpass_but_not_on_xfail_or_skip() -> None:
    broken = {"variables": {"x": {}}, "functions": {"f": "x +* 2"}}
    pattern = r"(?s)ERROR <dict>::case .*error: <dict>:\d+:\d+: invalid expression 'x \+\* 2'"
    with pytest.raises(AssertionError, match=pattern):
        verify.assert_ok(broken)
    xpass = {"name": "fine", "variables": {"x": {}}, "functions": {"f": "sin(x)"}, "xfail": "thought broken",
             "points": {"random": 4}, "dtypes": ["float64"], "modes": ["rev"]}
    with pytest.raises(AssertionError, match=r"XPASS <dict>::fine .*\n      xpass: expected to fail \(thought broken\)"):
        verify.assert_ok(xpass)
    xfail = cube_case(BuggyCube.apply) | {"xfail": "known bug"}
    frame = verify.assert_ok(xfail, dtypes="float64")
    assert "xfail" in set(frame["status"])
    skipped = verify.assert_ok(cube_case(BuggyCube.apply), no_impl=True)
    assert list(skipped["status"]) == ["skip"] and "not run" in skipped["message"].iloc[0]


def test_two_callables_of_one_name_stay_apart() -> None:
    def make(power: int):
        def f(x):
            return x**power

        return f

    case = {"variables": {"x": {"low": 1, "high": 2}},
            "functions": {"square": {"expr": "x**2", "impl": make(2)}, "cube": {"expr": "x**3", "impl": make(3)}},
            "points": {"random": 4}, "dtypes": ["float64"]}
    frame = verify.check(case)
    assert set(frame["status"]) == {"pass"}, frame[frame["status"] != "pass"]["message"].tolist()


# -- YAML text and paths ---------------------------------------------------------------------------

def test_a_yaml_string() -> None:
    frame = verify.check(YAML)
    assert (frame["file"] == "<yaml>").all() and (frame["case"] == "sine").all()
    assert set(frame["status"]) == {"pass"}
    assert "expect" in set(frame["mode"]) and (frame["description"] == "sin and its derivative").all()


def test_a_path_as_str_and_as_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sine.yaml").write_text(YAML, encoding="utf-8")
    by_str = verify.check("sine.yaml", dtypes=["float32"], modes="fwd")
    by_path = verify.check(tmp_path / "sine.yaml", dtypes=["float32"], modes="fwd")
    for frame in (by_str, by_path):
        assert set(frame["file"]) == {"sine.yaml"}
        assert set(frame.loc[frame["mode"] != "expect", "dtype"]) == {"float32"}
        assert set(frame.loc[frame["mode"] != "expect", "mode"]) == {"fwd"}
    with pytest.raises(FileNotFoundError, match=r"missing\.yaml"):
        verify.check("missing.yaml")


def test_assert_ok_with_a_yaml_string_and_a_wrong_claim() -> None:
    with pytest.raises(AssertionError) as caught:
        verify.assert_ok(YAML.replace("expect: cos(x)", "expect: -cos(x)"))
    assert ("fail: expect of gradient f is false at entry [0] (d f / d x): derived cos(x), claimed -cos(x)"
            in str(caught.value))


# -- options ------------------------------------------------------------------------------------------

def test_points_and_tolerance_options() -> None:
    case = {"variables": {"x": {}}, "functions": {"f": "exp(x)"}, "points": {"random": 4, "at": [{"x": 0}]},
            "dtypes": ["float32"], "modes": ["rev"]}
    frame = verify.check(case, points=10)
    assert list(frame["points"]) == [11]  # the case's `at` point is kept
    frame = verify.check(case, points={"random": 3})
    assert list(frame["points"]) == [3]
    strict = verify.check(case, tolerance={"rtol": 0, "atol": 0})
    assert list(strict["rtol"]) == [0.0] and list(strict["atol"]) == [0.0]
    loose = verify.check(case, tolerance={"float32": {"rtol": 0.5}})
    assert list(loose["rtol"]) == [0.5] and loose["tolerance_ratio"].iloc[0] < 1e-3


def test_bad_options_are_usage_errors_naming_the_option() -> None:
    case = {"variables": {"x": {}}, "functions": {"f": "x"}}
    with pytest.raises(UsageError, match="dtypes 'float16': expected one of float64, float32"):
        verify.check(case, dtypes="float16")
    with pytest.raises(UsageError, match="unknown option 'dtype'; options: "):
        verify.check(case, dtype="float64")  # type: ignore[call-arg]
    with pytest.raises(UsageError, match=r"points option: .*points random"):
        verify.check(case, points=-1)
    with pytest.raises(UsageError, match=r"tolerance option: .*rtol must not be negative"):
        verify.check(case, tolerance={"rtol": -1})
    with pytest.raises(TypeError, match=r"case\.functions\.f: a case holds strings, numbers"):
        verify.check({"variables": {"x": {}}, "functions": {"f": object()}})


# -- metadata and reports --------------------------------------------------------------------------------

def test_frame_attrs_hold_the_run_metadata(tmp_path: Path) -> None:
    frame = verify.check(YAML, report_dir=tmp_path / "out")
    attrs = frame.attrs
    assert attrs["verify"] == verify.__version__ and attrs["distribution"] == "verify-derivatives"
    assert attrs["torch"] == torch.__version__.split("+")[0] or attrs["torch"].startswith(torch.__version__.split("+")[0])
    assert attrs["python"] == ".".join(map(str, sys.version_info[:3]))
    assert attrs["sympy"] and attrs["api"] == "verify.check" and attrs["cases"] == ["<yaml>"]
    assert set(attrs["devices"]) == set(frame.loc[frame["device"] != "-", "device"])
    assert attrs["started"][:4].isdigit() and attrs["seconds"] >= 0
    json.dumps(attrs)  # JSON-ready
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"report.csv", "report.json", "report.meta.json", "report.md", "report.html"} <= written
    meta = json.loads((tmp_path / "out" / "report.meta.json").read_text(encoding="utf-8"))
    assert meta["started"] == attrs["started"] and meta["api"] == "verify.check"


def test_run_over_a_corpus_and_keyword(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(YAML, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(textwrap.dedent("""
        name: cosine
        tags: [other]
        variables: [x]
        functions: {g: cos(x)}
        points: {random: 4}
    """), encoding="utf-8")
    frame = verify.run(tmp_path, dtypes="float64")
    assert set(frame["case"]) == {"sine", "cosine"} and frame.attrs["api"] == "verify.run"
    only = verify.run([tmp_path / "a.yaml", tmp_path / "b.yaml"], keyword="other")
    assert set(only["case"]) == {"cosine"}
    with pytest.raises(UsageError, match="no case found"):
        verify.run(tmp_path, keyword="nothing")
    with pytest.raises(FileNotFoundError):
        verify.run(tmp_path / "nope")


# -- verify.run is a function and verify/run.py a module, in any import order --------------------------

ORDERS = {
    "package first": "import verify\nf = verify.run\nimport verify.run\nfrom verify.run import collect, run_paths",
    "module first": "import verify.run\nfrom verify.run import collect\nimport verify\nf = verify.run",
    "from import": "from verify import run as f\nfrom verify.run import run_case\nimport verify.run",
}


@pytest.mark.parametrize("order", ORDERS)
def test_verify_run_is_callable_in_any_import_order(order: str, tmp_path: Path) -> None:
    (tmp_path / "sine.yaml").write_text(YAML, encoding="utf-8")
    script = ORDERS[order] + textwrap.dedent(f"""
        import sys
        assert callable(verify.run) and callable(f) and verify.run is sys.modules["verify.run"]
        assert verify.run.collect is collect if "collect" in dir() else True
        frame = f([{str(tmp_path / "sine.yaml")!r}], dtypes="float64", cache=False)
        print(sorted(set(frame["status"])))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['pass']"


def test_import_verify_stays_cheap() -> None:
    script = ("import sys, verify\nheavy = [m for m in ('torch', 'numpy', 'pandas', 'sympy') if m in sys.modules]\n"
              "print(heavy, sorted(verify.__all__) == sorted(set(verify.__all__)))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.stdout.strip() == "[] True", done.stderr
    for name in ("check", "assert_ok", "run"):
        assert name in verify.__all__ and callable(getattr(verify, name))


def test_nan_ratio_for_records_that_compare_no_values() -> None:
    frame = verify.check(YAML)
    expect = frame[frame["mode"] == "expect"].iloc[0]
    assert math.isnan(expect["tolerance_ratio"])


def test_the_readme_example_runs() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### From Python"):]
    code = section[section.index("```python\n") + len("```python\n"):section.index("\n```", section.index("```python"))]
    assert len(code.splitlines()) <= 16
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    namespace["test_softplus"]()  # type: ignore[operator]
