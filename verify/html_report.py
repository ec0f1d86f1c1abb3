"""Results -> report.html: one self-contained page (no external assets) for people to read.

Sections, each a `<section id=...>`: `run` (the run metadata: versions, devices, start time,
command line, git commit), `summary` (counts per status), `cases` (one row per case),
`failures` (every fail, error and xpass with its message and worst point), `tolerance` (an
inline SVG plot, log scale, of each record's error / allowed tolerance: how close each check
came to failing), `records` (every record in a table, sortable by any column and filterable by
status, with a few lines of inline JavaScript), `reasons` (why each xfail and skip record did not
count), `timing` (a bar per case, its width proportional to the case's time, split into
derivation, reference and autograd), and `figures` (the forward/reverse plot, embedded as base64,
when it exists). Nothing is loaded from elsewhere.
"""

from __future__ import annotations

import base64
import html
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verify.report import capped, metadata_lines, summary_line

if TYPE_CHECKING:
    from verify.results import Result

__all__ = ["FIGURE", "render_html", "write_html"]

FIGURE = Path("figures") / "forward_vs_reverse.png"
_STATUSES = ("pass", "fail", "error", "skip", "xfail", "xpass")
_WORST_FIRST = ("error", "fail", "xpass", "xfail", "skip")
_PARTS = (("symbolic_s", "derivation"), ("reference_s", "reference"), ("autograd_s", "autograd"))

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 100em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #17692e; } .fail, .error, .xpass { color: #b3161b; font-weight: bold; }
.skip, .xfail { color: #8a6d00; }
pre { background: #f6f6f6; padding: 0.6em; white-space: pre-wrap; overflow-wrap: anywhere; }
.failure { border-left: 4px solid #b3161b; padding-left: 1em; margin: 1em 0; }
.bar { display: flex; height: 1em; background: #eee; width: 30em; }
.bar span { display: block; height: 100%; }
.symbolic_s { background: #5b8def; } .reference_s { background: #f0a830; } .autograd_s { background: #3bb273; }
.key span { display: inline-block; width: 1em; height: 1em; vertical-align: middle; margin: 0 0.3em 0 1em; }
img { max-width: 100%; }
#run th, #run td { border: none; padding: 0.05em 0.8em 0.05em 0; }
#records { overflow-x: auto; } #records table { font-size: 0.85em; }
#records th { cursor: pointer; user-select: none; white-space: nowrap; } #records td { white-space: nowrap; }
#records th[aria-sort=ascending]::after { content: " \25B2"; }
#records th[aria-sort=descending]::after { content: " \25BC"; }
#records td.msg { min-width: 24em; max-width: 40em; white-space: normal; overflow-wrap: anywhere; }
td.near { color: #8a6d00; } td.over { color: #b3161b; font-weight: bold; }
.filters label { margin-right: 1em; white-space: nowrap; }
svg text { font: 11px system-ui, sans-serif; fill: #444; }
"""

_MESSAGE_IN_TABLE = 200  # characters of a message in the table of records (the full text is in its section)
_SCRIPT = """
(function () {
  var section = document.getElementById("records");
  var table = section.querySelector("table");
  var body = table.tBodies[0];
  var boxes = section.querySelectorAll("input[data-status]");
  function filter() {
    var shown = {};
    boxes.forEach(function (box) { shown[box.getAttribute("data-status")] = box.checked; });
    var count = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      var on = shown[row.getAttribute("data-status")] !== false;
      row.hidden = !on;
      if (on) { count += 1; }
    });
    section.querySelector(".shown").textContent = count;
  }
  boxes.forEach(function (box) { box.addEventListener("change", filter); });
  function key(cell) {
    var v = cell.getAttribute("data-v");
    if (v === null) { return cell.textContent; }
    if (v === "") { return NaN; }
    return Number(v);
  }
  table.tHead.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var up = th.getAttribute("aria-sort") !== "ascending";
      table.tHead.querySelectorAll("th").forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a.cells[column]), y = key(b.cells[column]);
        var order;
        if (typeof x === "number" && typeof y === "number") {
          if (isNaN(x) || isNaN(y)) { return isNaN(x) - isNaN(y); }  /* blanks last either way */
          order = x - y;
        } else {
          order = String(x).localeCompare(String(y));
        }
        return up ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  filter();
})();
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _worst(statuses: Sequence[str]) -> str:
    return next((s for s in _WORST_FIRST if s in statuses), "pass")


def _seconds(r: Result) -> float:
    return sum(float(getattr(r, name)) for name, _ in _PARTS)


def _number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.3g}"


def _summary(results: Sequence[Result], seconds: float | None) -> list[str]:
    counts = Counter(r.status for r in results)
    cells = "".join(f'<td class="n {s}">{counts[s]}</td>' for s in _STATUSES)
    return ['<section id="summary">', "<h2>Summary</h2>", f"<p><strong>{_e(summary_line(results, seconds))}</strong></p>",
            "<table><tr>" + "".join(f"<th>{s}</th>" for s in _STATUSES) + "<th>results</th></tr>",
            f'<tr>{cells}<td class="n">{len(results)}</td></tr></table>', "</section>"]


def _cases(by_case: dict[str, list[Result]]) -> list[str]:
    lines = ['<section id="cases">', "<h2>Cases</h2>", "<table>",
             "<tr><th>case</th><th>status</th><th>results</th>" + "".join(f"<th>{s}</th>" for s in _STATUSES)
             + "<th>time (s)</th></tr>"]
    for case_id, rows in by_case.items():
        counts = Counter(r.status for r in rows)
        worst = _worst([r.status for r in rows])
        description = f'<br><small>{_e(rows[0].description)}</small>' if rows[0].description else ""
        lines.append(f'<tr><td>{_e(case_id)}{description}</td><td class="{worst}">{worst}</td><td class="n">{len(rows)}</td>'
                     + "".join(f'<td class="n">{counts[s] or ""}</td>' for s in _STATUSES)
                     + f'<td class="n">{sum(_seconds(r) for r in rows):.3f}</td></tr>')
    return [*lines, "</table>", "</section>"]


def _failures(results: Sequence[Result]) -> list[str]:
    problems = [r for r in results if r.status in ("fail", "error", "xpass")]
    lines = ['<section id="failures">', f"<h2>Failures and errors ({len(problems)})</h2>"]
    if not problems:
        lines.append("<p>None.</p>")
    for r in problems:
        where = f"{r.file}:{r.line}" if r.line else r.file
        what = r.check if r.function in ("", "-") else f"{r.check} of {r.function}"
        variant = ", ".join(v for v in (r.mode, r.dtype, r.device) if v not in ("", "-"))
        lines += ['<div class="failure">',
                  f'<h3><span class="{r.status}">{r.status}</span> {_e(r.case_id)} &middot; {_e(what)}'
                  + (f" [{_e(variant)}]" if variant else "") + "</h3>",
                  f"<p>at <code>{_e(where)}</code></p>"]
        if r.points:
            lines.append(f"<p>{r.mismatched} of {r.points} point(s) mismatched; max abs err "
                         f"{_e(_number(r.max_abs_err))}, max rel err {_e(_number(r.max_rel_err))}</p>")
        if r.worst_point:
            lines.append(f'<p class="worst">worst point: <code>{_e(r.worst_point)}</code></p>')
        lines += [f"<pre>{_e(r.message)}</pre>", "</div>"]
    return [*lines, "</section>"]


def _timing(by_case: dict[str, list[Result]]) -> list[str]:
    parts = {case_id: [sum(float(getattr(r, name)) for r in rows) for name, _ in _PARTS]
             for case_id, rows in by_case.items()}
    longest = max((sum(p) for p in parts.values()), default=0.0)
    key = "".join(f'<span class="{name}"></span>{label}' for name, label in _PARTS)
    lines = ['<section id="timing">', "<h2>Timing</h2>", f'<p class="key">{key}</p>', "<table>",
             "<tr><th>case</th><th>time (s)</th><th></th></tr>"]
    for case_id, seconds in parts.items():
        spans = "".join(f'<span class="{name}" style="width: {100 * s / longest if longest else 0:.2f}%" '
                        f'title="{label}: {s:.3f}s"></span>' for (name, label), s in zip(_PARTS, seconds))
        lines.append(f'<tr><td>{_e(case_id)}</td><td class="n">{sum(seconds):.3f}</td>'
                     f'<td><div class="bar">{spans}</div></td></tr>')
    return [*lines, "</table>", "</section>"]


def _run(metadata: Mapping[str, Any] | None) -> list[str]:
    if metadata is None:
        return []
    rows = "".join(f"<tr><th>{_e(label)}</th><td>{_e(text)}</td></tr>" for label, text in metadata_lines(metadata))
    return ['<section id="run">', "<h2>Run</h2>", f"<table>{rows}</table>", "</section>"]


def _variant(r: Result) -> str:
    return ", ".join(v for v in (r.mode, r.dtype, r.device) if v not in ("", "-"))


def _record_label(r: Result) -> str:
    what = r.check if r.function in ("", "-") else f"{r.check} of {r.function}"
    variant = _variant(r)
    return f"{r.case_id} {what}" + (f" [{variant}]" if variant else "")


def _ratio_class(ratio: float) -> str:
    if math.isnan(ratio):
        return "n"
    return "n over" if ratio > 1 else "n near" if ratio > 0.1 else "n"


_PLOT_W, _PLOT_H = 900, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 60, 20, 28, 44
_STATUS_COLOURS = {"pass": "#17692e", "fail": "#b3161b", "error": "#b3161b", "xpass": "#b3161b", "xfail": "#8a6d00",
                   "skip": "#8a6d00"}


def _tolerance_plot(results: Sequence[Result]) -> list[str]:
    """An inline SVG: one dot per record that compared points, at its error / allowed tolerance (log scale).

    A ratio above 1 fails. A ratio of 0 (exact agreement) sits on the bottom edge, an infinite one
    (a nan or inf where the exact value is finite) on the top edge.
    """
    plotted = [(i, r) for i, r in enumerate(results) if not math.isnan(r.tolerance_ratio)]
    lines = ['<section id="tolerance">', "<h2>Error / allowed tolerance</h2>"]
    if not plotted:
        return [*lines, "<p>No record compared values at points.</p>", "</section>"]
    positive = [r.tolerance_ratio for _, r in plotted if 0 < r.tolerance_ratio < math.inf]
    low = max(-20, min(-2, math.floor(math.log10(min(positive))) if positive else -2))
    high = min(20, max(1, math.ceil(math.log10(max(positive))) if positive else 1))
    width, height = _PLOT_W - _LEFT - _RIGHT, _PLOT_H - _TOP - _BOTTOM
    zero_y, inf_y = _TOP + height + 14, _TOP - 16  # off-scale rows: exact agreement, and non-finite

    def y_of(ratio: float) -> float:
        if ratio == 0:
            return zero_y
        if ratio == math.inf:
            return inf_y
        exponent = min(max(math.log10(ratio), low), high)
        return _TOP + height * (high - exponent) / (high - low)

    step = max(1, math.ceil((high - low) / 10))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{_PLOT_W}" height="{_PLOT_H}" '
             f'viewBox="0 0 {_PLOT_W} {_PLOT_H}" aria-label="error divided by allowed tolerance, per record">',
             f'<rect x="{_LEFT}" y="{_TOP}" width="{width}" height="{height}" fill="#fafafa" stroke="#ccc"/>']
    for exponent in range(low, high + 1, step):
        y = y_of(10.0 ** exponent)
        parts.append(f'<line x1="{_LEFT}" x2="{_LEFT + width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e4e4"/>'
                     f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">1e{exponent}</text>')
    one = y_of(1.0)
    parts.append(f'<line x1="{_LEFT}" x2="{_LEFT + width}" y1="{one:.1f}" y2="{one:.1f}" stroke="#b3161b" '
                 f'stroke-dasharray="6 3"/><text x="{_LEFT + width - 4}" y="{one - 4:.1f}" text-anchor="end">'
                 "1: fails above</text>")
    parts.append(f'<text x="{_LEFT - 6}" y="{zero_y + 4}" text-anchor="end">0</text>'
                 f'<text x="{_LEFT - 6}" y="{inf_y + 4}" text-anchor="end">inf</text>')
    parts.append(f'<text x="{_LEFT + width / 2:.0f}" y="{_PLOT_H - 4}" text-anchor="middle">'
                 f"records, in report order ({len(plotted)} of {len(results)} compared values)</text>")
    for n, (_, r) in enumerate(plotted):
        x = _LEFT + width * (n + 0.5) / len(plotted)
        colour = _STATUS_COLOURS.get(r.status, "#444")
        parts.append(f'<circle cx="{x:.1f}" cy="{y_of(r.tolerance_ratio):.1f}" r="3" fill="{colour}" '
                     f'fill-opacity="0.75" class="{_e(r.status)}"><title>{_e(_record_label(r))}: '
                     f"{_e(_ratio_text(r.tolerance_ratio))}</title></circle>")
    parts.append("</svg>")
    return [*lines, "<p>Each dot is a record that compared torch with the exact values: the largest "
            "|computed - exact| / (atol + rtol |exact|) over its entries and points. Below 1 passes; a dot near "
            "the dashed line came close to failing. Hover over a dot for its record.</p>", "".join(parts),
            "</section>"]


def _ratio_text(ratio: float) -> str:
    return "" if math.isnan(ratio) else "inf" if ratio == math.inf else f"{ratio:.3g}"


_RECORD_COLUMNS = (("case", "case"), ("check", "check"), ("function", "function"), ("mode", "mode"),
                   ("dtype", "dtype"), ("device", "device"), ("status", "status"), ("points", "points"),
                   ("excluded", "excluded"), ("max_abs_err", "max abs err"), ("max_rel_err", "max rel err"),
                   ("tolerance_ratio", "err / allowed"), ("rtol", "rtol"), ("atol", "atol"),
                   ("seconds", "time (s)"), ("message", "message"))


def _number_cell(value: float, css: str = "n") -> str:
    sort = "" if math.isnan(value) else "Infinity" if value == math.inf else "-Infinity" if value == -math.inf \
        else repr(float(value))
    shown = _ratio_text(value) if not math.isinf(value) else ("inf" if value > 0 else "-inf")
    return f'<td class="{css}" data-v="{sort}">{shown}</td>'


def _records(results: Sequence[Result]) -> list[str]:
    counts = Counter(r.status for r in results)
    boxes = "".join(f'<label><input type="checkbox" data-status="{s}" checked> <span class="{s}">{s}</span> '
                    f"({counts[s]})</label>" for s in _STATUSES if counts[s])
    lines = ['<section id="records">', f"<h2>Records ({len(results)})</h2>",
             f'<p class="filters">Show: {boxes} &middot; <span class="shown">{len(results)}</span> shown; '
             "click a column heading to sort.</p>",
             "<table><thead><tr>" + "".join(f"<th>{_e(label)}</th>" for _, label in _RECORD_COLUMNS)
             + "</tr></thead><tbody>"]
    for r in results:
        message = r.message if len(r.message) <= _MESSAGE_IN_TABLE else r.message[:_MESSAGE_IN_TABLE] + "..."
        cells = [f"<td>{_e(r.case_id)}</td>", *(f"<td>{_e(getattr(r, name))}</td>" for name in
                                                 ("check", "function", "mode", "dtype", "device")),
                 f'<td class="{_e(r.status)}">{_e(r.status)}</td>',
                 f'<td class="n" data-v="{r.points}">{r.points}</td>',
                 f'<td class="n" data-v="{r.excluded}">{r.excluded}</td>',
                 _number_cell(r.max_abs_err), _number_cell(r.max_rel_err),
                 _number_cell(r.tolerance_ratio, _ratio_class(r.tolerance_ratio)),
                 _number_cell(r.rtol), _number_cell(r.atol), _number_cell(_seconds(r)),
                 f'<td class="msg">{_e(message)}</td>']
        lines.append(f'<tr data-status="{_e(r.status)}">' + "".join(cells) + "</tr>")
    return [*lines, "</tbody></table>", f"<script>{_SCRIPT}</script>", "</section>"]


def _reasons(results: Sequence[Result]) -> list[str]:
    """xfail and skip records, grouped by case and reason: why they did not count."""
    groups: dict[tuple[str, str, str], list[Result]] = {}
    for r in results:
        if r.status in ("xfail", "skip"):
            groups.setdefault((r.status, r.case_id, r.message), []).append(r)
    lines = ['<section id="reasons">', f"<h2>Expected failures and skips ({sum(map(len, groups.values()))})</h2>"]
    if not groups:
        return [*lines, "<p>None.</p>", "</section>"]
    lines.append("<table><tr><th>status</th><th>case</th><th>records</th><th>reason</th></tr>")
    for (status, case_id, message), rows in groups.items():
        which = "<br>".join(_e(_record_label(r).removeprefix(f"{case_id} ")) for r in rows[:8])
        if len(rows) > 8:
            which += f"<br>... and {len(rows) - 8} more"
        lines.append(f'<tr><td class="{_e(status)}">{_e(status)}</td><td>{_e(case_id)}</td><td>{which}</td>'
                     f"<td><pre>{_e(message)}</pre></td></tr>")
    return [*lines, "</table>", "</section>"]


def _figure(figure: Path | None) -> list[str]:
    if figure is None or not figure.is_file():
        return []
    data = base64.b64encode(figure.read_bytes()).decode("ascii")
    return ['<section id="figures">', "<h2>Forward vs reverse mode</h2>",
            f'<img alt="forward vs reverse mode timings" src="data:image/png;base64,{data}">', "</section>"]


def render_html(results: Sequence[Result], seconds: float | None = None, figure: Path | None = None,
                metadata: Mapping[str, Any] | None = None) -> str:
    """The page for `results`; `figure`, a PNG, is embedded when the file exists; `metadata` heads the page."""
    results = [capped(r) for r in results]  # descriptions and messages cut as in the other reports
    by_case: dict[str, list[Result]] = {}
    for r in results:
        by_case.setdefault(r.case_id, []).append(r)
    body = [*_run(metadata), *_summary(results, seconds), *_cases(by_case), *_failures(results),
            *_tolerance_plot(results), *_records(results), *_reasons(results), *_timing(by_case), *_figure(figure)]
    return "\n".join(['<!DOCTYPE html>', '<html lang="en">', "<head>", '<meta charset="utf-8">',
                      "<title>verify report</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
                      "<h1>verify report</h1>", *body, "</body>", "</html>"]) + "\n"


def write_html(results: Sequence[Result], path: str | Path, seconds: float | None = None,
               figure: Path | None = None, metadata: Mapping[str, Any] | None = None) -> Path:
    """Writes `render_html(...)` to `path` and returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(results, seconds, figure, metadata), encoding="utf-8")
    return target
