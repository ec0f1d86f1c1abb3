"""The comparator: abs(a - r) <= atol + rtol * abs(r) elementwise, exclusions, metrics and the worst point."""

from __future__ import annotations

import numpy as np
import pytest

from verify.case import DEFAULT_TOLERANCES, Tolerance
from verify.compare import agree

# Binary fractions, so every difference and bound below is computed exactly.
TOL = Tolerance(rtol=0.5, atol=0.25)


def column(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64).reshape(-1, 1)


# -- the tolerance rule -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("actual", "reference", "ok"),
    [
        (1.75, 1.0, True),  # |a - r| = 0.75 = 0.25 + 0.5 * 1: on the boundary, accepted
        (np.nextafter(1.75, 2), 1.0, False),  # just past it
        (0.25, 1.0, True),  # the bound is symmetric around r
        (0.25 - 2.0**-50, 1.0, False),  # (a difference that float64 still represents exactly)
        (-3.25, -2.0, True),  # rtol scales with |r| for negative r too: 1.25 = 0.25 + 0.5 * 2
        (-3.5, -2.0, False),
        (0.25, 0.0, True),  # r = 0: only atol is left
        (-0.25, 0.0, True),
        (0.3, 0.0, False),
    ],
)
def test_tolerance_rule_boundaries(actual: float, reference: float, ok: bool) -> None:
    agreement = agree(column(actual), column(reference), TOL)
    assert agreement.ok is ok
    assert agreement.mismatched == (0 if ok else 1)


def test_zero_tolerance_accepts_only_exact_equality() -> None:
    exact = Tolerance(rtol=0.0, atol=0.0)
    assert agree(column(1.0, -2.5), column(1.0, -2.5), exact).ok
    assert not agree(column(np.nextafter(1.0, 2)), column(1.0), exact).ok


def test_shapes_must_match() -> None:
    with pytest.raises(ValueError, match="shape"):
        agree(np.zeros((3, 2)), np.zeros((3, 3)), TOL)


# -- excluded points and non-finite values -----------------------------------------------------

def test_points_with_a_non_finite_reference_are_excluded_not_failed() -> None:
    reference = np.array([[1.0, 2.0], [np.nan, 2.0], [1.0, np.inf], [3.0, -np.inf], [0.5, 0.5]])
    actual = np.array([[1.0, 2.0], [7.0, 99.0], [1.0, 5.0], [np.nan, 1.0], [0.5, 0.5]])
    agreement = agree(actual, reference, TOL)
    assert agreement.ok
    assert agreement.points == 2
    assert agreement.excluded == 3
    assert agreement.entries == 4
    assert agreement.mismatched == 0


def test_every_point_excluded_is_not_a_failure() -> None:
    agreement = agree(column(1.0, 2.0), column(np.nan, np.nan), TOL)
    assert agreement.ok and agreement.points == 0 and agreement.excluded == 2


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_torch_value_against_finite_reference_is_a_mismatch(bad: float) -> None:
    # even with a tolerance so wide that any finite number would pass
    wide = Tolerance(rtol=1e300, atol=1e300)
    agreement = agree(column(1.0, bad, 3.0), column(1.0, 2.0, 3.0), wide)
    assert not agreement.ok
    assert agreement.mismatched == 1
    assert agreement.nonfinite == 1
    assert agreement.worst_point == 1
    assert agreement.max_abs_err == np.inf


def test_matching_non_finite_values_at_an_excluded_point_are_not_counted() -> None:
    agreement = agree(column(np.inf, 1.0), column(np.inf, 1.0), TOL)
    assert agreement.ok and agreement.excluded == 1 and agreement.nonfinite == 0


# -- metrics and the worst point ------------------------------------------------------------------

def test_max_abs_and_rel_error() -> None:
    reference = np.array([[1.0, 4.0], [-2.0, 8.0]])
    actual = np.array([[1.5, 4.0], [-2.0, 7.0]])  # errors 0.5 (rel 0.5), 1.0 (rel 0.125)
    agreement = agree(actual, reference, Tolerance(rtol=1.0, atol=0.0))
    assert agreement.ok
    assert agreement.max_abs_err == 1.0
    assert agreement.max_rel_err == 0.5


