"""--shard K/N: the shards of a corpus are disjoint, cover it, and are the same on every run."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

TINY = """
name: {name}
variables: [x]
functions: {{f: {expr}}}
points: {{random: 2}}
modes: [rev]
"""
EXPRESSIONS = ("sin(x)", "cos(x)", "exp(x)", "x**2", "x**3", "tanh(x)", "sinh(x)", "x + 1", "2*x", "atan(x)")


@pytest.fixture
def many_cases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ten tiny cases over three files, run from tmp_path; returns their ids."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus").mkdir()
    ids = []
    for i, expr in enumerate(EXPRESSIONS):
        name = f"case-{i}"
        file = f"corpus/file_{i % 3}.yaml"
        path = tmp_path / file
        previous = path.read_text(encoding="utf-8") + "---\n" if path.exists() else ""
        path.write_text(previous + TINY.format(name=name, expr=expr).lstrip("\n"), encoding="utf-8")
        ids.append(f"{file}::{name}")
    return ids


def case_ids(records: list[dict]) -> set[str]:
    return {f"{r['file']}::{r['case']}" for r in records}


def test_shards_are_disjoint_cover_every_case_and_follow_sha256(many_cases, run_cli, records, tmp_path: Path) -> None:
    n = 3
    shards = []
    for k in range(1, n + 1):
        code, output = run_cli("corpus", "--shard", f"{k}/{n}")
        assert code == 0, output
        shards.append(case_ids(records(tmp_path / "reports")))
        assert f"(shard {k}/{n} of {len(many_cases)})" in output
    assert set().union(*shards) == set(many_cases)
    assert sum(len(s) for s in shards) == len(many_cases)
    assert sum(bool(s) for s in shards) >= 2, "ten cases should not all land in one of three shards"
    # the documented rule, computed here independently
    for k, owned in enumerate(shards, start=1):
        assert owned == {i for i in many_cases if int(hashlib.sha256(i.encode()).hexdigest(), 16) % n == k - 1}


def test_shard_1_of_1_is_everything(many_cases, run_cli, records, tmp_path: Path) -> None:
    assert run_cli("corpus", "--shard", "1/1")[0] == 0
    assert case_ids(records(tmp_path / "reports")) == set(many_cases)


def test_shards_are_stable_across_processes(many_cases, run_cli, records, tmp_path: Path) -> None:
    """Another interpreter (another hash() salt) picks the same cases; its stderr has no progress line."""
    assert run_cli("corpus", "--shard", "2/3")[0] == 0
    here = case_ids(records(tmp_path / "reports"))
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    completed = subprocess.run([sys.executable, "-m", "verify", "corpus", "--shard", "2/3", "--report-dir", "other"],
                               cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert case_ids(records(tmp_path / "other")) == here
    assert "\r" not in completed.stderr and "\x1b[" not in completed.stderr  # not a terminal: no progress


def test_an_empty_shard_runs_nothing_and_exits_0(many_cases, run_cli, records, tmp_path: Path) -> None:
    n = 40  # more shards than cases: some shard is empty
    empty = next(k for k in range(1, n + 1)
                 if not any(int(hashlib.sha256(i.encode()).hexdigest(), 16) % n == k - 1 for i in many_cases))
    code, output = run_cli("corpus", "--shard", f"{empty}/{n}")
    assert code == 0, output
    assert "verify: 0 case(s)" in output
    assert records(tmp_path / "reports") == []


@pytest.mark.parametrize("value", ["0/3", "4/3", "3", "a/b", "1/0", "1/2/3", ""])
def test_bad_shard_values_exit_2_with_a_message(many_cases, run_cli, capsys, value: str) -> None:
    code, _ = run_cli("corpus", "--shard", value)
    assert code == 2
    err = capsys.readouterr().err
    assert "--shard" in err and "K/N" in err
