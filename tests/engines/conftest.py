"""Fixtures for the engine tests: a compiled Model from a few lines of YAML."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from verify.case import Case, load_file
from verify.model import Model, build_model


@pytest.fixture
def make_model(write_case: Callable[..., Path]) -> Callable[..., Model]:
    """Writes a one-case YAML file and compiles it; fails the test if the case does not load."""

    def make(text: str, name: str = "case.yaml") -> Model:
        loaded = load_file(write_case(text, name))
        assert len(loaded) == 1 and isinstance(loaded[0], Case), loaded
        return build_model(loaded[0])

    return make
