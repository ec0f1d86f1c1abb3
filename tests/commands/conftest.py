"""The subcommand tests never read or write the user's derivation cache: each test gets its own."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "verify-cache"
    monkeypatch.setenv("VERIFY_CACHE_DIR", str(cache))
    return cache
