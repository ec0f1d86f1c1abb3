"""The plugin tests run real pytest sessions (the `pytester` fixture) on case files in a temporary directory."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # `pytest_plugins = ["pytester"]` is an error in a conftest below the top one once pytest starts from the
    # repository root ("no longer supported"), so the plugin is loaded here: its options get their defaults.
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")
