"""The atlas's outputs: reports/ACCURACY.md and one figure per function (matplotlib, imported lazily)."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from verify.accuracy.domains import AtlasFunction
from verify.accuracy.findings import Finding, describe, point_text, threshold, ulps_text
from verify.accuracy.measure import ORDERS, Series

__all__ = ["figure_name", "machine", "plot_function", "write_markdown"]

_ANCHORS = ("exp", "log", "sin")
_COLOURS = {"-": "black", "rev": "tab:blue", "fwd": "tab:orange"}
_FLOOR = 1e-3  # where an error of 0 is drawn on the log axis


def load_average() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def machine(load_at_start: str = "") -> str:
    """Platform, CPUs, load averages (at the start, when given, and now), and the versions that matter, on one line."""
    from verify.engines.certified import flint_module

    flint = flint_module()
    import sympy
    import torch

    load = (f"at start {load_at_start}, at end " if load_at_start else "") + load_average()
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return (f"{platform.platform()}, {os.cpu_count()} CPUs{gpu} (load average {load}); Python "
            f"{platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"SymPy {sympy.__version__}, python-flint {flint.__version__}")


def figure_name(function: AtlasFunction, device: str = "cpu") -> str:
    return f"{function.slug}.png" if device == "cpu" else f"{function.slug}-{device}.png"


def plot_function(function: AtlasFunction, series: Sequence[Series], path: Path) -> bool:
    """Error in ULPs over the sampled domain, one panel per order and dtype; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import ticker
    except ImportError:
        return False
    dtypes = sorted({s.dtype for s in series}, key=lambda d: d != "float64")
    fig, axes = plt.subplots(3, len(dtypes), figsize=(5.2 * len(dtypes), 7.2), squeeze=False, sharex="col")
    for column, dtype in enumerate(dtypes):
        mine = [s for s in series if s.dtype == dtype]
        if not mine:
            continue
        sampled = mine[0].sampled
        vary = np.array([_varying(function, sampled.slice_of[r]) for r in sampled.region])
        coordinate = sampled.points[np.arange(len(vary)), vary]
        slices = np.array([sampled.slice_of[r] for r in sampled.region])
        order = np.lexsort((coordinate, slices))
        rank = np.empty(len(order), dtype=int)
        rank[order] = np.arange(len(order))
        for row in range(3):
            ax = axes[row][column]
            for s in (s for s in mine if s.order == row):
                errors = s.errors
                shown = np.isfinite(errors)
                y = np.clip(np.where(errors[shown] > 0, errors[shown], _FLOOR), _FLOOR, 1e300)
                ax.plot(rank[shown], y, linestyle="none", markersize=2 if s.mode != "fwd" else 2.5,
                        color=_COLOURS[s.mode], marker="o" if s.mode != "fwd" else "x", markeredgewidth=0.6,
                        label=("value" if s.mode == "-" else s.mode) + f" (max {ulps_text(s.max)})")
                infinite = np.isinf(errors)
                if infinite.any():
                    finite_max = float(np.max(errors[shown], initial=1.0))
                    top = min(1e300, max(1e3, finite_max * 10))
                    ax.plot(rank[infinite], np.full(int(infinite.sum()), top), linestyle="none", markersize=4,
                            color="red", marker="^",
                            label=f"{s.mode}: non-finite or inf ULPs ({int(infinite.sum())})")
            ax.axhline(threshold(dtype, row), color="grey", linestyle="--", linewidth=0.8)
            ax.set_yscale("log")
            ax.set_ylim(bottom=_FLOOR / 2)
            ax.yaxis.set_major_locator(ticker.LogLocator(numticks=6))
            ax.yaxis.set_minor_locator(ticker.NullLocator())
            ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.0e}"))  # no mathtext: fast
            ax.grid(True, which="major", alpha=0.3)
            ax.set_title(f"{dtype}, {ORDERS[row]}{' derivative' if row else ''}", fontsize=9)
            if column == 0:
                ax.set_ylabel("error (ULPs)", fontsize=8)
            ax.legend(fontsize=6, loc="upper left", markerscale=2)
            ax.tick_params(labelsize=7)
            for boundary in np.flatnonzero(np.diff(slices[order]) != 0):
                ax.axvline(boundary + 0.5, color="black", linewidth=0.6)
        ticks = np.linspace(0, len(order) - 1, 7).astype(int) if len(order) else np.array([], dtype=int)
        axes[2][column].set_xticks(ticks)
        axes[2][column].set_xticklabels([f"{coordinate[order[t]]:.3g}" for t in ticks], rotation=30, fontsize=6)
        xlabel = ("sampled " + " / ".join(sorted({function.args[_varying(function, i)] for i in set(slices.tolist())}))
                  + " in increasing order (ticks: values)")
        if len(function.slices) > 1:
            xlabel += "; slices " + " | ".join(f"({sl.label})" for sl in function.slices)
        axes[2][column].set_xlabel(xlabel, fontsize=7)
    device = series[0].device if series else "cpu"
    fig.suptitle(f"{function.label}: torch's error in ULPs against the certified exact value ({device})", fontsize=10)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.1, top=0.92, hspace=0.3, wspace=0.15)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return True


