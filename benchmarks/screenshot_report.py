"""Opens report.html of a failing run in headless Chromium: checks its script and takes a screenshot.

    python benchmarks/screenshot_report.py [--out reports/figures/report_failing_run.png]

1. Runs a small failing corpus through the Python API (`verify.run(..., report_dir=...)`): the
   README's `broken.yaml` (a wrong `expect` and torch.where's NaN gradient), a custom op whose
   backward is wrong, an expected failure, and a device that is not there (skip records).
2. Loads the page in headless Chromium with a probe script appended to a copy of it: the probe
   unticks the `pass` filter and sorts the records by error / allowed, twice (descending), and
   the DOM Chromium then holds is read back: the visible rows must be the not-pass ones, in
   descending order of their ratio. The page itself loads nothing from elsewhere.
3. Takes a screenshot of the page as it opens (metadata, summary, failures, the tolerance plot,
   the start of the table) into --out.

Chromium runs with --no-sandbox --disable-gpu --disable-background-networking --no-first-run
--disable-component-update --disable-sync and a fresh --user-data-dir (on Debian: apt-get install
chromium). Exit status 0 when the script behaved; 1 otherwise; 2 without Chromium.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from html.parser import HTMLParser
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio")

CASES = {
    "broken.yaml": """
        name: broken
        description: the README's failing example
        variables: {x: {low: -1, high: 1}}
        functions:
          f: x**3
          g: where(x > 0, sqrt(x), 0)
        checks:
          - gradient: f
            expect: 3*x
          - gradient: g
    """,
    "custom_op.yaml": """
        name: custom-cube
        description: a custom autograd Function whose backward forgot a power
        variables: {x: {low: -2, high: 2}}
        functions:
          cube: {expr: x**3, impl: "buggy_ops:Cube.apply"}
        checks:
          - gradient: cube
        dtypes: [float64, float32]
        modes: [rev]
    """,
    "known.yaml": """
        name: known-softplus
        description: an expected failure and a device that is not there
        variables: {x: {low: 19, high: 30}}
        functions:
          s: {expr: log(1 + exp(x)), impl: "torch.nn.functional:softplus"}
        checks:
          - hessian: s
            xfail: torch's softplus returns x beyond threshold=20, so its second derivative there is 0
          - gradient: s
        devices: [cpu, cuda]
        points: {random: 16}
    """,
    "fine.yaml": """
        name: vector-chain-rule
        variables: {x: {low: -2, high: 2}, y: {low: -2, high: 2}}
        functions:
          G: {args: [x, y], expr: [x + y, x**2 - y**2]}
          F: {args: [u, v], expr: [u**2 + v, u*v]}
          H: F(G(x, y))
        checks:
          - chain_rule: H
        dtypes: [float64, float32]
    """,
}

BUGGY_OPS = '''
import torch


class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x  # wrong: 3 * x**2
'''

PROBE = """
<script>
(function () {
  var section = document.getElementById("records");
  var pass = section.querySelector('input[data-status="pass"]');
  if (pass) { pass.checked = false; pass.dispatchEvent(new Event("change")); }
  var heading = Array.prototype.find.call(section.querySelectorAll("th"),
    function (th) { return th.textContent === "err / allowed"; });
  heading.click(); heading.click();
  document.body.setAttribute("data-probe", "done");
})();
</script>
"""


def failing_run(directory: Path) -> Path:
    """Runs the failing corpus with the Python API; returns the report.html it wrote."""
    import verify

    cases = directory / "cases"
    cases.mkdir(parents=True, exist_ok=True)
    for name, text in CASES.items():
        (cases / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    (cases / "buggy_ops.py").write_text(BUGGY_OPS.lstrip(), encoding="utf-8")
    reports = directory / "reports"
    here = Path.cwd()
    os.chdir(directory)  # case ids relative to it: cases/broken.yaml::broken
    try:
        frame = verify.run("cases", report_dir="reports", cache=False)
    finally:
        os.chdir(here)
    print(f"{len(frame)} records: " + ", ".join(f"{n} {s}" for s, n in frame["status"].value_counts().items()))
    return reports / "report.html"


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium(binary: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="verify-chromium-") as profile:
        return subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                              timeout=timeout, check=False)


class _Rows(HTMLParser):
    """The records table's rows as Chromium left them: status, hidden or not, and the ratio's sort value."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, bool, str]] = []
        self.ratio_column = -1
        self.headings: list[str] = []
        self._in_records = self._in_th = False
        self._column = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section":
            self._in_records = values.get("id") == "records"
        if not self._in_records:
            return
        if tag == "th":
            self._in_th = True
            self.headings.append("")
        if tag == "tr" and "data-status" in values:
            self.rows.append((values["data-status"] or "", "hidden" in values, ""))
            self._column = 0
        if tag == "td" and self.rows:
            if self._column == self.headings.index("err / allowed"):
                status, hidden, _ = self.rows[-1]
                self.rows[-1] = (status, hidden, values.get("data-v") or "")
            self._column += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._in_th = False

    def handle_data(self, data: str) -> None:
        if self._in_th:
            self.headings[-1] += data


