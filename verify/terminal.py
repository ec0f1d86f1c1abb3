"""What a person at a terminal sees besides the per-case lines: a progress line and a table of counts."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from verify.results import Result

__all__ = ["Progress", "status_table"]

_STATUSES = ("pass", "fail", "error", "skip", "xfail", "xpass")  # verify.run.STATUSES, without importing numpy
_FILE_WIDTH = 60


class Progress:
    """`[done/total] case` on one line of `stream`, rewritten in place; silent unless `stream` is a TTY.

    CI logs and pipes are not terminals, so they never see it (nor do runs with TERM=dumb).
    Call `clear()` before writing anything else to the same terminal.
    """

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        self.enabled = _is_tty(stream) and os.environ.get("TERM", "") != "dumb"
        self._shown = False

    def advance(self, label: str) -> None:
        """Counts one more finished case and shows it."""
        self.done += 1
        if not self.enabled or self.done >= self.total:
            self.clear()
            return
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        text = " ".join(f"[{self.done}/{self.total}] {label}".split())  # one line: a case id may hold breaks
        if len(text) > width:
            text = text[: width - 3] + "..."
        self.stream.write(f"\r\x1b[K{text}")
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Erases the progress line, if one is shown."""
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else "..." + text[-(width - 3):]


def status_table(results: Sequence[Result]) -> list[str]:
    """Counts of each status per case file, one line per file plus a total, as aligned text."""
    per_file: dict[str, Counter[str]] = {}
    for r in results:
        per_file.setdefault(r.file, Counter())[r.status] += 1
    if not per_file:
        return []
    total: Counter[str] = Counter(r.status for r in results)
    names = {name: _shorten(name, _FILE_WIDTH) for name in per_file}
    width = max(len("total"), len("file"), *(len(n) for n in names.values()))
    columns = [max(len(s), *(len(str(c[s])) for c in (*per_file.values(), total))) for s in _STATUSES]

    def row(label: str, cells: Sequence[str]) -> str:
        return (f"{label:<{width}}  " + "  ".join(f"{cell:>{w}}" for cell, w in zip(cells, columns))).rstrip()

    lines = [row("file", _STATUSES)]
    for name, counts in per_file.items():
        lines.append(row(names[name], [str(counts[s]) for s in _STATUSES]))
    lines.append(row("total", [str(total[s]) for s in _STATUSES]))
    return lines
