"""The terminal: a table of counts per status per file at the end, and a progress line only on a TTY."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from verify.terminal import Progress

STATUSES = ["pass", "fail", "error", "skip", "xfail", "xpass"]


def table_of(output: str) -> dict[str, dict[str, int]]:
    """The status table: first column -> {status: count}, read from its header."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split() == ["file", *STATUSES])
    table = {}
    for line in lines[start + 1:]:
        cells = line.split()
        table[cells[0]] = dict(zip(STATUSES, map(int, cells[1:])))
        if cells[0] == "total":
            return table
    raise AssertionError(f"no total row:\n{output}")


def test_status_table_counts_each_status_per_file(corpus, run_cli, records, tmp_path: Path) -> None:
    code, output = run_cli(corpus)
    assert code == 1
    table = table_of(output)
    rows = records(tmp_path / "reports")
    files = sorted({r["file"] for r in rows})
    assert sorted(k for k in table if k != "total") == files
    for file in files:
        counts = Counter(r["status"] for r in rows if r["file"] == file)
        assert table[file] == {s: counts[s] for s in STATUSES}, file
    assert table["total"] == {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    # the table comes after the per-case lines, and the summary is still the last line
    assert output.index("total ") > output.index("cases/c_broken.yaml::")
    assert output.rstrip().splitlines()[-1].startswith(f"{table['total']['pass']} passed")


def test_quiet_keeps_the_table(corpus, run_cli) -> None:
    code, output = run_cli(corpus, "-q", "-k", "good")
    assert code == 0
    assert table_of(output)["total"]["pass"] > 0


def test_no_progress_on_stderr_when_it_is_not_a_terminal(corpus, run_cli, capsys) -> None:
    run_cli(corpus)
    err = capsys.readouterr().err
    assert "\r" not in err and "[1/" not in err


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_rewrites_one_line_on_a_terminal(monkeypatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    stream = FakeTerminal()
    progress = Progress(stream, total=3)
    progress.advance("a.yaml::one")
    progress.advance("a.yaml::two")
    assert stream.getvalue() == "\r\x1b[K[1/3] a.yaml::one\r\x1b[K[2/3] a.yaml::two"
    progress.advance("a.yaml::three")  # the last one clears the line
    assert stream.getvalue().endswith("\r\x1b[K")
    progress.clear()  # nothing shown: nothing written
    assert stream.getvalue().count("\r") == 3


@pytest.mark.parametrize("stream, term", [(io.StringIO(), "xterm"), (FakeTerminal(), "dumb")])
def test_progress_is_silent_off_a_terminal_or_on_a_dumb_one(monkeypatch, stream: io.StringIO, term: str) -> None:
    monkeypatch.setenv("TERM", term)
    progress = Progress(stream, total=3)
    progress.advance("x")
    progress.clear()
    assert stream.getvalue() == ""


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_progress_shows_on_a_real_terminal(corpus, tmp_path: Path) -> None:
    """`python -m verify` with stderr on a pseudo-terminal shows [done/total] and clears it at the end."""
    controller, terminal = os.openpty()
    try:
        completed = subprocess.run([sys.executable, "-m", "verify", corpus, "-k", "not broken", "--report-dir", "r"],
                                   cwd=tmp_path, stdout=subprocess.PIPE, stderr=terminal, text=True, timeout=120,
                                   env={**os.environ, "TERM": "xterm"}, check=False)
        os.close(terminal)
        terminal = -1
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    err = seen.decode("utf-8", "replace")
    assert completed.returncode == 1, completed.stdout + err
    assert "\r\x1b[K[1/7] running cases/" in err  # names the case running now
    assert err.endswith("\r\x1b[K"), repr(err[-80:])  # cleared, so the terminal is left clean
    assert "\r" not in completed.stdout  # the per-case lines and the table are plain
