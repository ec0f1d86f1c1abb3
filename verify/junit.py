"""Results -> JUnit XML (`--junit-xml FILE`), the test-report format CI systems display.

One `<testsuite name="verify">` holds one `<testcase>` per result row, that is per (case, check,
function, dtype, device, mode): each row has exactly one status, so each testcase has one
outcome. `classname` is the case file; `name` is `CASE::CHECK[FUNCTION][MODE,DTYPE,DEVICE]`
(a file that did not load: `CASE::load error`). fail -> `<failure>`, error -> `<error>`,
skip -> `<skipped>`, xfail -> `<skipped message="xfail: ...">`, xpass -> `<failure
message="xpass: ...">`; pass has no child. Each testcase's `<system-out>` gives the case file
and line (`file: PATH` and `line: N`).

The document validates against Jenkins' strict junit-10 schema (xunit plugin): the skipped
count is an attribute of `<testsuite>` only, and testcases carry only `name`, `classname` and
`time` (the schema has no `file` or `line` attribute). Messages are capped as in the reports.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from verify.results import Result

__all__ = ["testcase_name", "to_junit", "write_junit"]

# XML 1.0 cannot hold most control characters, not even escaped: they are dropped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MESSAGE_CHARS = 500


def _clean(text: object) -> str:
    return _NOT_XML.sub("", str(text))


def testcase_name(r: Result) -> str:
    """`CASE::CHECK[FUNCTION][MODE,DTYPE,DEVICE]`, the testcase name of a result row.

    A row that belongs to no function and no variant (a file that did not load) is
    `CASE::load error`, or `CASE::CHECK`.
    """
    if all(part in ("", "-") for part in (r.function, r.mode, r.dtype, r.device)):
        return f"{r.case}::load error" if r.check == "load" else f"{r.case}::{r.check}"
    return f"{r.case}::{r.check}[{r.function}][{r.mode},{r.dtype},{r.device}]"


def _seconds(r: Result) -> float:
    return r.symbolic_s + r.reference_s + r.autograd_s


def _details(r: Result) -> str:
    lines = [r.message] if r.message else []
    if r.line:
        lines.append(f"at {r.file}:{r.line}")
    if r.worst_point:
        lines.append(f"worst point: {r.worst_point}")
    if r.points or r.mismatched:
        lines.append(f"mismatched {r.mismatched} of {r.points} point(s); max abs err {r.max_abs_err:.3g}, "
                     f"max rel err {r.max_rel_err:.3g}")
    if r.evidence:
        lines.append(f"evidence: {r.evidence}")
    return "\n".join(lines)


def _headline(r: Result) -> str:
    first = (r.message.strip().splitlines() or [""])[0]
    return first if len(first) <= _MESSAGE_CHARS else first[: _MESSAGE_CHARS - 3] + "..."


def to_junit(results: Sequence[Result], seconds: float | None = None,
             metadata: Mapping[str, Any] | None = None) -> ET.ElementTree:
    """The JUnit document for `results`: `<testsuites>` with one `<testsuite name="verify">`.

    The run's metadata (verify.report.run_metadata), when given, is the suite's `<properties>`.
    """
    from verify.report import capped

    results = [capped(r) for r in results]
    counts = Counter(r.status for r in results)
    total = sum(_seconds(r) for r in results) if seconds is None else seconds
    root = ET.Element("testsuites", name="verify", tests=str(len(results)),
                      failures=str(counts["fail"] + counts["xpass"]), errors=str(counts["error"]),
                      time=f"{total:.3f}")
    suite = ET.SubElement(root, "testsuite", name="verify", tests=root.get("tests", "0"),
                          failures=root.get("failures", "0"), errors=root.get("errors", "0"),
                          skipped=str(counts["skip"] + counts["xfail"]), time=root.get("time", "0"),
                          timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                          hostname=_clean(socket.gethostname()))
    if metadata:
        from verify.report import metadata_lines

        properties = ET.SubElement(suite, "properties")
        for label, text in metadata_lines(metadata):
            ET.SubElement(properties, "property", name=_clean(label), value=_clean(text))
    seen: Counter[tuple[str, str]] = Counter()
    for r in results:
        name = testcase_name(r)
        seen[(r.file, name)] += 1
        if seen[(r.file, name)] > 1:  # the same check twice in one case: keep names unique
            name = f"{name}#{seen[(r.file, name)]}"
        case = ET.SubElement(suite, "testcase", classname=_clean(r.file), name=_clean(name),
                             time=f"{_seconds(r):.3f}")
        headline, details = _clean(_headline(r)), _clean(_details(r))
        if r.status == "fail":
            ET.SubElement(case, "failure", message=headline, type="mismatch").text = details
        elif r.status == "xpass":
            ET.SubElement(case, "failure", message=f"xpass: {headline}", type="xpass").text = details
        elif r.status == "error":
            ET.SubElement(case, "error", message=headline, type="error").text = details
        elif r.status == "skip":
            ET.SubElement(case, "skipped", message=headline, type="skip").text = details
        elif r.status == "xfail":
            ET.SubElement(case, "skipped", message=f"xfail: {headline}", type="xfail").text = details
        ET.SubElement(case, "system-out").text = _clean(f"file: {r.file}\nline: {r.line}")
    ET.indent(root, space=" ")
    return ET.ElementTree(root)


def write_junit(results: Sequence[Result], path: str | Path, seconds: float | None = None,
                metadata: Mapping[str, Any] | None = None) -> Path:
    """Writes the JUnit XML of `results` to `path` (folders created) and returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    to_junit(results, seconds, metadata).write(target, encoding="utf-8", xml_declaration=True)
    return target
