"""Sample points: the case's `seed` decides the random points, and nothing else does."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from verify.case import Case, load_file
from verify.points import sample_points

CASE = """
name: seeded
seed: {seed}
variables:
  x: {{low: -2, high: 2}}
  y: {{low: 0.5, high: 3}}
functions:
  f: x * y
points: {{random: 64}}
"""


def _points(write_case, seed: int, name: str) -> np.ndarray:
    [case] = load_file(write_case(CASE.format(seed=seed), name))
    assert isinstance(case, Case) and case.seed == seed
    sample = sample_points(case, case.variables, ["x", "y"])
    assert sample.flat.shape == (64, 2)
    return sample.flat


def test_the_seed_decides_the_random_points(write_case) -> None:
    first = _points(write_case, 7, "a.yaml")
    again = _points(write_case, 7, "b.yaml")  # another file, the same seed: the same points
    other = _points(write_case, 8, "c.yaml")
    np.testing.assert_array_equal(first, again)
    assert not np.isin(other, first).any(), "another seed must give other points"
    # the draws respect each variable's interval
    assert (first[:, 0] >= -2).all() and (first[:, 0] <= 2).all()
    assert (first[:, 1] >= 0.5).all() and (first[:, 1] <= 3).all()


def test_records_carry_the_seed_their_points_came_from(write_case, run_cli, tmp_path) -> None:
    for seed in (11, 12):
        path = write_case(CASE.format(seed=seed), f"s{seed}.yaml")
        code, output = run_cli(str(path), "--report-dir", str(tmp_path / f"r{seed}"))
        assert code == 0, output
    worst = {}
    for seed in (11, 12):
        rows = json.loads((tmp_path / f"r{seed}" / "report.json").read_text(encoding="utf-8"))
        assert {r["seed"] for r in rows} == {seed}
        worst[seed] = [r["worst_point"] for r in rows if r["worst_point"]]
        assert worst[seed]
    assert worst[11] != worst[12], "the worst point comes from the seeded draws"


def test_tests_never_use_the_users_cache(tmp_path) -> None:
    """tests/conftest.py gives every test its own derivation cache (no folder-level fixture here)."""
    from verify.cache import default_cache_dir

    assert default_cache_dir().is_relative_to(tmp_path)
    assert os.environ["XDG_CACHE_HOME"].startswith(str(tmp_path))
    assert not default_cache_dir().is_relative_to(Path.home() / ".cache")
