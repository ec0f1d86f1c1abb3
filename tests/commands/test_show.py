"""`python -m verify show`: the derivation printed the way a person studies it, as text or LaTeX."""

from __future__ import annotations

import io
import re
import textwrap
from pathlib import Path

import pytest

from verify.cli import main

REPO = Path(__file__).resolve().parents[2]
CHAIN = str(REPO / "cases" / "seed" / "vector_chain_rule.yaml")

DEEP = """
name: deep
variables: [x, y]
functions:
  K: {args: [t], expr: [t, t**2]}
  G: {args: [a, b], expr: a*b}
  F: {args: [s], expr: sin(s)}
  H: F(G(K(x)))
  P: {args: [p, q], expr: p + q**2}
  B: P(G(x, y), 2*y)
checks:
  - chain_rule: H
    expect: [[3*x**2*cos(x**3), 0]]
  - chain_rule: B
    expect: [[y, x + 7*y]]
---
name: norm
variables: {v: {shape: [2], low: 1, high: 2}}
functions:
  n: {expr: norm(v), impl: "no_such_module_anywhere:norm"}
checks:
  - gradient: n
"""


def show(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["show", *args], out)
    return code, out.getvalue()


def write(tmp_path: Path, text: str, name: str = "case.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return str(path)


def section(text: str, title: str) -> str:
    """The part of the plain output under the `-- TITLE ...` heading."""
    start = text.index(f"-- {title}")
    following = text.find("\n-- ", start + 1)
    return text[start:] if following < 0 else text[start:following]


def test_the_vector_chain_rule_is_laid_out_stage_by_stage() -> None:
    code, text = show(CHAIN)
    assert code == 0
    assert text.startswith("vector-chain-rule\n")
    h = section(text, "H(x, y)")
    # each stage at its own arguments, then J_F substituted at G(x, y), then the product
    steps = ["stage 1: G(x, y)", "J_G(x, y) =", "= [[1, 1], [2*x, -2*y]]",
             "stage 2: F(u, v)", "J_F(u, v) =", "= [[2*u, 1], [v, u]]",
             "J_F(G(x, y)) =", "= [[2*x + 2*y, 1], [x**2 - y**2, x + y]]",
             "J_F(G(x, y)) . J_G(x, y) =",
             "multiplied out:",
             "simplified:", "= [[4*x + 2*y, 2*x], [3*x**2 + 2*x*y - y**2, x**2 - 2*x*y - 3*y**2]]",
             "the Jacobian of H, derived directly from its definition:", "J_H(x, y) =",
             "the chain-rule product and J_H agree",
             "expect (jacobian check, line 17): [[4*x + 2*y, 2*x], [3*x**2 + 2*x*y - y**2, x**2 - 3*y**2 - 2*x*y]]",
             "the Jacobian and the claim agree"]
    positions = [h.index(step) for step in steps]
    assert positions == sorted(positions), list(zip(steps, positions))
    assert "DISAGREE" not in text
    # the stage functions have their own sections, with their claims judged
    g = section(text, "G(x, y)")
    assert "definition: G = [x + y, x**2 - y**2]" in g and "the Jacobian and the claim agree" in g


def test_latex_is_a_snippet_of_aligned_equations() -> None:
    code, tex = show(CHAIN, "--latex", "--function", "H")
    assert code == 0
    assert tex.startswith("%")
    assert tex.count("\\begin{aligned}") == tex.count("\\end{aligned}") >= 1
    assert tex.count("\\[") == tex.count("\\]") >= 1
    stripped = re.sub(r"\\[{}]", "", tex)
    assert stripped.count("{") == stripped.count("}")
    assert "J_{F}(G(x, y)) \\cdot J_{G}(x, y) &=" in tex
    assert "3 x^{2} + 2 x y - y^{2}" in tex  # the simplified product
    assert "\\left[\\begin{matrix}" in tex
    assert not re.search(r"[⎡⎣⋅│]", tex), "no pretty-printing art in LaTeX"
    for line in tex.splitlines():
        assert line.startswith(("%", "\\[", "\\]", "\\begin", "\\end")) or "&" in line or not line.strip(), line


def test_a_deeper_composition_and_a_false_claim(tmp_path: Path) -> None:
    code, text = show(write(tmp_path, DEEP), "--name", "deep")
    assert code == 0
    h = section(text, "H(x, y)")
    assert "J_F(G(K(x))) . J_G(K(x)) . J_K(x)" in h
    assert "= [[3*x**2*cos(x**3), 0]]" in h
    assert "the chain-rule product and J_H agree" in h
    assert "the Jacobian and the claim agree" in h
    b = section(text, "B(x, y)")
    assert "J_P(G(x, y), 2*y) . J[G(x, y), 2*y]" in b
    assert "the chain-rule product and J_B agree" in b
    assert re.search(r"the Jacobian and the claim DISAGREE at entry \[0, 1\] \(d B / d y\): "
                     r"the Jacobian x \+ 8\*y, the claim x \+ 7\*y; at .*y=", b), b
    assert "norm" not in text.splitlines()[0]  # --name picked one case of the two


def test_function_filter_and_a_vector_argument_and_an_impl_that_is_never_imported(tmp_path: Path) -> None:
    code, text = show(write(tmp_path, DEEP), "--name", "norm", "--function", "n")
    assert code == 0
    assert "implementation under test: no_such_module_anywhere:norm" in text
    assert "gradient of n(v) =" in text
    assert "= [v[0]/sqrt(v[0]**2 + v[1]**2), v[1]/sqrt(v[0]**2 + v[1]**2)]" in text
    code, tex = show(write(tmp_path, DEEP), "--name", "norm", "--latex")
    assert code == 0
    assert "\\frac{v_{0}}{\\sqrt{v_{0}^{2} + v_{1}^{2}}}" in tex
    code, text = show(CHAIN, "--function", "G")
    assert code == 0
    assert "-- G(x, y)" in text and "-- H(" not in text and "-- F(" not in text


@pytest.mark.parametrize(("name", "says"), [
    ("unknown_name.yaml", r"unknown_name\.yaml:4:\d+: .*'z'"),
    ("unknown_top_level_key_near_miss.yaml", r"unknown_top_level_key_near_miss\.yaml:4:\d+: unknown key 'fucntions'"),
])
def test_errors_in_the_case_file_print_the_case_error_and_exit_1(name: str, says: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, text = show(str(REPO / "tests" / "bad_cases" / name))
    assert code == 1
    assert text == ""
    error = capsys.readouterr().err
    assert re.search(says, error), error
    assert "hint:" in error


def test_bad_usage_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert show(str(tmp_path / "missing.yaml"))[0] == 2
    assert show(CHAIN, "--name", "nope")[0] == 2
    assert "vector-chain-rule" in capsys.readouterr().err  # the names it has
    assert show(CHAIN, "--function", "nope")[0] == 2
    assert show()[0] == 2


TRIG = """
variables: [t, r]
functions:
  R: {args: [t, r], expr: "[r*cos(t), r*sin(t)]"}
  Q: {args: [a, b], expr: "[atan2(b, a), sqrt(a**2 + b**2) * exp(a*b)]"}
  S: Q(R(t, r))
"""


def test_simplification_has_a_time_budget_and_falls_back_to_the_product(tmp_path: Path) -> None:
    path = write(tmp_path, TRIG)
    code, text = show(path, "--function", "S", "--simplify-budget", "0.001")
    assert code == 0
    assert "simplified: (simplification ran out of its 0.001 s budget after 0 of 4 entries" in text
    unsimplified = section(text, "S(t, r)").split("simplified:")[1]
    assert "r**2*sin(t)**2/(r**2*sin(t)**2 + r**2*cos(t)**2)" in unsimplified
    assert "the chain-rule product and J_S agree" in text
    code, text = show(path, "--function", "S", "--simplify-budget", "0")
    assert code == 0 and "not simplified: --simplify-budget is 0" in text


def test_one_broken_case_of_a_file_does_not_hide_the_others(capsys: pytest.CaptureFixture[str]) -> None:
    code, text = show(str(REPO / "tests" / "bad_cases" / "multi_document_second_broken.yaml"))
    assert code == 1
    assert text.startswith("first\n") and "\nthird\n" in text
    assert "the gradient and the claim agree" in section(text, "g(x, y)")
    assert re.search(r"multi_document_second_broken\.yaml:12:\d+: .*'y'", capsys.readouterr().err)
