"""Results -> report.csv, report.json (records) and report.md (and report.html); a pandas DataFrame for the API.

Every run's metadata (`run_metadata`: versions, devices, start time, command line, git commit)
goes to report.meta.json beside report.json (which stays a list of records), to the head of
report.md and report.html, and to `frame.attrs` in the Python API; report.csv stays a plain
table that `pandas.read_csv` reads with its defaults, so it carries none.

Text from case files is made safe for each format here (docs/case-format.md, section 13):
descriptions are capped at `DESCRIPTION_CHARS` and messages at `MESSAGE_CHARS` characters per
record; report.csv prefixes text cells that a spreadsheet would run as a formula with `'`;
report.md escapes Markdown and HTML; report.json keeps every float exactly and writes
infinities as the strings "inf" and "-inf", with null only for "not applicable".
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verify.results import NOT_OK, STATUSES, Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "DESCRIPTION_CHARS", "MESSAGE_CHARS", "capped", "csv_cell", "find_figure", "json_value",
           "markdown_summary", "markdown_text", "metadata_lines", "run_metadata", "summary_line", "to_frame", "to_records",
           "write_reports"]

COLUMNS = tuple(f.name for f in dataclasses.fields(Result))
TEXT_COLUMNS = tuple(f.name for f in dataclasses.fields(Result) if f.type in ("str", str))
DESCRIPTION_CHARS = 1_000
"""A record's `description` holds at most this many characters of the case's, then a note."""
MESSAGE_CHARS = 4_000
"""A record's `message` holds at most this many characters, then a note."""
ERROR_FIELDS = ("max_abs_err", "max_rel_err")
WORST_FIRST = ("error", "fail", "xpass", "xfail", "skip")


def _cap(text: str, limit: int, what: str) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{what} cut at {limit:,} of {len(text):,} characters]"


def capped(r: Result) -> Result:
    """`r` with its description and message cut to `DESCRIPTION_CHARS` and `MESSAGE_CHARS`, with a note."""
    description = _cap(r.description, DESCRIPTION_CHARS, "description")
    message = _cap(r.message, MESSAGE_CHARS, "message")
    if description is r.description and message is r.message:
        return r
    return dataclasses.replace(r, description=description, message=message)


def to_frame(results: Sequence[Result]) -> pd.DataFrame:
    """One row per result (capped), with the columns of the report contract, in a stable order."""
    import pandas as pd

    return pd.DataFrame([dataclasses.asdict(capped(r)) for r in results], columns=list(COLUMNS))


DISTRIBUTION = "verify-derivatives"
"""verify's distribution name on the package index (`verify` there is an unrelated project)."""


def _version(distribution: str, module: str) -> str | None:
    import importlib.metadata
    import sys

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        loaded = sys.modules.get(module)
        return str(getattr(loaded, "__version__", "")) or None


