"""report.html's table of records, its error / tolerance plot, the xfail and skip reasons and the run metadata.

The page is read with html.parser, as a browser would see its structure; the script that sorts
and filters is inline (benchmarks/screenshot_report.py runs it in headless Chromium).
"""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from verify.html_report import render_html
from verify.report import run_metadata, write_reports
from verify.results import Result


def result(**fields: object) -> Result:
    base: dict[str, object] = dict(file="f.yaml", case="c", check="jacobian", function="F", dtype="float64",
                                   device="cpu", mode="rev", status="pass")
    base.update(fields)
    return Result(**base)  # type: ignore[arg-type]


ROWS = [
    result(points=8, tolerance_ratio=0.0, max_abs_err=0.0, rtol=1e-7, atol=1e-10),
    result(mode="fwd", points=8, tolerance_ratio=0.02, max_abs_err=1e-12, rtol=1e-7, atol=1e-10),
    result(case="d", status="fail", points=8, tolerance_ratio=3e5, max_abs_err=0.5, message="wrong <b>rule</b>"),
    result(case="d", mode="fwd", status="fail", points=8, tolerance_ratio=math.inf, max_abs_err=math.inf,
           message="nan where finite"),
    result(case="e", status="xfail", points=8, tolerance_ratio=12.0, message="expected failure (torch bug 1): x"),
    result(case="e", device="cuda", status="skip", message="device 'cuda' is not available on this machine"),
    result(case="e", device="cuda", mode="fwd", status="skip", message="device 'cuda' is not available on this machine"),
    result(case="e", check="jacobian", dtype="exact", device="-", mode="expect", status="pass"),
]


