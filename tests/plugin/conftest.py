"""The plugin tests run real pytest sessions (the `pytester` fixture) on case files in a temporary directory."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # `pytest_plugins = ["pytester"]` is an error in a conftest below the top one once pytest starts from the
    # repository root ("no longer supported"), so the plugin is loaded here: its options get their defaults.
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plugin runs use the derivation cache as the CLI does: each test gets its own, never the user's."""
    monkeypatch.setenv("VERIFY_CACHE_DIR", str(tmp_path_factory.mktemp("verify-cache")))
    monkeypatch.delenv("VERIFY_NO_IMPL", raising=False)
