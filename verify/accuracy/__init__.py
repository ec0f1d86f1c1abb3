"""`python -m verify accuracy`: an atlas of torch's accuracy, values and derivatives, in ULPs.

For every function of the language, every dtype (float64, float32), device (cpu, and cuda when
torch sees one), AD mode (rev, fwd) and order (value, first and second derivative), the atlas
samples the function's domain (verify.accuracy.domains), measures torch's error in ULPs of the
dtype against the certified exact value (verify.accuracy.measure, verify.accuracy.ulp), and
writes reports/ACCURACY.md, one figure per function under reports/figures/accuracy/ and an
xfail case in cases/findings/ for every measurement above its threshold
(verify.accuracy.findings).
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from verify.accuracy.domains import ATLAS, AtlasFunction, sample
from verify.accuracy.findings import THRESHOLDS, Finding, collect, confirm, write_findings
from verify.accuracy.measure import Series, derivatives, exact_values, summarize, torch_values
from verify.accuracy.ulp import ulp, ulp_error

__all__ = ["ATLAS", "THRESHOLDS", "Atlas", "main", "run_atlas", "select", "ulp", "ulp_error"]

DTYPES = ("float64", "float32")
MODES = ("rev", "fwd")


@dataclass
class Atlas:
    """The measurements of one run, with the functions measured and how long it took."""

    functions: list[AtlasFunction]
    series: list[Series] = field(default_factory=list)
    seconds: float = 0.0
    points: int = 0

    def findings(self, thresholds: dict[tuple[str, int], float] | None = None) -> list[Finding]:
        return collect(self.series, self.functions, thresholds)


def select(names: Sequence[str] | None) -> list[AtlasFunction]:
    """The atlas functions named (a registry name such as `polygamma` selects all its rows), all by default."""
    if not names:
        return list(ATLAS)
    wanted = {n.strip() for name in names for n in name.split(",") if n.strip()}
    chosen = [f for f in ATLAS if f.name in wanted or f.label in wanted]
    unknown = sorted(wanted - {f.name for f in chosen} - {f.label for f in chosen})
    if unknown:
        known = ", ".join(sorted({f.name for f in ATLAS}))
        raise ValueError(f"unknown function(s) {', '.join(unknown)}; the atlas has: {known}")
    return chosen


def run_atlas(functions: Sequence[AtlasFunction], dtypes: Sequence[str] = DTYPES, devices: Sequence[str] = ("cpu",),
              points: int = 3000, seed: int = 0, progress: TextIO | None = None) -> Atlas:
    """Measures every function in `functions` (see the module docstring); prints a line per function to `progress`."""
    start = time.perf_counter()
    atlas = Atlas(list(functions), points=points)
    for function in functions:
        began = time.perf_counter()
        symbols, entries = derivatives(function)
        worst = 0.0
        for dtype in dtypes:
            sampled = sample(function, points, dtype, seed)
            for order in range(3):
                exact = exact_values(function, order, sampled.points, dtype, entries, symbols)
                for device in devices:
                    for mode in (("-",) if order == 0 else MODES):
                        series = Series(function.label, dtype, device, mode, order, sampled,
                                        errors=exact.hi[:, 0] * float("nan"))
                        tick = time.perf_counter()
                        try:
                            computed = torch_values(function, order, mode, sampled.points, dtype, device)
                        except Exception as exc:  # noqa: BLE001 - a torch failure is a result of the atlas
                            series.failure = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
                        else:
                            summarize(series, computed, exact)
                            worst = max(worst, series.max) if series.compared else worst
                        series.seconds = time.perf_counter() - tick + (exact.seconds if mode in ("-", "rev") else 0)
                        atlas.series.append(series)
        if progress is not None:
            progress.write(f"{function.label:18s} max {worst:.3g} ULPs  ({time.perf_counter() - began:.1f}s)\n")
            progress.flush()
    atlas.seconds = time.perf_counter() - start
    return atlas


def write_outputs(atlas: Atlas, report_dir: Path, findings_dir: Path | None, plots: bool, command: str,
                  out: TextIO, thresholds: dict[tuple[str, int], float] | None = None,
                  load_at_start: str = "") -> list[Finding]:
    """ACCURACY.md, the figures and the findings' cases; returns the findings."""
    from verify.accuracy import report

    started = time.perf_counter() - atlas.seconds  # the report's runtime includes figures and findings
    figures_dir = report_dir / "figures" / "accuracy"
    figures: dict[tuple[str, str], str] = {}
    plotted = False
    for function in atlas.functions:
        for device in sorted({s.device for s in atlas.series}):
            mine = [s for s in atlas.series if s.label == function.label and s.device == device]
            path = figures_dir / report.figure_name(function, device)
            with np.errstate(over="ignore"):  # log axes up to 1e300: matplotlib's transforms overflow harmlessly
                drawn = plots and bool(mine) and report.plot_function(function, mine, path)
            if drawn:
                plotted = True
                figures[(function.label, device)] = path.relative_to(report_dir).as_posix()
    if plots and not plotted:
        out.write("figures skipped: matplotlib is not installed (pip install 'verify[dev]')\n")
    findings = atlas.findings(thresholds)
    files: dict[str, str] = {}
    if findings_dir is not None:
        def figure_of(function: AtlasFunction) -> str:
            figure = figures.get((function.label, "cpu"), "")
            return (report_dir / figure).as_posix() if figure else "(no figure)"

        written = write_findings(findings, atlas.functions, findings_dir, figure_of, thresholds)
        verdicts = confirm(findings_dir, written)
        if any(verdicts.values()):  # keep only the cases verify's own run xfails
            findings = [dataclasses.replace(f, unconfirmed=verdicts.get(f.name, "")) if not f.known else f
                        for f in findings]
            kept = [f for f in findings if not f.unconfirmed]
            written = write_findings(kept, atlas.functions, findings_dir, figure_of, thresholds)
        for path in written:
            files[path.stem] = path.as_posix()
        files = {f.label: files[f.slug] for f in atlas.functions if f.slug in files}
    report.write_markdown(report_dir / "ACCURACY.md", atlas.series, atlas.functions, findings, command,
                          report.machine(load_at_start), time.perf_counter() - started, atlas.points, figures,
                          files)
    return findings