def test_relative_error_against_a_zero_reference() -> None:
    assert agree(column(0.0), column(0.0), TOL).max_rel_err == 0.0
    assert agree(column(0.125), column(0.0), TOL).max_rel_err == np.inf


def test_worst_point_and_entry_index_the_original_batch() -> None:
    reference = np.zeros((5, 2, 3))
    actual = np.zeros((5, 2, 3))
    reference[0, 0, 0] = np.nan  # excluded: must not shift the indices that follow
    actual[1, 0, 1] = 0.3  # a small mismatch
    actual[3, 1, 2] = 9.0  # the worst one
    agreement = agree(actual, reference, TOL)
    assert agreement.mismatched == 2
    assert agreement.mismatched_points == 2
    assert agreement.worst_point == 3
    assert agreement.worst_entry == (1, 2)
    assert agreement.worst_actual == 9.0 and agreement.worst_reference == 0.0
    assert agreement.max_abs_err == 9.0
    assert agreement.excluded == 1 and agreement.points == 4


def test_worst_mismatch_is_the_one_most_out_of_tolerance() -> None:
    # 100 away from 1000 is allowed (rtol), 1 away from 0 is not: the worst is the second
    reference = np.array([[1000.0, 0.0]])
    actual = np.array([[1100.0, 1.0]])
    agreement = agree(actual, reference, Tolerance(rtol=0.5, atol=0.25))
    assert agreement.mismatched == 1
    assert agreement.worst_entry == (1,)
    assert agreement.max_abs_err == 100.0


def test_scalar_values_have_an_empty_worst_entry() -> None:
    agreement = agree(np.array([1.0, 5.0]), np.array([1.0, 2.0]), TOL)
    assert agreement.worst_point == 1 and agreement.worst_entry == ()


def test_worst_point_is_reported_when_everything_agrees() -> None:
    agreement = agree(column(1.0, 2.0625, 3.0), column(1.0, 2.0, 3.0), TOL)
    assert agreement.ok and agreement.worst_point == 1
    assert agreement.max_abs_err == 0.0625


# -- the documented defaults ---------------------------------------------------------------------

def _references() -> np.ndarray:
    rng = np.random.default_rng(7)
    magnitudes = 10.0 ** rng.uniform(-2, 2, 200)
    return (magnitudes * rng.choice([-1.0, 1.0], 200)).reshape(100, 2)


def test_float64_default_rejects_a_relative_error_of_1e_6() -> None:
    reference = _references()
    agreement = agree(reference * (1 + 1e-6), reference, DEFAULT_TOLERANCES["float64"])
    assert not agreement.ok
    assert agreement.mismatched == reference.size  # every entry, small or large


def test_float64_default_accepts_float64_rounding() -> None:
    reference = _references()
    agreement = agree(reference * (1 + 4 * np.finfo(np.float64).eps), reference, DEFAULT_TOLERANCES["float64"])
    assert agreement.ok


def test_float32_default_accepts_float32_rounding() -> None:
    reference = _references()
    assert agree(reference.astype(np.float32).astype(np.float64), reference, DEFAULT_TOLERANCES["float32"]).ok


def test_float32_default_accepts_float32_arithmetic() -> None:
    """Values computed in float32 at float32 points, against float64 at the same points."""
    x = np.random.default_rng(3).uniform(-3, 3, 500).astype(np.float32)
    computed = np.stack([np.sin(x), np.exp(x), x**3 - 2 * x, np.tanh(x) / (1 + x * x)], axis=1)
    x64 = x.astype(np.float64)
    exact = np.stack([np.sin(x64), np.exp(x64), x64**3 - 2 * x64, np.tanh(x64) / (1 + x64 * x64)], axis=1)
    assert computed.dtype == np.float32
    assert agree(computed.astype(np.float64), exact, DEFAULT_TOLERANCES["float32"]).ok


def test_float32_default_still_rejects_a_real_error() -> None:
    reference = _references()
    assert not agree(reference * (1 + 1e-2), reference, DEFAULT_TOLERANCES["float32"]).ok