def _cpu_name() -> str:
    import platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def _device_names(devices: Sequence[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for device in devices:
        if device == "cpu":
            names[device] = _cpu_name()
        elif device.startswith("cuda"):
            try:
                import torch

                names[device] = str(torch.cuda.get_device_name(torch.device(device)))
            except Exception:  # noqa: BLE001 - a name is a courtesy; no device, no name
                names[device] = "unknown"
        else:
            names[device] = device
    return names


def _git_commit(directory: Path) -> str | None:
    """The commit checked out in `directory`'s repository (with `-dirty` for local changes), or None."""
    import subprocess

    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40", "--exclude=*"],
                              cwd=directory, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def _command_line(argv: Sequence[str] | None) -> str:
    import shlex
    import sys

    args = list(sys.argv if argv is None else argv)
    if args and Path(args[0]).name == "__main__.py" and Path(args[0]).parent.name == "verify":
        args[:1] = ["python", "-m", "verify"]
    elif args and Path(args[0]).name in ("-c", ""):
        args[:1] = ["python", "-c"]
    return shlex.join(args)


def run_metadata(results: Sequence[Result] = (), *, started: float | None = None, seconds: float | None = None,
                 argv: Sequence[str] | None = None) -> dict[str, Any]:
    """What produced a run: versions of verify, Python, torch, SymPy and NumPy, the devices' names, the start
    time (ISO 8601), its length, the command line (default: sys.argv) and the git commit of the working
    directory's repository (None outside one). Every value is JSON-ready.

    `started` is a `time.time()` stamp; by default the run is taken to have ended now, `seconds` ago.
    """
    import datetime
    import platform
    import time

    import verify

    if started is None:
        started = time.time() - (seconds or 0.0)
    # the devices that ran something (a record skipped because its device is missing names none)
    devices = sorted({r.device for r in results if r.device not in ("", "-") and (r.status != "skip" or r.points)})
    return {
        "verify": verify.__version__,
        "distribution": DISTRIBUTION,
        "python": platform.python_version(),
        "torch": _version("torch", "torch"),
        "sympy": _version("sympy", "sympy"),
        "numpy": _version("numpy", "numpy"),
        "platform": platform.platform(),
        "devices": _device_names(devices),
        "started": datetime.datetime.fromtimestamp(started).astimezone().isoformat(timespec="seconds"),
        "seconds": None if seconds is None else round(float(seconds), 3),
        "command": _command_line(argv),
        "git_commit": _git_commit(Path.cwd()),
    }


_METADATA_LABELS = (("verify", "verify"), ("distribution", "distribution"), ("python", "Python"), ("torch", "torch"),
                    ("sympy", "SymPy"), ("numpy", "NumPy"), ("platform", "platform"), ("devices", "devices"),
                    ("started", "started"), ("seconds", "seconds"), ("command", "command line"),
                    ("git_commit", "git commit"))


def metadata_lines(metadata: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, text) pairs of the run metadata, in a fixed order, for the heads of report.md and report.html."""
    out = []
    for key, label in _METADATA_LABELS:
        value = metadata.get(key)
        if isinstance(value, Mapping):
            text = ", ".join(f"{k}: {v}" for k, v in value.items()) or "none"
        else:
            text = "none" if value is None else str(value)
        out.append((label, text))
    return out


def json_value(name: str, value: object, record: Result) -> object:
    """How report.json writes one field: floats exactly; +-inf as "inf"/"-inf"; NaN as null (not applicable).

    Result holds NaN where a field does not apply (a symbolic record has no max_abs_err, a
    record without a numeric comparison no rtol). The only other NaN would be a measured error
    of a record that compared points; it is written "nan" (verify reports a non-finite error as
    inf, so this does not occur in practice).
    """
    if not isinstance(value, float):
        return value
    if math.isnan(value):
        return "nan" if name in ERROR_FIELDS and record.points > 0 else None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def to_records(results: Sequence[Result]) -> list[dict[str, object]]:
    """The records of report.json: one JSON-ready dict per (capped) result, see `json_value`."""
    out = []
    for result in results:
        r = capped(result)
        out.append({name: json_value(name, getattr(r, name), r) for name in COLUMNS})
    return out


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    """A text cell of report.csv: one that a spreadsheet would read as a formula gets a leading `'`.

    Cells starting with `=`, `+`, `-`, `@`, a tab or a carriage return are prefixed (OWASP's
    rule); a lone `-` (verify's "not applicable") is left as it is.
    """
    return "'" + value if value.startswith(_FORMULA_START) and value != "-" else value


def _csv_value(name: str, value: object) -> str:
    # as pandas writes a frame: NaN as an empty cell, floats by repr, text escaped against formulas
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return csv_cell(value) if name in TEXT_COLUMNS and isinstance(value, str) else str(value)


def write_csv(results: Sequence[Result], path: Path) -> None:
    """report.csv with the standard library (no pandas at run time): one row per capped result.

    RFC 4180 line ends, so a CR or LF inside a cell is quoted; `pandas.read_csv` reads it with
    its defaults.
    """
    import csv

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for result in results:
            r = capped(result)
            writer.writerow([_csv_value(name, getattr(r, name)) for name in COLUMNS])


def find_figure(directory: str | Path) -> Path | None:
    """The forward/reverse plot for report.html: DIR/figures/..., else ./reports/figures/..., if either exists."""
    from verify.html_report import FIGURE

    for candidate in (Path(directory) / FIGURE, Path("reports") / FIGURE):
        if candidate.is_file():
            return candidate
    return None


def summary_line(results: Sequence[Result], seconds: float | None = None) -> str:
    """'12 passed, 1 failed, ...' over every status that occurred (pytest's wording)."""
    counts = Counter(r.status for r in results)
    words = {"pass": "passed", "fail": "failed", "error": "errors", "skip": "skipped", "xfail": "xfailed",
             "xpass": "xpassed"}
    parts = [f"{counts[s]} {words[s]}" for s in STATUSES if counts[s] or s in ("pass", "fail")]
    tail = f" in {seconds:.2f}s" if seconds is not None else ""
    return ", ".join(parts) + tail


# In a table cell or after a list marker only inline syntax matters: emphasis, code spans,
# links and images, strikethrough, math and the cell separator; HTML is escaped as HTML, so
# no raw tag or entity passes.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]~|$])")


def markdown_text(value: object) -> str:
    """Text from a case file as inert Markdown: on one line, HTML escaped, punctuation backslash-escaped."""
    text = " ".join(str(value).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _markdown_cell(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3g}"
    return markdown_text(value)


def _worst(rows: Sequence[Result]) -> str:
    return next((s for s in WORST_FIRST if any(r.status == s for r in rows)), "pass")


def markdown_summary(results: Sequence[Result], seconds: float | None = None, limit: int | None = None) -> str:
    """The summary line and the table of cases (worst status each), as Markdown.

    With `limit` (characters), cases past it are left out with a note saying how many.
    """
    lines = [f"**{summary_line(results, seconds)}**", ""]
    by_case: dict[str, list[Result]] = {}
    for r in results:
        by_case.setdefault(r.case_id, []).append(capped(r))
    lines += ["| case | description | results | status |", "|---|---|---|---|"]
    size = sum(len(line) + 1 for line in lines)
    for shown, (case_id, rows) in enumerate(by_case.items()):
        line = f"| {_markdown_cell(case_id)} | {_markdown_cell(rows[0].description)} | {len(rows)} | {_worst(rows)} |"
        if limit is not None and size + len(line) + 200 > limit:
            lines += ["", f"... and {len(by_case) - shown} more case(s): see report.md"]
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines) + "\n"


RESULT_COLUMNS = ("check", "function", "dtype", "device", "mode", "status", "points", "excluded",
                  "max_abs_err", "max_rel_err", "symbolic_s", "reference_s", "autograd_s")
"""The columns of report.md's table of all records, after the case."""


def _markdown(results: Sequence[Result], seconds: float | None, metadata: Mapping[str, Any] | None = None) -> str:
    results = [capped(r) for r in results]
    lines = ["# verify report", "", markdown_summary(results, seconds).rstrip("\n")]
    if metadata is not None:
        lines += ["", "## Run", "", "| run | |", "|---|---|"]
        lines += [f"| {label} | {markdown_text(text)} |" for label, text in metadata_lines(metadata)]
    shown = RESULT_COLUMNS
    lines += ["", "## Results", "", "| case | " + " | ".join(shown) + " |", "|---" * (len(shown) + 1) + "|"]
    for r in results:
        cells = [_markdown_cell(getattr(r, c)) for c in shown]
        lines.append(f"| {_markdown_cell(r.case_id)} | " + " | ".join(cells) + " |")
    problems = [r for r in results if r.status in NOT_OK]
    if problems:
        lines += ["", "## Failures and errors", ""]
        for r in problems:
            where = markdown_text(f"{r.file}:{r.line}")
            what = markdown_text(f"{r.case} {r.check} {r.function} [{r.mode}, {r.dtype}, {r.device}]")
            lines.append(f"- **{r.status}** {where} {what}: {markdown_text(r.message)}")
    return "\n".join(lines) + "\n"


def write_reports(results: Sequence[Result], directory: str | Path, seconds: float | None = None,
                  html: bool = False, metadata: Mapping[str, Any] | None = None) -> list[Path]:
    """Writes report.csv, report.json, report.meta.json and report.md (and with `html`, report.html) into `directory`.

    `metadata` is the run's (see `run_metadata`; by default gathered now). Returns the paths written.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    if metadata is None:
        metadata = run_metadata(results, seconds=seconds)
    csv_path, json_path, md_path = out / "report.csv", out / "report.json", out / "report.md"
    meta_path = out / "report.meta.json"
    write_csv(results, csv_path)
    json_path.write_text(json.dumps(to_records(results), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    meta_path.write_text(json.dumps(dict(metadata), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    md_path.write_text(_markdown(results, seconds, metadata), encoding="utf-8")
    written = [csv_path, json_path, meta_path, md_path]
    if html:
        from verify.html_report import write_html

        written.append(write_html(results, out / "report.html", seconds, find_figure(out), metadata))
    return written