class Page(HTMLParser):
    """Sections, the records table's rows and cells, the SVG's circles and the scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.section: str | None = None
        self.text: dict[str, str] = {}
        self.rows: list[dict[str, str | None]] = []
        self.cells: list[list[tuple[dict[str, str | None], str]]] = []
        self.headings: list[str] = []
        self.circles: list[dict[str, str | None]] = []
        self.lines: list[dict[str, str | None]] = []
        self.scripts: list[dict[str, str | None]] = []
        self.boxes: list[dict[str, str | None]] = []
        self._cell: dict[str, str | None] | None = None
        self._in_th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section":
            self.section = values.get("id")
            self.text[self.section or ""] = ""
        if self.section == "records":
            if tag == "tr" and "data-status" in values:
                self.rows.append(values)
                self.cells.append([])
            if tag == "td" and self.cells:
                self._cell = values
                self.cells[-1].append((values, ""))
            if tag == "th":
                self._in_th = True
                self.headings.append("")
            if tag == "input":
                self.boxes.append(values)
        if tag == "circle":
            self.circles.append(values)
        if tag == "line":
            self.lines.append(values)
        if tag == "script":
            self.scripts.append(values)

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.section = None
        if tag == "td":
            self._cell = None
        if tag == "th":
            self._in_th = False

    def handle_data(self, data: str) -> None:
        if self.section is not None:
            self.text[self.section] += data
        if self._cell is not None and self.cells:
            attrs, text = self.cells[-1][-1]
            self.cells[-1][-1] = (attrs, text + data)
        if self._in_th:
            self.headings[-1] += data


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def test_records_table_has_a_row_per_record_with_sortable_values() -> None:
    page = parse(render_html(ROWS, 1.0))
    assert [r["data-status"] for r in page.rows] == [r.status for r in ROWS]
    assert page.headings[:7] == ["case", "check", "function", "mode", "dtype", "device", "status"]
    ratio_column = page.headings.index("err / allowed")
    ratios = [cells[ratio_column] for cells in page.cells]
    # the shown text is rounded; data-v holds the exact value the sort uses, blank when not applicable
    assert [attrs["data-v"] for attrs, _ in ratios] == ["0.0", "0.02", "300000.0", "Infinity", "12.0", "", "", ""]
    assert [text for _, text in ratios][:5] == ["0", "0.02", "3e+05", "inf", "12"]
    assert "over" in (ratios[2][0]["class"] or "") and "over" not in (ratios[1][0]["class"] or "")
    message_column = page.headings.index("message")
    assert page.cells[2][message_column][1] == "wrong <b>rule</b>"  # escaped: text, not markup


def test_status_filters_are_listed_with_counts_and_the_script_is_inline() -> None:
    text = render_html(ROWS)
    page = parse(text)
    assert [b["data-status"] for b in page.boxes] == ["pass", "fail", "skip", "xfail"]
    assert all("checked" in b for b in page.boxes)
    assert "pass</span> (3)" in text and "skip</span> (2)" in text
    assert page.scripts == [{}], "one inline script, nothing loaded"
    assert "http" not in text.split("<script>")[1].split("</script>")[0]


def test_tolerance_plot_puts_each_compared_record_on_a_log_scale() -> None:
    page = parse(render_html(ROWS))
    compared = [r for r in ROWS if not math.isnan(r.tolerance_ratio)]
    assert len(page.circles) == len(compared) == 5
    assert [c["class"] for c in page.circles] == [r.status for r in compared]
    y = [float(c["cy"] or "nan") for c in page.circles]
    [one] = [float(line["y1"] or "nan") for line in page.lines if line.get("stroke-dasharray")]
    # SVG y grows downwards: 0 at the bottom, then 0.02, the line at 1, 12, 3e5, inf at the top
    assert y[0] > y[1] > one > y[4] > y[2] > y[3]
    x = [float(c["cx"] or "nan") for c in page.circles]
    assert x == sorted(x)
    assert "Error / allowed tolerance" in page.text["tolerance"]


def test_no_plot_without_compared_values() -> None:
    page = parse(render_html([result(dtype="exact", device="-", mode="expect")]))
    assert page.circles == [] and "No record compared values" in page.text["tolerance"]


def test_xfail_and_skip_reasons_are_listed_once_per_reason() -> None:
    page = parse(render_html(ROWS))
    reasons = page.text["reasons"]
    assert "Expected failures and skips (3)" in reasons
    assert reasons.count("device 'cuda' is not available on this machine") == 1  # two records, one reason
    assert "expected failure (torch bug 1): x" in reasons
    assert "wrong" not in reasons


def test_run_metadata_heads_every_report(tmp_path: Path) -> None:
    metadata = run_metadata(ROWS, seconds=2.5, argv=["/x/verify/__main__.py", "cases", "--dtype", "float32"])
    assert metadata["command"] == "python -m verify cases --dtype float32"
    assert metadata["seconds"] == 2.5 and set(metadata["devices"]) == {"cpu"}  # cuda: skipped, not there
    assert metadata["distribution"] == "verify-derivatives"
    write_reports(ROWS, tmp_path, 2.5, html=True, metadata=metadata)
    assert json.loads((tmp_path / "report.meta.json").read_text(encoding="utf-8")) == metadata
    records = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert isinstance(records, list) and len(records) == len(ROWS)  # still a list of records
    assert [r["tolerance_ratio"] for r in records][:4] == [0.0, 0.02, 300000.0, "inf"]
    assert records[-1]["tolerance_ratio"] is None  # not applicable
    frame = pd.read_csv(tmp_path / "report.csv")  # default options: no comment lines in the CSV
    assert len(frame) == len(ROWS) and "tolerance_ratio" in frame.columns
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "## Run" in md and "| command line | python -m verify cases --dtype float32 |" in md
    assert f"| torch | {metadata['torch']} |" in md and f"| started | {metadata['started']} |" in md
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    run = text[text.index('<section id="run">'):text.index('<section id="summary">')]
    assert "<th>command line</th><td>python -m verify cases --dtype float32</td>" in run
    assert f"<th>SymPy</th><td>{metadata['sympy']}</td>" in run
    assert f"<th>git commit</th><td>{metadata['git_commit'] or 'none'}</td>" in run


def test_git_commit_is_named_in_a_repository_and_none_outside(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_metadata()["git_commit"] is None
    monkeypatch.chdir(Path(__file__).parent)
    commit = run_metadata()["git_commit"]
    if commit is not None:  # a source tree without .git (an sdist) has none
        assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", commit)
