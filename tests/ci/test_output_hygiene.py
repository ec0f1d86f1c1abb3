"""Nothing from a case file reaches the start of an output line as a CI workflow command.

GitHub Actions runs `::command::` from any line of a step's stdout or stderr that starts with
`::` once leading whitespace is trimmed (and the legacy `##[command]` anywhere in a line). Names,
descriptions, xfail reasons and messages come from untrusted case files: they must be printed
defused, with or without `--annotate`; verify's own annotations are the only commands.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from verify.annotate import CommandSafeStream, neutralize
from verify.cli import main

# A case file that tries every place text from the file is printed: an xfail reason that
# passes (xpass: its reason is printed), a description, and a file whose YAML does not parse.
HOSTILE = """
name: hostile
description: "a\\n::error file=pwned.py,line=1::injected by the description\\n##[error]legacy"
xfail: "reason\\n::stop-commands::deadbeef\\n\\u00a0::add-mask::secret\\r::warning::cr"
variables: [x]
functions: {f: x**2}
checks:
  - gradient: f
    expect: 2*x
points: {random: 4}
modes: [rev]
"""
QUOTED = "name: quoted\nvariables: [x\n::error file=quoted.py::injected by a YAML error\nfunctions: {f: x}\n"

# The runner trims .NET whitespace; Python's str.isspace() agrees on the characters that matter.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def commands(text: str) -> list[str]:
    """The output lines GitHub Actions would take as workflow commands."""
    found = [line for line in _LINE_BREAK.split(text) if line.lstrip().startswith("::")]
    return found + [line for line in _LINE_BREAK.split(text) if "##[" in line]


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "hostile.yaml").write_text(HOSTILE.lstrip(), encoding="utf-8")
    (cases / "quoted.yaml").write_text(QUOTED, encoding="utf-8")
    return "cases"


@pytest.mark.parametrize("annotate", [False, True], ids=["plain", "annotate"])
def test_case_file_text_never_starts_a_workflow_command(hostile, capsys, tmp_path: Path, annotate: bool) -> None:
    out = io.StringIO()
    args = [hostile, "--report-dir", str(tmp_path / "reports")] + (["--annotate", "github"] if annotate else [])
    code = main(args, out)
    assert code == 1
    stdout, stderr = out.getvalue(), capsys.readouterr().err
    # the hostile text did reach the output (defused), so the test looks at the right place
    assert "stop-commands" in stdout and "add-mask" in stdout
    assert commands(stderr) == []
    found = commands(stdout)
    if not annotate:
        assert found == [], found
    else:  # only verify's own annotations: one per not-ok record, each on one line
        assert found and all(line.startswith("::error file=cases/") for line in found), found
        assert not any("pwned" in line.split("::", 2)[1] or "quoted.py" in line.split("::", 2)[1] for line in found)
        assert len(found) == stdout.count("\n::error file=")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("::error::x", "\\::error::x"),
     ("ok\n::error::x", "ok\n\\::error::x"),
     ("ok\r  ::stop-commands::t", "ok\r  \\::stop-commands::t"),
     ("\u00a0\t::add-mask::m", "\u00a0\t\\::add-mask::m"),
     ("a::b and c :: d", "a::b and c :: d"),
     ("x ##[error]y", "x ##\\[error]y")],
)
def test_neutralize(text: str, expected: str) -> None:
    assert neutralize(text) == expected
    assert commands(neutralize(text)) == []


@pytest.mark.parametrize("chunks", [["ab\n", ":", ":error::x\n"], ["  ", "::x"], ["#", "#", "[x"],
                                    ["a\r", " ", ":", ":", "set-output name=a::b"], ["ok: ", "::fine\n"]])
def test_the_stream_defuses_commands_split_across_writes(chunks: list[str]) -> None:
    raw = io.StringIO()
    stream = CommandSafeStream(raw)
    for chunk in chunks:
        stream.write(chunk)
        stream.flush()
    stream.close()
    assert raw.getvalue() == neutralize("".join(chunks))


def test_step_summary_is_appended_with_annotate_github(corpus, run_cli, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run_cli(corpus)  # without --annotate github: nothing written
    assert summary.read_text(encoding="utf-8") == "earlier step\n"
    code, _ = run_cli(corpus, "--annotate", "github")
    assert code == 1
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n") and "| case | description | results | status |" in text
    assert "failed" in text and "cases/a\\_mixed.yaml::wrong" in text and "| fail |" in text


def test_step_summary_escapes_and_bounds_case_text(tmp_path: Path) -> None:
    from verify.annotate import STEP_SUMMARY_LIMIT, write_step_summary
    from verify.results import Result

    rows = [Result(file=f"f{i}.yaml", case="c", check="jacobian", function="f", dtype="float64", device="cpu",
                   mode="rev", status="pass", description="<script>alert(1)</script> 3*x**2 " + "d" * 5000)
            for i in range(1200)]
    target = write_step_summary(rows, 1.0, tmp_path / "summary.md")
    assert target is not None
    text = target.read_text(encoding="utf-8")
    assert "<script>" not in text and "3\\*x\\*\\*2" in text
    assert len(text.encode()) < STEP_SUMMARY_LIMIT and "more case(s): see report.md" in text
