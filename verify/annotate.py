"""Results -> CI annotations (`--annotate github`): failures shown on the lines of the diff.

GitHub Actions reads workflow commands from a step's output:
`::error file=PATH,line=N,title=TITLE::MESSAGE`. In the message `%`, CR and LF are written
`%25`, `%0D` and `%0A`; in property values (file, title) also `:` as `%3A` and `,` as `%2C`,
as the Actions toolkit does. GitHub shows a limited number of annotations per step (10 errors
at the time of writing); every one is still printed in the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from verify.results import Result

__all__ = ["FORMATS", "annotation_lines", "escape_data", "escape_property", "github_annotation"]

FORMATS = ("github",)
NOT_OK = ("fail", "error", "xpass")


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
    message = r.message or f"{r.check} of {r.function}: {r.status}"
    if r.worst_point and r.worst_point not in message:
        message += f"\nworst point: {r.worst_point}"
    return f"::error {','.join(properties)}::{escape_data(message)}"


def annotation_lines(results: Sequence[Result], fmt: str = "github") -> list[str]:
    """One annotation line per fail, error or xpass row, in the results' order."""
    if fmt not in FORMATS:
        raise ValueError(f"annotation format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return [github_annotation(r) for r in results if r.status in NOT_OK]
