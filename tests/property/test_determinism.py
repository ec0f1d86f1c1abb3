"""Property 5: determinism. The same generated case, run twice, gives identical result rows apart
from the timing columns (symbolic_s, reference_s, autograd_s): run afresh twice in one process; run
the way the CLI runs by default, with a derivation cache (the first run fills it, the second reads
it); and run by `python -m verify` in two processes with different hash seeds (SymPy's sets and
dicts of expressions iterate in hash order, which could change what is computed, and how).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verify.run import RunOptions

from .strategies import GeneratedCase, GeneratedChain, case_files, chain_cases
from .support import TIMING_FIELDS, comparable, uncached

REPO = Path(__file__).resolve().parents[2]

CASES = st.one_of(case_files(dtypes=("float64", "float32")), chain_cases())


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(generated=CASES)
def test_running_a_case_twice_gives_the_same_rows(generated: GeneratedCase | GeneratedChain,
                                                  run_generated: Callable[..., tuple]) -> None:
    _, first = run_generated(generated.yaml)
    _, second = run_generated(generated.yaml)
    assert [comparable(r) for r in first] == [comparable(r) for r in second]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(generated=CASES)
def test_a_run_from_the_cache_gives_the_same_rows(generated: GeneratedCase | GeneratedChain,
                                                  run_generated: Callable[..., tuple], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    if cache.exists():  # tmp_path is shared by the examples of one test
        for path in sorted(cache.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
    options = RunOptions(cache_dir=cache)
    _, fresh = run_generated(generated.yaml)
    _, filling = run_generated(generated.yaml, options)
    _, reading = run_generated(generated.yaml, options)
    assert any(cache.rglob("*")), "the cache was not written"
    expected = [comparable(r) for r in fresh]
    assert [comparable(r) for r in filling] == expected
    assert [uncached(comparable(r)) for r in reading] == expected


def _report(directory: Path, cases: Path, hash_seed: str) -> list[dict]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, "-m", "verify", str(cases), "--no-cache", "--quiet", "--report-dir",
                           str(directory)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = json.loads((directory / "report.json").read_text(encoding="utf-8"))
    return [{k: v for k, v in record.items() if k not in TIMING_FIELDS} for record in records]


@settings(max_examples=1, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(generated=st.lists(CASES, min_size=4, max_size=4, unique_by=lambda case: case.yaml))
def test_two_processes_with_different_hash_seeds_write_the_same_report(
        generated: list[GeneratedCase | GeneratedChain], tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("hash-seeds")
    cases = root / "cases"
    cases.mkdir()
    for i, case in enumerate(generated):
        (cases / f"case{i}.yaml").write_text(case.yaml, encoding="utf-8")
    first, second = _report(root / "one", cases, "1"), _report(root / "two", cases, "2")
    assert len(first) == len(second) > 0
    for a, b in zip(first, second):
        assert a == b
