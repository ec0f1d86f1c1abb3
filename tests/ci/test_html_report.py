"""report.html: one self-contained page with the summary, the cases, the failures, timing bars and the plot."""

from __future__ import annotations

import base64
import html
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

# The smallest valid PNG: 1x1, one transparent pixel.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


class Page(HTMLParser):
    """Collects what the tests look at: section ids, text per section, img sources and external references."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, str] = {}
        self.current: str | None = None
        self.images: list[str] = []
        self.external: list[str] = []
        self.widths: list[float] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section":
            self.current = values.get("id") or ""
            self.sections[self.current] = ""
        if tag == "img":
            self.images.append(values.get("src") or "")
        for name in ("src", "href"):
            if (values.get(name) or "").startswith(("http:", "https:", "//")) or tag == "link" \
                    or (tag == "script" and "src" in values):  # inline scripts load nothing
                self.external.append(f"{tag} {values}")
        width = re.search(r"width: ([\d.]+)%", values.get("style") or "")
        if width:
            self.widths.append(float(width.group(1)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.current is not None:
            self.sections[self.current] += data


def read_page(path: Path) -> tuple[str, Page]:
    text = path.read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    return text, page


def test_html_report_sections(corpus, run_cli, records, tmp_path: Path) -> None:
    figure = tmp_path / "reports" / "figures" / "forward_vs_reverse.png"
    figure.parent.mkdir(parents=True)
    figure.write_bytes(PNG)
    code, output = run_cli(corpus)
    assert code == 1
    target = tmp_path / "reports" / "report.html"
    assert str(target) in output
    text, page = read_page(target)
    rows = records(tmp_path / "reports")

    assert text.startswith("<!DOCTYPE html>")
    assert list(page.sections) == ["run", "summary", "cases", "failures", "tolerance", "records", "reasons", "timing",
                                   "figures"]
    assert page.external == [], "the page must not load anything from elsewhere"

    # summary: the count of each status
    counts = Counter(r["status"] for r in rows)
    summary = " ".join(page.sections["summary"].split())
    assert f"{counts['pass']} passed, {counts['fail']} failed" in summary
    # cases: every case id, each once
    for case_id in {f"{r['file']}::{r['case']}" for r in rows}:
        assert page.sections["cases"].count(case_id) == 1, case_id
    # failures: every not-ok record's message, and the worst points of those that have one
    failures = page.sections["failures"]
    bad = [r for r in rows if r["status"] in ("fail", "error", "xpass")]
    assert f"({len(bad)})" in failures
    for r in bad:
        assert r["message"] in failures
    worst = [r["worst_point"] for r in bad if r["worst_point"]]
    assert worst and all(f"worst point: {w}" in failures for w in worst)
    # timing: bars proportional to time, the longest case filling the width
    cases = len({(r["file"], r["case"]) for r in rows})
    assert len(page.widths) == 3 * cases
    totals = [sum(page.widths[i:i + 3]) for i in range(0, len(page.widths), 3)]
    assert max(totals) == pytest.approx(100.0, abs=0.05) and min(totals) >= 0
    # figures: the PNG embedded as base64
    [source] = page.images
    assert source.startswith("data:image/png;base64,")
    assert base64.b64decode(source.split(",", 1)[1]) == PNG


def test_html_report_without_the_plot_or_failures(write_case, run_cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./reports/figures/ here either
    path = write_case("""
        name: fine <& "quoted">
        variables: [x]
        functions: {f: sin(x)}
        points: {random: 4}
    """)
    code, _ = run_cli(str(path))
    assert code == 0
    text, page = read_page(tmp_path / "reports" / "report.html")
    assert "figures" not in page.sections and page.images == []
    assert "None." in page.sections["failures"]
    assert 'fine <& "quoted">' in page.sections["cases"]  # the parser unescaped it...
    assert html.escape('fine <& "quoted">') in text  # ...because it was escaped