def probe(binary: str, page: Path) -> list[str]:
    """Runs the probe in Chromium on a copy of `page`; returns what is wrong (empty when all is well)."""
    text = page.read_text(encoding="utf-8")
    probed = page.with_name("report.probe.html")
    probed.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = chromium(binary, "--dump-dom", "--virtual-time-budget=5000", probed.as_uri())
    problems = []
    if 'data-probe="done"' not in done.stdout:
        return [f"the probe did not run: {done.stderr.strip()[-500:]}"]
    parser = _Rows()
    parser.feed(done.stdout)
    visible = [(status, ratio) for status, hidden, ratio in parser.rows if not hidden]
    if not parser.rows or any(status == "pass" for status, _ in visible):
        problems.append("unticking `pass` left pass rows visible")
    if {s for s, _ in visible} != {s for s, hidden, _ in parser.rows if s != "pass"}:
        problems.append("the filter hid rows of other statuses")
    ratios = [float(r) if r not in ("", "Infinity") else (float("inf") if r else float("nan"))
              for _, _, r in parser.rows]
    known = [r for r in ratios if r == r]
    if known != sorted(known, reverse=True) or any(r != r for r in ratios[:len(known)]):
        problems.append(f"the rows are not in descending order of err / allowed (blanks last): {ratios}")
    external = re.findall(r"<(?:script|img|link)[^>]+(?:src|href)=\"(?:https?:)?//", text)
    if external:
        problems.append(f"the page loads from elsewhere: {external}")
    probed.unlink()
    return problems


def screenshot(binary: str, page: Path, out: Path, width: int = 1400, height: int = 2200) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    done = chromium(binary, f"--window-size={width},{height}", f"--screenshot={out}", "--virtual-time-budget=5000",
                    page.as_uri())
    if not out.is_file():
        raise RuntimeError(f"chromium wrote no screenshot: {html.unescape(done.stderr.strip()[-500:])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "figures" / "report_failing_run.png")
    parser.add_argument("--work", type=Path, help="where the run and its reports go (default: a temporary folder)")
    parser.add_argument("--height", type=int, default=2600, help="screenshot height in pixels")
    args = parser.parse_args(argv)
    binary = find_chromium()
    if binary is None:
        print("no Chromium found (apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="verify-report-") as scratch:
        work = (args.work or Path(scratch)).resolve()
        page = failing_run(work)
        problems = probe(binary, page)
        for problem in problems:
            print(f"problem: {problem}", file=sys.stderr)
        screenshot(binary, page, args.out, height=args.height)
        print(f"{page}: script {'ok' if not problems else 'FAILED'}; screenshot {args.out}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
