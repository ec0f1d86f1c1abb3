"""Shared fixtures: writing case files and running the CLI as a user would."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# The verify pytest plugin collects case files; these are deliberately broken and read by tests/loading instead.
collect_ignore_glob = ["bad_cases/*"]


@pytest.fixture(autouse=True)
def hermetic_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test has its own derivation cache, never the user's ~/.cache/verify (a stale verdict there
    could hide a regression): VERIFY_CACHE_DIR and XDG_CACHE_HOME point into the test's tmp_path, for
    verify in this process and in any subprocess the test starts."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("VERIFY_CACHE_DIR", str(cache / "verify"))
    return cache / "verify"


@pytest.fixture
def write_case(tmp_path: Path) -> Callable[..., Path]:
    """Writes dedented YAML text to a file under tmp_path and returns its path."""

    def write(text: str, name: str = "case.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., tuple[int, str]]:
    """Runs `python -m verify ARGS` in-process with reports under tmp_path; returns (exit code, output)."""
    from verify.cli import main

    def run(*args: str) -> tuple[int, str]:
        out = io.StringIO()
        argv = list(args)
        if "--report-dir" not in argv:
            argv += ["--report-dir", str(tmp_path / "reports")]
        code = main(argv, out)
        return code, out.getvalue()

    return run


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """GPU tests are skipped where CUDA is not available."""
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
