"""The generators keep their promises; the other properties rely on it.

A generated expression's text means what the generator computed (verify's reading, evaluated by
its reference engine, equals the generator's own numpy evaluation), it stays finite and inside its
value bounds on the whole box, and its partial derivatives stay inside its slope bound.
"""

from __future__ import annotations

import numpy as np
import sympy
from hypothesis import HealthCheck, given, settings

from verify.engines.reference import compile_reference
from verify.errors import Location
from verify.expr import Source, as_array, compile_expression

from .strategies import (
    BOX,
    COVERED_FUNCTIONS,
    NOT_GENERATED,
    Expr,
    GeneratedCase,
    GeneratedChain,
    case_files,
    chain_cases,
    evaluate,
    expressions,
)

SYMBOLS = [sympy.Symbol(name, real=True) for name in ("x", "y", "z")]
NAMES = {str(s): as_array(s) for s in SYMBOLS}
POINTS = np.random.default_rng(1234).uniform(*BOX, size=(200, 3))
ENV = {str(s): POINTS[:, i] for i, s in enumerate(SYMBOLS)}
STEP = 1e-6


def test_the_generator_covers_every_elementwise_function_and_where() -> None:
    from verify.functions import ELEMENTWISE

    assert set(ELEMENTWISE) | {"where"} == set(COVERED_FUNCTIONS) | NOT_GENERATED


def _values(expr: Expr, env: dict[str, np.ndarray]) -> np.ndarray:
    return np.broadcast_to(evaluate(expr, env), (POINTS.shape[0],))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(expr=expressions(max_depth=4))
def test_generated_expressions_mean_what_they_say_and_keep_their_bounds(expr: Expr) -> None:
    value = compile_expression(Source(expr.text, Location("generated.yaml", 1, 1)), NAMES, {})
    assert value.shape == ()
    ours = _values(expr, ENV)
    assert np.isfinite(ours).all(), f"{expr.text} is not finite on the box"
    slack = 1e-9 * (1 + expr.bound)
    assert (ours >= expr.lo - slack).all() and (ours <= expr.hi + slack).all(), (
        f"{expr.text} leaves [{expr.lo}, {expr.hi}]: {ours.min()} .. {ours.max()}")
    verify_reads = compile_reference(value.reshape(1), SYMBOLS)(POINTS)[:, 0]
    np.testing.assert_allclose(verify_reads, ours, rtol=1e-9, atol=1e-12, err_msg=expr.text)
    if expr.smooth:
        for name in ENV:
            up, down = dict(ENV), dict(ENV)
            up[name], down[name] = ENV[name] + STEP, ENV[name] - STEP
            slope = np.abs(_values(expr, up) - _values(expr, down)) / (2 * STEP)
            assert (slope <= expr.slope * 1.01 + 1e-4).all(), (
                f"d/d{name} {expr.text} reaches {slope.max()} > bound {expr.slope}")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=case_files(), chain=chain_cases())
def test_generated_case_files_hold_what_they_say(case: GeneratedCase, chain: GeneratedChain) -> None:
    assert case.scalar.text in case.yaml.replace('\\"', '"') and case.partial in case.yaml
    assert all(e.text in case.yaml for e in case.vector)
    assert "H: F(G(x, y))" in chain.yaml and "chain_rule: H" in chain.yaml
    assert all(e.text in chain.yaml for e in (*chain.inner, *chain.outer))
