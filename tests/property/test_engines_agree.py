"""Properties 1 and 2: on well-conditioned generated expressions, exact SymPy derivatives and torch
autograd agree (no false alarm), in float64 and, with the default tolerance, in float32.

Each generated case has a scalar `f` (jacobian in modes rev and fwd, and hessian), a vector `g`
(jacobian) and `p`, a term defined on only part of the box (sqrt(x), log(x), asin(x), ...) plus a
smooth expression (value and jacobian). Where `p`'s exact value is not finite, at a listed point
among others, the value check must exclude the point (the `excluded` column), never fail it; `f`
and `g` are finite on the whole box, so none of their points may be excluded when they are smooth.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings

from .strategies import GeneratedCase, case_files
from .support import problems

RANDOM_POINTS = 16


def _check_rows(generated: GeneratedCase, rows: list, dtype: str) -> None:
    assert not problems(rows), "\n".join(problems(rows))
    engine_rows = [r for r in rows if r.dtype == dtype]
    seen = {(r.check, r.function, r.mode) for r in engine_rows}
    for wanted in [("jacobian", "f", "rev"), ("jacobian", "f", "fwd"), ("jacobian", "g", "rev"),
                   ("jacobian", "g", "fwd"), ("value", "p", "value"), ("jacobian", "p", "rev"), ("jacobian", "p", "fwd")]:
        assert wanted in seen, f"no {wanted} row among {sorted(seen)}"
    assert any(check == "hessian" and function == "f" for check, function, _ in seen), sorted(seen)
    total = RANDOM_POINTS + 2  # the random points and the two listed ones
    for row in engine_rows:
        assert row.status == "pass", row
        assert row.points + row.excluded == total, row
        if row.function == "p":
            assert row.points >= 1, row  # the listed point inside the domain
            if row.mode == "value":
                assert row.excluded >= 1, f"the listed point outside the domain of {generated.partial!r} was not excluded"
        smooth = generated.scalar.smooth if row.function == "f" else all(e.smooth for e in generated.vector)
        if row.function in ("f", "g") and smooth:
            assert row.excluded == 0, f"{row.function} is finite on the whole box, yet {row.excluded} point(s) excluded"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(generated=case_files(dtypes=("float64",), random_points=RANDOM_POINTS))
def test_symbolic_and_autograd_agree_in_float64(generated: GeneratedCase, run_generated: Callable[..., tuple]) -> None:
    _, rows = run_generated(generated.yaml)
    _check_rows(generated, rows, "float64")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(generated=case_files(dtypes=("float32",), random_points=RANDOM_POINTS))
def test_float32_correct_code_passes_default_tolerance(generated: GeneratedCase,
                                                       run_generated: Callable[..., tuple]) -> None:
    _, rows = run_generated(generated.yaml)
    _check_rows(generated, rows, "float32")
