"""Results -> CI annotations (`--annotate github`): failures shown on the lines of the diff.

GitHub Actions reads workflow commands from a step's output:
`::error file=PATH,line=N,title=TITLE::MESSAGE`. In the message `%`, CR and LF are written
`%25`, `%0D` and `%0A`; in property values (file, title) also `:` as `%3A` and `,` as `%2C`,
as the Actions toolkit does. GitHub shows a limited number of annotations per step (10 errors
at the time of writing); every one is still printed in the log.

The runner reads a command from any output line that starts with `::` once leading whitespace
is trimmed (and the old `##[command]` form anywhere in a line), on stdout and stderr alike,
whether or not `--annotate` was given. Text from a case file (names, descriptions, xfail
reasons, messages that quote expressions) could therefore smuggle in `::stop-commands::`,
`::add-mask::` or a fake `::error`. `neutralize` defuses such text: a line whose first
non-blank characters are `::` gets a backslash before them (`\\::error ...`), and `##[` becomes
`##\\[`. The command line writes everything through `CommandSafeStream`, which applies it to
every line it prints; only verify's own annotations bypass it (`raw`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from verify.results import Result

__all__ = ["FORMATS", "CommandSafeStream", "annotation_lines", "escape_data", "escape_property",
           "github_annotation", "neutralize", "write_step_summary"]

FORMATS = ("github",)
NOT_OK = ("fail", "error", "xpass")
STEP_SUMMARY_LIMIT = 1_000_000  # bytes; GitHub accepts at most 1 MiB of summary per step

# A workflow command: `::` at a line start after blanks (.NET trims Unicode whitespace; the
# runner splits lines at CR and LF only), or the legacy `##[` anywhere.
_COMMAND_START = re.compile(r"(^|[\r\n])([^\S\r\n]*)::")
_LEGACY = "##["


def neutralize(text: str) -> str:
    """`text` with every workflow command defused: `::` that starts a line -> `\\::`, `##[` -> `##\\[`."""
    return _COMMAND_START.sub(r"\1\2\\::", text).replace(_LEGACY, "##\\[")


class CommandSafeStream:
    """A text stream that writes through `neutralize`, line by line, to `raw`.

    Text is held back only while it could still become a command (blanks, or a single `:` at a
    line start, a trailing `#` or `##`); `flush` passes on the rest. Write verify's own
    annotations to `raw`.
    """

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw
        self._pending = ""  # undecided text at the end of what was written
        self._at_start = True  # whether `_pending` begins at a line start

    def write(self, text: str) -> int:
        if text:
            self._emit(self._pending + text, final=False)
        return len(text)

    def _emit(self, text: str, final: bool) -> None:
        start = self._at_start
        keep = "" if final else _undecided_tail(text, start)
        body = text[: len(text) - len(keep)]
        if body:
            safe = neutralize(body) if start else neutralize("x" + body)[1:]
            self.raw.write(safe)
            start = body[-1] in "\r\n"
        self._pending, self._at_start = keep, start

    def flush(self) -> None:
        if self._pending and not _undecided_tail(self._pending, self._at_start):
            self._emit("", final=True)
        self.raw.flush()

    def close(self) -> None:
        """Writes out anything still held back (as plain text: nothing follows it)."""
        if self._pending:
            self._emit(self._pending, final=True)
            self._pending = ""
        self.raw.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.raw, "isatty", lambda: False)())

    def __getattr__(self, name: str) -> object:  # encoding, errors, fileno, ... of the raw stream
        return getattr(self.raw, name)


def _undecided_tail(text: str, at_start: bool) -> str:
    """The end of `text` that the next write could still turn into a command."""
    cut = max(text.rfind("\r"), text.rfind("\n"))
    line = text[cut + 1:]
    if (cut >= 0 or at_start) and line and line.lstrip() in ("", ":"):
        return line
    for tail in ("##", "#"):
        if line.endswith(tail):
            return tail
    return ""


def escape_data(text: str) -> str:
    """A workflow command's message: % CR LF escaped (the percent first)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as the message, plus `:` and `,`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(r: Result) -> str:
    """The `::error ...::...` line of one not-ok result."""
    what = r.check if r.function in ("", "-") else f"{r.check} of {r.function}"
    variant = ", ".join(v for v in (r.mode, r.dtype, r.device) if v not in ("", "-"))
    title = f"verify {r.status}: {r.case}: {what}" + (f" [{variant}]" if variant else "")
    properties = [f"file={escape_property(r.file)}"]
    if r.line > 0:
        properties.append(f"line={r.line}")
    properties.append(f"title={escape_property(title)}")
    from verify.report import capped

    message = capped(r).message or f"{r.check} of {r.function}: {r.status}"
    if r.worst_point and r.worst_point not in message:
        message += f"\nworst point: {r.worst_point}"
    return f"::error {','.join(properties)}::{escape_data(message)}"


def annotation_lines(results: Sequence[Result], fmt: str = "github") -> list[str]:
    """One annotation line per fail, error or xpass row, in the results' order."""
    if fmt not in FORMATS:
        raise ValueError(f"annotation format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return [github_annotation(r) for r in results if r.status in NOT_OK]


def write_step_summary(results: Sequence[Result], seconds: float | None = None,
                       path: str | Path | None = None) -> Path | None:
    """Appends the Markdown summary (summary line, table of cases) to `path` or `$GITHUB_STEP_SUMMARY`.

    Does nothing (returns None) when neither is set. Text from case files is escaped as in
    report.md; the table is cut to stay under GitHub's 1 MiB per step, with a note.
    """
    import os

    from verify.report import markdown_summary

    target = path if path is not None else os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    text = "## verify\n\n" + markdown_summary(results, seconds, limit=STEP_SUMMARY_LIMIT - 100) + "\n"
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(text)
    return Path(target)
