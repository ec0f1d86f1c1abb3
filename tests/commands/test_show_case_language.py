"""`python -m verify show` writes piecewise results in the case language (where(...)) and selects cases with -k."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest
import sympy

from verify.cli import main
from verify.show import case_text

PIECEWISE = """
name: pieces
tags: [learn]
variables: {x: {low: -1, high: 1}, y: {low: -1, high: 1}}
functions:
  g: where(x > 0, sqrt(x + 2)*y, abs(y) - x)
  h: ["relu(x) + max(x, y)", "where(0 < x < y, x*y, 0)"]
checks:
  - gradient: g
  - jacobian: h
---
name: plain
tags: [other]
variables: [x]
functions: {f: sin(x)}
"""


def show(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["show", *args], out)
    return code, out.getvalue()


@pytest.fixture
def path(tmp_path: Path) -> str:
    file = tmp_path / "corpus.yaml"
    file.write_text(textwrap.dedent(PIECEWISE).lstrip(), encoding="utf-8")
    return str(file)


def test_piecewise_results_read_as_where(path: str) -> None:
    code, text = show(path, "--name", "pieces")
    assert code == 0
    assert "Piecewise" not in text and "Heaviside" not in text.replace("θ", "")
    assert "    = where(x > 0, y*sqrt(x + 2), -x + abs(y))" in text  # a scalar value, as a case writes it
    assert "    = [where(x > 0, y/(2*sqrt(x + 2)), -1), where(x > 0, sqrt(x + 2), sign(y))]" in text
    assert "where(0 < x < y, y, 0)" in text  # a chain of comparisons stays one condition
    assert "    = [relu(x) + max(x, y), where(0 < x < y, x*y, 0)]" in text


def test_shown_text_is_valid_case_language(path: str, tmp_path: Path) -> None:
    """The printed gradient, pasted into a case as `expect`, is proved equal to the derived one."""
    code, text = show(path, "--name", "pieces", "--function", "g")
    assert code == 0
    [line] = [line for line in text.splitlines() if line.startswith("    = [where")]
    claim = line.removeprefix("    = ")
    case = tmp_path / "claim.yaml"
    case.write_text(textwrap.dedent(f"""
        name: claim
        variables: {{x: {{low: -1, high: 1}}, y: {{low: -1, high: 1}}}}
        functions: {{g: "where(x > 0, sqrt(x + 2)*y, abs(y) - x)"}}
        checks:
          - gradient: g
            expect: "{claim}"
        points: {{random: 4}}
        dtypes: [float64]
    """), encoding="utf-8")
    import verify

    frame = verify.check(case, cache=False)
    expect = frame[frame["mode"] == "expect"]
    assert list(expect["status"]) == ["pass"], expect["message"].tolist()


def test_the_case_printer() -> None:
    x, y = sympy.symbols("x y", real=True)
    assert case_text(sympy.Piecewise((x, x > 0), (y, x < -1), (0, True))) == "where(x > 0, x, where(x < -1, y, 0))"
    assert case_text(sympy.Piecewise((x, (x > 0) | (y > 0)), (0, True))) == "where(x > 0, x, where(y > 0, x, 0))"
    assert case_text(sympy.Piecewise((x, sympy.Not(x > 0, evaluate=False)), (1, True))) == "where(x > 0, 1, x)"
    assert case_text(sympy.Piecewise((x, (x > 0) & (y > 0)), (0, True))) == "where(x > 0, where(y > 0, x, 0), 0)"
    assert case_text(sympy.Piecewise((x, sympy.Eq(x, 1)), (0, True))) == "where(x == 1, x, 0)"
    assert case_text(sympy.Heaviside(x)) == "where(x > 0, 1, where(x < 0, 0, 1/2))"
    assert case_text(sympy.Abs(x) + sympy.Min(x, y) + sympy.loggamma(x)) == "abs(x) + lgamma(x) + min(x, y)"
    assert case_text(sympy.Piecewise((x, x > 0))) == "where(x > 0, x, nan)"


def test_k_selects_cases_as_in_runs(path: str) -> None:
    code, text = show(path, "-k", "learn")
    assert code == 0 and text.startswith("pieces\n") and "\nplain\n" not in text
    code, text = show(path, "-k", "not learn and plain")
    assert code == 0 and text.startswith("plain\n") and "pieces" not in text
    code, text = show(path, "-k", "pieces or plain")
    assert "pieces\n" in text and "\nplain\n" in text
    assert show(path, "-k", "nothing")[0] == 2
    assert show(path, "-k", "and (")[0] == 2  # a malformed expression is bad usage, as in runs
