"""Results -> report.html: one self-contained page (no external assets) for people to read.

Sections, each a `<section id=...>`: `summary` (counts per status), `cases` (one row per case),
`failures` (every fail, error and xpass with its message and worst point), `timing` (a bar per
case, its width proportional to the case's time, split into derivation, reference and
autograd), and `figures` (the forward/reverse plot, embedded as base64, when it exists).
"""

from __future__ import annotations

import base64
import html
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from verify.report import capped, summary_line

if TYPE_CHECKING:
    from verify.results import Result

__all__ = ["FIGURE", "render_html", "write_html"]

FIGURE = Path("figures") / "forward_vs_reverse.png"
_STATUSES = ("pass", "fail", "error", "skip", "xfail", "xpass")
_WORST_FIRST = ("error", "fail", "xpass", "xfail", "skip")
_PARTS = (("symbolic_s", "derivation"), ("reference_s", "reference"), ("autograd_s", "autograd"))

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 80em; }
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


def _figure(figure: Path | None) -> list[str]:
    if figure is None or not figure.is_file():
        return []
    data = base64.b64encode(figure.read_bytes()).decode("ascii")
    return ['<section id="figures">', "<h2>Forward vs reverse mode</h2>",
            f'<img alt="forward vs reverse mode timings" src="data:image/png;base64,{data}">', "</section>"]


def render_html(results: Sequence[Result], seconds: float | None = None, figure: Path | None = None) -> str:
    """The page for `results`; `figure`, a PNG, is embedded when the file exists."""
    results = [capped(r) for r in results]  # descriptions and messages cut as in the other reports
    by_case: dict[str, list[Result]] = {}
    for r in results:
        by_case.setdefault(r.case_id, []).append(r)
    body = [*_summary(results, seconds), *_cases(by_case), *_failures(results), *_timing(by_case), *_figure(figure)]
    return "\n".join(['<!DOCTYPE html>', '<html lang="en">', "<head>", '<meta charset="utf-8">',
                      "<title>verify report</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
                      "<h1>verify report</h1>", *body, "</body>", "</html>"]) + "\n"


def write_html(results: Sequence[Result], path: str | Path, seconds: float | None = None,
               figure: Path | None = None) -> Path:
    """Writes `render_html(...)` to `path` and returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(results, seconds, figure), encoding="utf-8")
    return target
