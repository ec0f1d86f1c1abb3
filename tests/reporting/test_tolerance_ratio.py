"""A record's tolerance_ratio: max over its entries of |a - r| / (atol + rtol |r|), how close it came to failing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from verify.case import Tolerance
from verify.compare import agree


def ratio(actual: list[float], reference: list[float], rtol: float = 1e-3, atol: float = 1e-6) -> float:
    return agree(np.array(actual)[:, None], np.array(reference)[:, None], Tolerance(rtol, atol)).max_ratio


def test_the_ratio_is_the_largest_error_over_its_allowance() -> None:
    # allowances: 1e-6 + 1e-3*1 = 1.001e-3 and 1e-6 + 1e-3*100 = 0.100001
    got = ratio([1.0005, 100.05], [1.0, 100.0])
    assert got == pytest.approx(max(0.0005 / 1.001e-3, 0.05 / 0.100001), rel=1e-9)


def test_the_ratio_decides_pass_and_fail() -> None:
    at_the_edge = agree(np.array([[1.0 + 1.001e-3]]), np.array([[1.0]]), Tolerance(1e-3, 1e-6))
    assert at_the_edge.max_ratio == pytest.approx(1.0, rel=1e-9)
    over = agree(np.array([[1.01]]), np.array([[1.0]]), Tolerance(1e-3, 1e-6))
    assert over.max_ratio > 1 and not over.ok
    assert ratio([2.0, 3.0], [2.0, 3.0]) == 0.0


def test_non_finite_results_and_excluded_points() -> None:
    assert ratio([math.nan], [1.0]) == math.inf
    assert ratio([math.inf], [math.inf]) == 0.0  # the same infinity agrees
    assert ratio([1.0, 5.0], [math.nan, 5.0]) == 0.0  # an excluded point is not judged
