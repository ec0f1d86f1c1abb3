"""Hypothesis profiles for the property tests.

`ci` is derandomized (the same examples on every run, no example database), so CI is reproducible;
it is loaded when the CI environment variable is set. HYPOTHESIS_PROFILE=NAME picks a profile
explicitly (`dev` is the default: random examples, failures remembered in .hypothesis/).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from verify.case import Case
    from verify.run import Result

_QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True,
                          suppress_health_check=_QUIET)
settings.register_profile("dev", deadline=None, suppress_health_check=_QUIET)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def run_generated(write_case: Callable[..., Path]) -> Callable[..., tuple[Case, list[Result]]]:
    """Writes generated YAML, loads it (it must load as exactly one case) and runs it: (case, result rows)."""
    from verify.case import Case, load_file
    from verify.run import RunOptions, run_case

    def run(text: str, options: RunOptions | None = None, name: str = "generated.yaml") -> tuple[Case, list[Result]]:
        loaded = load_file(write_case(text, name=name))
        assert len(loaded) == 1 and isinstance(loaded[0], Case), f"generated case does not load: {loaded}\n{text}"
        return loaded[0], run_case(loaded[0], options or RunOptions())

    return run

