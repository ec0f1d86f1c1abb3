"""report.html in a real browser: headless Chromium runs its filter and sort script (skipped without Chromium).

The same probe as benchmarks/screenshot_report.py, which also takes the screenshot in
reports/figures/report_failing_run.png.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("screenshot_report", REPO / "benchmarks" / "screenshot_report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_filter_and_sort_work_in_headless_chromium(tmp_path: Path) -> None:
    script = _script()
    binary = script.find_chromium()
    if binary is None:
        pytest.skip("no Chromium (apt-get install chromium)")
    page = script.failing_run(tmp_path)
    assert script.probe(binary, page) == []
    shot = tmp_path / "shot.png"
    script.screenshot(binary, page, shot, height=800)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
