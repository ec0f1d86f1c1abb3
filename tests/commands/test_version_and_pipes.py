"""`--version`, a closed output pipe (`| head -1`) and an unusable --report-dir, run as a user would."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

import verify
from verify.cli import main

REPO = Path(__file__).resolve().parents[2]
CASE = """
name: small
variables: [x, y]
functions:
  F: [x**2 + y, x*y]
points: {random: 4}
modes: [rev]
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_version_names_verify_and_its_distribution() -> None:
    out = io.StringIO()
    assert main(["--version"], out) == 0
    text = out.getvalue()
    assert text.startswith(f"verify {verify.__version__} (") and text.count("\n") == 1
    assert "distribution verify" in text or "not installed" in text
    done = subprocess.run([sys.executable, "-m", "verify", "--version"], capture_output=True, text=True,
                          env=_env(), timeout=120)
    assert done.returncode == 0 and done.stdout == text and done.stderr == ""


@pytest.mark.parametrize("command", [["schema"], ["show", "{case}"], ["{case}", "--report-dir", "{reports}"]],
                         ids=["schema", "show", "run"])
def test_a_closed_pipe_ends_quietly(tmp_path: Path, command: list[str]) -> None:
    case = tmp_path / "small.yaml"
    case.write_text(CASE, encoding="utf-8")
    argv = [a.replace("{case}", str(case)).replace("{reports}", str(tmp_path / "reports")) for a in command]
    # `python -m verify ... | head -1`: the reader takes one line and goes away
    process = subprocess.Popen([sys.executable, "-m", "verify", *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=_env(), cwd=tmp_path)
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read().decode()
    code = process.wait(timeout=300)
    assert first
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert code in (0, 141), (code, stderr)


@pytest.mark.parametrize("kind", ["file", "under-a-file"])
def test_a_report_dir_that_cannot_be_a_folder_is_a_usage_error(tmp_path: Path, capsys, kind: str) -> None:
    case = tmp_path / "small.yaml"
    case.write_text(CASE, encoding="utf-8")
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder\n", encoding="utf-8")
    target = blocker if kind == "file" else blocker / "reports"
    out = io.StringIO()
    assert main([str(case), "--report-dir", str(target)], out) == 2
    err = capsys.readouterr().err
    assert "--report-dir" in err and str(target) in err
    assert "case(s)" not in out.getvalue(), "refused before any case ran"
    assert blocker.read_text(encoding="utf-8") == "a file, not a folder\n"


def test_a_report_dir_that_does_not_exist_yet_is_created(tmp_path: Path) -> None:
    case = tmp_path / "small.yaml"
    case.write_text(CASE, encoding="utf-8")
    assert main([str(case), "--report-dir", str(tmp_path / "new" / "deeper")], io.StringIO()) == 0
    assert (tmp_path / "new" / "deeper" / "report.json").is_file()
