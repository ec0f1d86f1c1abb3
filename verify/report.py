"""Results -> pandas DataFrame -> report.csv, report.json (records) and report.md (and report.html)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from verify.results import STATUSES, Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "find_figure", "summary_line", "to_frame", "to_records", "write_reports"]

COLUMNS = tuple(f.name for f in dataclasses.fields(Result))


def to_frame(results: Sequence[Result]) -> pd.DataFrame:
    """One row per result, with the columns of the report contract, in a stable order."""
    import pandas as pd

    return pd.DataFrame([dataclasses.asdict(r) for r in results], columns=list(COLUMNS))


def to_records(results: Sequence[Result]) -> list[dict[str, object]]:
    """The records of report.json: one JSON-ready dict per result (NaN becomes None)."""
    return json.loads(to_frame(results).to_json(orient="records"))  # type: ignore[no-any-return]


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


def _markdown_cell(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _markdown(results: Sequence[Result], seconds: float | None) -> str:
    lines = ["# verify report", "", f"**{summary_line(results, seconds)}**", ""]
    by_case: dict[str, list[Result]] = {}
    for r in results:
        by_case.setdefault(r.case_id, []).append(r)
    lines += ["| case | description | results | status |", "|---|---|---|---|"]
    for case_id, rows in by_case.items():
        worst = next((s for s in ("error", "fail", "xpass", "xfail", "skip") if any(r.status == s for r in rows)), "pass")
        lines.append(f"| {_markdown_cell(case_id)} | {_markdown_cell(rows[0].description)} | {len(rows)} | {worst} |")
    shown = ("check", "function", "dtype", "device", "mode", "status", "points", "excluded",
             "max_abs_err", "max_rel_err", "symbolic_s", "reference_s", "autograd_s")
    lines += ["", "## Results", "", "| case | " + " | ".join(shown) + " |", "|---" * (len(shown) + 1) + "|"]
    for r in results:
        cells = [_markdown_cell(getattr(r, c)) for c in shown]
        lines.append(f"| {_markdown_cell(r.case_id)} | " + " | ".join(cells) + " |")
    problems = [r for r in results if r.status in ("fail", "error", "xpass")]
    if problems:
        lines += ["", "## Failures and errors", ""]
        for r in problems:
            lines.append(f"- **{r.status}** `{r.file}:{r.line}` {r.case} {r.check} {r.function} "
                         f"[{r.mode}, {r.dtype}, {r.device}]: {_markdown_cell(r.message)}")
    return "\n".join(lines) + "\n"


def write_reports(results: Sequence[Result], directory: str | Path, seconds: float | None = None,
                  html: bool = False) -> list[Path]:
    """Writes report.csv, report.json and report.md (and with `html`, report.html) into `directory`.

    Returns the paths written.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    frame = to_frame(results)
    csv_path, json_path, md_path = out / "report.csv", out / "report.json", out / "report.md"
    frame.to_csv(csv_path, index=False)
    records = json.loads(frame.to_json(orient="records"))
    json_path.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    md_path.write_text(_markdown(results, seconds), encoding="utf-8")
    written = [csv_path, json_path, md_path]
    if html:
        from verify.html_report import write_html

        written.append(write_html(results, out / "report.html", seconds, find_figure(out)))
    return written
