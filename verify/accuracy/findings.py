"""Findings: every measurement above its threshold becomes an xfail case in cases/findings/.

A finding is one function, dtype, device and order whose largest error exceeds the threshold
(THRESHOLDS) in at least one mode. Its case checks only that dtype, device and those modes,
at the worst points the atlas found, with a tolerance that torch's result there fails
(rtol = min(threshold, max/2) * 2^-p, atol = 0; an error of E ULPs is a relative error above
E * 2^-p), and calls torch through an impl wrapper in `accuracy_ops.py` beside it, made from
the same torch code the atlas measured. Findings already kept elsewhere (KNOWN) are referenced,
not duplicated.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from verify.accuracy.domains import ATLAS, AtlasFunction
from verify.accuracy.measure import ORDERS, Series, fill_summary

__all__ = ["KNOWN", "THRESHOLDS", "Finding", "collect", "threshold", "write_findings"]

THRESHOLDS = {("float64", 0): 4.0, ("float64", 1): 16.0, ("float64", 2): 16.0,
              ("float32", 0): 4.0, ("float32", 1): 16.0, ("float32", 2): 16.0}
"""(dtype, order) -> the largest error in ULPs that is not a finding.

float32 has the same thresholds as float64: ULPs are already relative to the dtype, and torch's
float32 kernels and derivative formulas are the same code run in float32, with the same few
roundings to spend.
"""

_CHECK = {0: "value", 1: "gradient", 2: "hessian"}
_ORDER_TEXT = {0: "value", 1: "first derivative", 2: "second derivative"}
_MANTISSA = {"float64": 53, "float32": 24}


@dataclass(frozen=True)
class _Known:
    label: str
    dtype: str
    order: int
    where: Callable[[tuple[float, ...]], bool]
    case: str


KNOWN: tuple[_Known, ...] = (
    _Known("sinc", "float64", 2, lambda p: p[0] == 0, "cases/torch_functions/findings.yaml::sinc-hessian-at-zero"),
    _Known("sinc", "float32", 2, lambda p: p[0] == 0, "cases/torch_functions/findings.yaml::sinc-hessian-at-zero"),
    _Known("sinc", "float32", 1, lambda p: abs(p[0]) <= 1e-3,
           "cases/torch_functions/findings.yaml::sinc-float32-derivative-near-zero"),
    _Known("log_ndtr", "float32", 2, lambda p: p[0] < -5, "cases/torch_functions/findings.yaml::log-ndtr-float32-hessian"),
    *(_Known(label, "float64", order, lambda p: 0.5 <= p[0] <= 4, "cases/torch_functions/findings.yaml::trigamma-float64")
      for label, order in (("polygamma(1, x)", 0), ("digamma", 1), ("lgamma", 2))),
)
"""Findings kept in cases/torch_functions/findings.yaml: (function, dtype, order, where the worst point lies)."""


def threshold(dtype: str, order: int) -> float:
    return THRESHOLDS[(dtype, order)]


@dataclass(frozen=True)
class Finding:
    """A function, dtype, device and order above its threshold, in `modes`; `known` names a case kept elsewhere."""

    function: AtlasFunction
    dtype: str
    device: str
    order: int
    series: tuple[Series, ...]  # the failing modes, worst first
    known: str = ""
    unconfirmed: str = ""  # why verify's own run of the case did not xfail it (the case is then not kept)

    @property
    def max(self) -> float:
        return self.series[0].max

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(s.mode for s in self.series)

    @property
    def name(self) -> str:
        return f"accuracy-{self.function.slug}-{self.dtype}-{ORDERS[self.order]}".replace("_", "-")


def collect(series: Sequence[Series], functions: Sequence[AtlasFunction],
            thresholds: dict[tuple[str, int], float] | None = None) -> list[Finding]:
    """The findings among `series`, worst first."""
    limits = thresholds or THRESHOLDS
    by_label = {f.label: f for f in functions}
    groups: dict[tuple[str, str, str, int], list[Series]] = {}
    for s in series:
        if s.compared and not s.failure and s.max > limits[(s.dtype, s.order)]:
            groups.setdefault((s.label, s.dtype, s.device, s.order), []).append(s)
    out = []
    for (label, dtype, device, order), members in groups.items():
        members.sort(key=lambda s: -s.max)
        limit = limits[(dtype, order)]
        known = next((k for k in KNOWN if (k.label, k.dtype, k.order) == (label, dtype, order)
                      and k.where(members[0].worst_point)), None)
        if known is None:
            out.append(Finding(by_label[label], dtype, device, order, tuple(members)))
            continue
        out.append(Finding(by_label[label], dtype, device, order, tuple(members), known.case))
        # the same measurement away from the known region can be a new finding
        elsewhere = []
        for s in members:
            outside = np.array([not known.where(tuple(p)) for p in s.sampled.points])
            rest = fill_summary(dataclasses.replace(s), outside)
            if rest.compared and rest.max > limit:
                elsewhere.append(rest)
        if elsewhere:
            elsewhere.sort(key=lambda s: -s.max)
            out.append(Finding(by_label[label], dtype, device, order, tuple(elsewhere)))
    out.sort(key=lambda f: (-f.max, f.function.label, f.dtype, f.order))
    return out


def ulps_text(value: float) -> str:
    if math.isinf(value):
        return "inf"
    return f"{value:.3g}" if value < 1e4 else f"{value:.2e}"


def point_text(function: AtlasFunction, point: Sequence[float]) -> str:
    return ", ".join(f"{name} = {value!r}" for name, value in zip(function.args, point))


def describe(finding: Finding, figure: str) -> str:
    """One sentence for the xfail reason and the report."""
    worst = finding.series[0]
    modes = ", ".join(f"{s.mode} {ulps_text(s.max)}" for s in finding.series) if finding.order else "value"
    entry = ""
    if finding.order and len(finding.function.args) > 1:
        n = len(finding.function.args)
        index = (worst.worst_entry,) if finding.order == 1 else divmod(worst.worst_entry, n)
        entry = " entry d/d" + " d/d".join(finding.function.args[i] for i in index) + ","
    return (f"torch {finding.dtype} {ORDERS[finding.order]} {'derivative ' if finding.order else ''}of "
            f"{finding.function.label} on {finding.device}: up to {ulps_text(worst.max)} ULPs ({modes}; threshold "
            f"{ulps_text(threshold(finding.dtype, finding.order))}) in region {worst.worst_region}:{entry} at "
            f"{point_text(finding.function, worst.worst_point)} exact {worst.worst_exact!r}, torch "
            f"{worst.worst_torch!r}; figure {figure}")


def _yaml_number(value: float) -> str:
    text = repr(float(value))
    return text if ("e" in text or "." in text or "inf" in text or "nan" in text) else text + ".0"


def _document(finding: Finding, figure: str, thresholds: dict[tuple[str, int], float]) -> str:
    function = finding.function
    limit = thresholds[(finding.dtype, finding.order)]
    points: list[tuple[float, ...]] = []
    for s in finding.series:
        for point, error in s.worst_points:
            if error > limit and point not in points and len(points) < 4:
                points.append(point)
    smallest = min(error for s in finding.series for point, error in s.worst_points if point in points)
    rtol = min(limit, smallest / 2) * 2.0 ** -_MANTISSA[finding.dtype]
    variables = []
    for j, name in enumerate(function.args):
        values = [p[j] for p in points]
        low, high = min(values), max(values)
        if not low < high:
            low, high = (low - 1, high + 1) if math.isfinite(low) and abs(low) < 1e300 else (-1.0, 1.0)
        variables.append(f"{name}: {{low: {_yaml_number(low)}, high: {_yaml_number(high)}}}")
    at = ", ".join("{" + ", ".join(f"{n}: {_yaml_number(v)}" for n, v in zip(function.args, p)) + "}" for p in points)
    reason = json.dumps(describe(finding, figure))  # a JSON string is a YAML double-quoted scalar
    lines = [
        f"name: {finding.name}",
        "description: " + json.dumps(f"torch's {finding.dtype} {_ORDER_TEXT[finding.order]} of {function.label} beyond "
                                     f"{ulps_text(limit)} ULPs (found by python -m verify accuracy); figure {figure}"),
        "tags: [accuracy, finding]",
        f"variables: {{{', '.join(variables)}}}",
        "functions:",
        f"  f: {{args: [{', '.join(function.args)}], expr: {json.dumps(function.expr)}, "
        f"impl: \"accuracy_ops:torch_{function.slug}\"}}",
        "checks:",
        f"  - {_CHECK[finding.order]}: f",
        f"    xfail: {reason}",
        f"points: {{random: 0, at: [{at}]}}",
        f"dtypes: [{finding.dtype}]",
        f"devices: [{finding.device}]",
    ]
    if finding.order:
        lines.append(f"modes: [{', '.join(finding.modes)}]")
    lines.append(f"tolerance: {{rtol: {rtol:.6g}, atol: 0}}")
    return "\n".join(lines) + "\n"


def confirm(folder: Path, paths: Sequence[Path]) -> dict[str, str]:
    """Runs verify on the findings' case files; case name -> "" when it xfails, else what verify said.

    A case xfails when at least one of its records is `xfail` and none is `xpass`, `fail` or
    `error` (for example, where verify's reference cannot evaluate a point the atlas could).
    """
    import io
    import tempfile
    import warnings

    from verify.cli import main

    if not paths:
        return {}
    with tempfile.TemporaryDirectory() as reports, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # verify.points casts huge float64 points to float32 to show them
        main([*map(str, paths), "--report-dir", reports, "--no-cache", "-q"], io.StringIO())
        data = json.loads((Path(reports) / "report.json").read_text())
    records = data["results"] if isinstance(data, dict) else data
    verdicts: dict[str, str] = {}
    for record in records:
        name, status = record["case"], record["status"]
        verdicts.setdefault(name, "no xfail record")
        if status in ("xpass", "fail", "error"):
            verdicts[name] = f"{status}: {str(record.get('message') or '')[:300]}"
        elif status == "xfail" and verdicts[name] == "no xfail record":
            verdicts[name] = ""
    return verdicts


def impl_module() -> str:
    """The text of accuracy_ops.py: one wrapper per atlas function, from the torch code the atlas measures."""
    parts = ['"""torch functions as the accuracy atlas measures them (python -m verify accuracy), as impls.',
             "",
             "Generated from verify/accuracy/domains.py; each takes one tensor per argument of its case function.",
             '"""', "", "import math  # noqa: F401 - some wrappers use it", "", "import torch", ""]
    for function in ATLAS:
        parts += ["", f"def torch_{function.slug}({', '.join(function.args)}):",
                  f"    return {function.torch_code}", ""]
    return "\n".join(parts).rstrip() + "\n"


def write_findings(findings: Sequence[Finding], measured: Sequence[AtlasFunction], folder: Path,
                   figure_of: Callable[[AtlasFunction], str],
                   thresholds: dict[tuple[str, int], float] | None = None) -> list[Path]:
    """One YAML file per measured function with findings (others' files removed), and the impl module."""
    limits = thresholds or THRESHOLDS
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "accuracy_ops.py").write_text(impl_module())
    written = []
    for function in measured:
        path = folder / f"{function.slug}.yaml"
        mine = [f for f in findings if f.function.label == function.label and not f.known]
        if not mine:
            path.unlink(missing_ok=True)
            continue
        mine.sort(key=lambda f: (f.dtype != "float64", f.order, f.device))
        header = (f"# {function.label}: torch's accuracy findings from python -m verify accuracy (generated; "
                  f"regenerate, do not edit).\n# Each case checks only the dtype, device and modes that fail, "
                  f"at the worst points found, and is expected to fail.\n")
        path.write_text(header + "---\n".join(_document(f, figure_of(function), limits) for f in mine))
        written.append(path)
    return written