def _varying(function: AtlasFunction, slice_index: int) -> int:
    return function.slices[slice_index].vary


def _row(s: Series, function: AtlasFunction) -> str:
    if s.failure:
        return f"| {s.label} | {ORDERS[s.order]} | {s.mode} | - | - | - | - | - | torch failed: {s.failure} | | | |"
    if not s.compared:
        return f"| {s.label} | {ORDERS[s.order]} | {s.mode} | 0 | {s.excluded} | | | | no point compared | | | |"
    mark = " **!**" if s.max > threshold(s.dtype, s.order) else ""
    return (f"| {s.label} | {ORDERS[s.order]} | {s.mode} | {s.compared} | {s.excluded} | {ulps_text(s.max)}{mark} | "
            f"{ulps_text(s.p99)} | {ulps_text(s.median)} | {point_text(function, s.worst_point)} | "
            f"{s.worst_region} | {s.worst_exact!r} | {s.worst_torch!r} |")


def write_markdown(path: Path, series: Sequence[Series], functions: Sequence[AtlasFunction],
                   findings: Sequence[Finding], command: str, machine_line: str, seconds: float, points: int,
                   figures: dict[tuple[str, str], str], finding_files: dict[str, str]) -> None:
    """reports/ACCURACY.md: how it was made, the tables per dtype and device, the worst regions, the findings."""
    by_label = {f.label: f for f in functions}
    dtypes = sorted({s.dtype for s in series}, key=lambda d: d != "float64")
    devices = sorted({s.device for s in series})
    lines = [
        "# The accuracy of torch's functions and their derivatives, in ULPs",
        "",
        "Generated by `python -m verify accuracy` (verify/accuracy/); regenerate it rather than edit it.",
        "",
        f"- command: `{command}`",
        f"- machine: {machine_line}",
        f"- runtime: {seconds:.0f} s (measuring, figures and findings) for {len(functions)} functions, about {points} "
        "points per function and dtype",
        "",
        "## What is measured",
        "",
        "For every function of verify's language (the registry, verify/functions.py), in "
        + ", ".join(dtypes) + " on " + ", ".join(devices) + ", torch's value, first derivative and second derivative "
        "are compared with the exact value at each sampled point. The exact value is verify's certified reference "
        "(ball arithmetic, FLINT/Arb) of SymPy's derivative of the function's definition, raised to 128, 512 and "
        "4096 bits until its ball is narrow to 12 bits beyond the dtype, kept as a float64 pair hi + lo so that "
        "errors are resolved to a fraction of an ULP. Derivatives as verify computes them: `jacrev` (rev) and "
        "`jacfwd` (fwd) for the first, `jacrev(jacrev)` (rev) and `jacfwd(jacrev)` (fwd) for the second, under "
        "`vmap`. Points are excluded where the exact value is undefined (outside the domain, poles), on a kink or "
        "jump whose sides differ, or where the function itself is undefined (for its derivatives).",
        "",
        "**The error** of a computed t against the exact x is |t - x| / ulp(x), with "
        "ulp(x) = 2^(max(e, emin) - p + 1) for 2^e <= |x| < 2^(e+1) (p = 53, emin = -1022 for float64; "
        "p = 24, emin = -126 for float32): x's own binade decides, ulp(0) and the ulp of a subnormal are the "
        "smallest subnormal, adjacent floats are 1 ULP apart and a correctly rounded result is within 0.5. A "
        "t of +-inf counts 0 where x rounds to that infinity (beyond the dtype's range), and like nan counts inf "
        "otherwise. So an error against an exact zero or a tiny exact value (a function near its "
        "zero, an underflowing derivative) is measured in subnormals: absolute accuracy there is not enough. For "
        "a two-argument function, a point's error is the largest over the gradient's or Hessian's entries.",
        "",
        "**Columns**: points compared, points excluded, the largest error, the 99th percentile and the median "
        "(of the compared points), where the largest occurs, the sampling region there, and the exact value "
        "(rounded to the dtype) and torch's value at it. **!** marks a finding: above "
        + ", ".join(f"{ulps_text(threshold(d, 0))} ULPs for {d} values, {ulps_text(threshold(d, 1))} for its "
                    f"derivatives" for d in dtypes) + " (verify.accuracy.findings.THRESHOLDS).",
        "",
    ]
    lines += _anchor(series)
    for device in devices:
        for dtype in dtypes:
            lines += [f"## {dtype}, {device}", "",
                      "| function | order | mode | points | excluded | max ULPs | p99 | median | worst at | region | "
                      "exact | torch |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
            for s in series:
                if s.dtype == dtype and s.device == device:
                    lines.append(_row(s, by_label[s.label]))
            lines.append("")
    lines += ["## Worst regions", "",
              "The 30 largest errors (one line per function, dtype, device and order; its worst mode), with the "
              "largest error in each of the other regions sampled there.", "",
              "| function | dtype | device | order | mode | max ULPs | region | other regions (max ULPs) | figure |",
              "|---|---|---|---|---|---|---|---|---|"]
    worst: dict[tuple[str, str, str, int], Series] = {}
    for s in series:
        key = (s.label, s.dtype, s.device, s.order)
        if s.compared and not s.failure and (key not in worst or s.max > worst[key].max):
            worst[key] = s
    ranked = sorted(worst.values(), key=lambda s: (-s.max, s.label))[:30]
    for s in ranked:
        function = by_label[s.label]
        others = _region_maxima(s)
        figure = figures.get((s.label, s.device), "")
        lines.append(f"| {s.label} | {s.dtype} | {s.device} | {ORDERS[s.order]} | {s.mode} | {ulps_text(s.max)} | "
                     f"{s.worst_region} at {point_text(function, s.worst_point)} | {others} | "
                     + (f"[{Path(figure).name}]({figure})" if figure else "") + " |")
    lines += ["", "## Findings", "",
              f"{len(findings)} measurements above their threshold. New ones are cases in cases/findings/ marked "
              "xfail (run them with `python -m verify cases/findings`); known ones are kept in "
              "cases/torch_functions/findings.yaml and referenced here.", ""]
    for finding in findings:
        figure = figures.get((finding.function.label, finding.device), "")
        if finding.known:
            where = f"known: {finding.known}"
        elif finding.unconfirmed:
            where = f"no case kept: verify's own run of it did not xfail ({finding.unconfirmed})"
        else:
            where = f"case {finding_files.get(finding.function.label, 'cases/findings/')}::{finding.name}"
        lines.append(f"- {describe(finding, figure)} ({where})")
    failures = [s for s in series if s.failure]
    if failures:
        lines += ["", "## torch failures", ""]
        lines += [f"- {s.label} {s.dtype} {s.device} {ORDERS[s.order]} {s.mode}: {s.failure}" for s in failures]
    lines += ["", "## Where each function is sampled", "",
              "Segments (verify/accuracy/domains.py): uniform intervals, log-uniform magnitudes (tails and tiny "
              "arguments), points near zeros, poles and branch points (offsets 1e-16 to 0.1 and the first four "
              "floats beside the point), subnormals, listed points; clipped to the dtype's range. Two-argument "
              "functions are sampled on slices (one argument fixed); their gradient and Hessian are measured with "
              "respect to both arguments.", "",
              "| function | torch | sampled | note |", "|---|---|---|---|"]
    for function in functions:
        sampled = "; ".join((f"({sl.label}) " if sl.label else "") + ", ".join(seg.label for seg in sl.segments)
                            for sl in function.slices)
        torch_text = function.lowering or f"`{function.torch_code}`"
        lines.append(f"| {function.label} | {torch_text} | {sampled} | {function.note} |")
    lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def _anchor(series: Sequence[Series]) -> list[str]:
    rows = [s for s in series if s.label in _ANCHORS and s.order == 0 and s.dtype == "float64" and s.compared]
    if not rows:
        return []
    lines = ["## Sanity anchor: float64 values of exp, log, sin", "",
             "Common libms are within about 1 ULP for these (Gladman, Innocente, Mather, Zimmermann, \"Accuracy of "
             "Mathematical Functions in Single, Double, Double Extended, and Quadruple Precision\").", ""]
    for s in rows:
        verdict = ("within 1 ULP" if s.max <= 1 else
                   f"**not** within 1 ULP: worst in {s.worst_region} at x = {s.worst_point[0]!r}")
        lines.append(f"- {s.label} ({s.device}): max {ulps_text(s.max)} ULPs, median {ulps_text(s.median)}: {verdict}")
    lines.append("")
    return lines


def _region_maxima(s: Series) -> str:
    regions = s.sampled.region
    parts = []
    for index, label in enumerate(s.sampled.labels):
        if label == s.worst_region:
            continue
        errors = s.errors[(regions == index) & ~np.isnan(s.errors)]
        if errors.size:
            parts.append(f"{label}: {ulps_text(float(errors.max()))}")
    return "; ".join(parts)
