"""`impl`: the user's torch code checked against the exact derivative of its `expr`, one failure kind per test."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import pytest

from verify.case import load_file
from verify.run import Result, RunOptions, run_case

_NAMES = itertools.count()

OPS = '''
import torch


class NoForwardRule(torch.autograd.Function):
    """x**2 with a backward but no jvp."""

    @staticmethod
    def forward(x):
        return x * x

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad


class OldStyle(torch.autograd.Function):
    """x**2, written the pre-torch.func way (ctx in forward)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad


class WrongBackward(NoForwardRule):
    generate_vmap_rule = True

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2.01 * x * grad  # the seeded bug: 2.01 for 2

    @staticmethod
    def jvp(ctx, tangent):
        (x,) = ctx.saved_tensors
        return 2 * x * tangent


def no_forward_rule(x):
    return NoForwardRule.apply(x)


def old_style(x):
    return OldStyle.apply(x)


def wrong_backward(x):
    return WrongBackward.apply(x)


def branchy(x):
    if x > 0:  # data-dependent control flow: vmap cannot batch it
        return x * x
    return -x


def raises(x):
    raise ValueError("boom from the impl")


def wrong_shape(x):
    return torch.stack([x, x])


def stage(x, y):
    return torch.stack([x + y, x * x - y * y + 0.001 * x])  # G with a wrong second output
'''


@pytest.fixture
def impl_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Writes the ops module and a case using `module:function` impls; returns the case's rows."""
    module = f"impl_ops_{next(_NAMES)}"
    (tmp_path / f"{module}.py").write_text(OPS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))

    def run(body: str, dtypes: tuple[str, ...] = ("float64",)) -> list[Result]:
        text = textwrap.dedent(body).replace("MOD", module).lstrip("\n")
        path = tmp_path / "case.yaml"
        path.write_text(text, encoding="utf-8")
        return run_case(load_file(path)[0], RunOptions(dtypes=dtypes))

    return run


def by_mode(rows: list[Result], function: str) -> dict[str, Result]:
    return {r.mode: r for r in rows if r.function == function and r.mode in ("value", "rev", "fwd")}


def test_a_mode_the_impl_does_not_support_is_a_skip_with_the_reason(impl_case) -> None:
    rows = by_mode(impl_case("""
        variables: [x]
        functions:
          f: {args: [x], expr: x**2, impl: "MOD:no_forward_rule"}
    """), "f")
    assert rows["value"].status == "pass" and rows["rev"].status == "pass"
    assert rows["fwd"].status == "skip"
    assert "does not support forward-mode AD" in rows["fwd"].message and "no_forward_rule" in rows["fwd"].message


def test_an_impl_torch_func_cannot_transform_falls_back_to_torch_autograd(impl_case) -> None:
    rows = by_mode(impl_case("""
        variables: [x]
        functions:
          f: {args: [x], expr: x**2, impl: "MOD:old_style"}
    """), "f")
    assert rows["rev"].status == "pass"
    assert "torch.autograd point by point" in rows["rev"].evidence
    assert rows["fwd"].status == "skip"


def test_an_impl_vmap_cannot_batch_runs_point_by_point(impl_case) -> None:
    rows = by_mode(impl_case("""
        variables: {x: {low: -2, high: 2}}
        functions:
          f: {args: [x], expr: "where(x > 0, x**2, -x)", impl: "MOD:branchy"}
    """), "f")
    assert {r.status for r in rows.values()} == {"pass"}
    assert all("point by point (vmap failed" in r.evidence for r in rows.values())


def test_an_impl_that_raises_is_an_error_naming_the_case_and_the_impl_line(impl_case) -> None:
    rows = impl_case("""
        variables: [x]
        functions:
          f: {args: [x], expr: x, impl: "MOD:raises"}
    """)
    assert {r.status for r in rows} == {"error"}
    message = rows[0].message
    assert "case.yaml:3:" in message and "ValueError: boom from the impl" in message
    assert "impl_ops_" in message and ".py:" in message  # the line of the user's code that raised


def test_an_impl_that_cannot_be_imported_is_an_error_saying_where_it_looked(impl_case) -> None:
    rows = impl_case("""
        variables: [x]
        functions:
          f: {args: [x], expr: x, impl: "no_such_module_anywhere:f"}
    """)
    assert {r.status for r in rows} == {"error"}
    assert "cannot import 'no_such_module_anywhere'" in rows[0].message and "searched" in rows[0].message


def test_an_impl_of_the_wrong_shape_is_an_error(impl_case) -> None:
    rows = impl_case("""
        variables: [x]
        functions:
          f: {args: [x], expr: x**2, impl: "MOD:wrong_shape"}
    """)
    assert {r.status for r in rows} == {"error"}
    assert "returned shape (2,), but its expr has shape ()" in rows[0].message


def test_a_wrong_backward_fails_in_reverse_mode_only_with_entry_point_and_count(impl_case) -> None:
    rows = by_mode(impl_case("""
        variables: {x: {low: 1, high: 2}}
        functions:
          f: {args: [x], expr: x**2, impl: "MOD:wrong_backward"}
        points: {random: 16}
    """), "f")
    assert rows["value"].status == "pass" and rows["fwd"].status == "pass"
    failure = rows["rev"]
    assert failure.status == "fail" and failure.mismatched == 16
    assert "jacobian of f [rev, float64, cpu]: Mismatched entries: 16 / 16 (at 16 / 16 points)" in failure.message
    assert "entry [0, 0] (d f / d x)" in failure.message and "worst at x=" in failure.message
    assert "expected" in failure.message and "got" in failure.message


def test_an_impl_inside_a_composition_is_used_there_and_its_bug_shows(impl_case) -> None:
    rows = impl_case("""
        variables: [x, y]
        functions:
          G: {args: [x, y], expr: [x + y, x**2 - y**2], impl: "MOD:stage"}
          F: {args: [u, v], expr: [u**2 + v, u*v]}
          H: F(G(x, y))
        checks:
          - chain_rule: H
    """)
    modes = {r.mode: r.status for r in rows}
    assert modes["symbolic"] == "pass" and modes["numeric"] == "pass"  # the exact chain rule holds
    assert modes["value"] == "fail"  # H computed through G's impl is off
    assert modes["rev"] == "fail" and modes["fwd"] == "fail"


def test_values_are_checked_before_derivatives(impl_case) -> None:
    rows = impl_case("""
        variables: [x]
        functions:
          f: {args: [x], expr: x**2, impl: "MOD:wrong_backward"}
        checks:
          - jacobian: f
          - gradient: f
    """)
    assert rows[0].mode == "value"
    assert [r.mode for r in rows].count("value") == 1  # once per function, not per check