def _parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="python -m verify accuracy",
        description="An atlas of torch's accuracy in ULPs: values, first and second derivatives (rev and fwd) of "
                    "every function of the language, against the certified exact value. Writes "
                    "REPORT_DIR/ACCURACY.md, figures under REPORT_DIR/figures/accuracy/ (needs matplotlib, from the "
                    "dev extra; imported only when plotting) and an xfail case per finding in FINDINGS_DIR.",
        epilog="The ULP definition, thresholds and sampled domains are written into ACCURACY.md.")


def main(argv: Sequence[str], out: TextIO = sys.stdout) -> int:
    """Runs the atlas; 0 when it ran (findings are results, not failures), 2 on bad usage."""
    parser = _parser()
    parser.add_argument("--functions", action="append", metavar="NAMES",
                        help="comma-separated language functions (default: all), e.g. --functions exp,log,asin")
    parser.add_argument("--dtype", action="append", choices=DTYPES, help="float64 and/or float32 (default: both)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="auto: cpu, and cuda too when torch sees a GPU (default)")
    parser.add_argument("--points", type=int, default=3000, metavar="N",
                        help="points per function and dtype (default 3000; the full atlas takes about 5 minutes "
                             "on 2 cores)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampling (default 0)")
    parser.add_argument("--report-dir", default="reports", metavar="DIR",
                        help="where ACCURACY.md and figures/accuracy/ go (default: reports)")
    parser.add_argument("--findings-dir", default="cases/findings", metavar="DIR",
                        help="where the findings' xfail cases go (default: cases/findings)")
    parser.add_argument("--no-findings", action="store_true", help="write no cases")
    parser.add_argument("--no-plots", action="store_true", help="draw no figures")
    args = parser.parse_args(list(argv))
    try:
        functions = select(args.functions)
    except ValueError as exc:
        parser.error(str(exc))
    if args.points < 1:
        parser.error("--points must be at least 1")
    import torch

    cuda = torch.cuda.is_available()
    if args.device == "cuda" and not cuda:
        out.write("cuda is not available here\n")
        return 2
    devices = {"auto": ["cpu", "cuda"] if cuda else ["cpu"], "cpu": ["cpu"], "cuda": ["cuda"]}[args.device]
    dtypes = [d for d in DTYPES if d in (args.dtype or DTYPES)]
    command = "python -m verify accuracy" + "".join(f" {shlex.quote(a)}" for a in argv)
    out.write(f"accuracy atlas: {len(functions)} functions, {', '.join(dtypes)}, {', '.join(devices)}, "
              f"{args.points} points each\n")
    from verify.accuracy.report import load_average

    load = load_average()
    atlas = run_atlas(functions, dtypes, devices, args.points, args.seed, out)
    findings = write_outputs(atlas, Path(args.report_dir), None if args.no_findings else Path(args.findings_dir),
                             not args.no_plots, command, out, load_at_start=load)
    new = [f for f in findings if not f.known]
    out.write(f"{len(findings)} finding(s) above threshold ({len(new)} new"
              + (f", cases in {args.findings_dir}" if not args.no_findings and new else "") + f"); "
              f"report: {Path(args.report_dir) / 'ACCURACY.md'}; measured in {atlas.seconds:.0f}s\n")
    return 0
