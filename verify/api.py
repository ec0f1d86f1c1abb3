"""The Python API: `check`, `assert_ok` and `run`, for tests and notebooks.

`check(case, **options)` runs one case given as a path, a YAML string or a dict with the keys of
a case file (where `impl` may be a Python callable) and returns the records as a pandas
DataFrame with the report's columns; `frame.attrs` holds the run metadata. `assert_ok` raises
an AssertionError with the terminal's failure text when a record is fail, error or xpass.
`run(paths, **options)` runs a corpus. Options mirror the command line; see `Options`.
"""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Union

from verify.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd
    from typing_extensions import Unpack

    from verify.case import Case, LoadFailure
    from verify.options import RunOptions
    from verify.results import Result

__all__ = ["CaseInput", "Options", "assert_ok", "check", "run"]

CaseInput = Union[str, "os.PathLike[str]", Mapping[str, Any]]
"""A case: a path to a case file, the YAML text of one, or a dict with a case file's keys."""


class Options(TypedDict, total=False):
    """The keyword options of `check`, `assert_ok` and `run`; each mirrors a command-line option.

    dtypes, devices, modes: names (a string, comma-separated allowed, or a list), overriding the
        cases' own (--dtype, --device, --mode; modes may be "cheaper").
    points: an int, the number of random points (the cases' `at` points are kept), or a dict
        `{random: N, at: [...]}` replacing the cases' `points`.
    tolerance: `{"rtol": ..., "atol": ...}` or per dtype `{"float32": {"rtol": ...}}`, replacing the
        cases' top-level `tolerance` (a check's own tolerance still applies to that check).
    timeout: seconds per case (--timeout; default 300, 0 for none).
    proof_budget: seconds per symbolic proof (--proof-budget; default 10).
    cache: True (the default cache folder), False (--no-cache) or a folder (--cache-dir).
    no_impl: run no impl (--no-impl): checks of functions with an impl are skipped.
    keyword: select cases as `-k` does (`run` and files of several cases).
    report_dir: also write report.csv, .json, .meta.json, .md and .html into this folder.
    """

    dtypes: str | Sequence[str] | None
    devices: str | Sequence[str] | None
    modes: str | Sequence[str] | None
    points: int | Mapping[str, Any] | None
    tolerance: Mapping[str, Any] | None
    timeout: float | None
    proof_budget: float | None
    cache: bool | str | os.PathLike[str]
    no_impl: bool
    keyword: str | None
    report_dir: str | os.PathLike[str] | None


_OPTIONS = frozenset(Options.__annotations__)
_NOT_OK = ("fail", "error", "xpass")


def check(case: CaseInput, **options: Unpack[Options]) -> pd.DataFrame:
    """Runs one case and returns its records, one row per (check, function, dtype, device, mode).

    `case` is a path to a case file, the YAML text of a case, or a dict with the keys of a case
    file; in a dict, a function's `impl` may be a Python callable (a `torch.autograd.Function`'s
    `apply`, say) instead of a `module:callable` string. The frame's columns are the report
    fields (docs/case-format.md, section 13); `frame.attrs` holds the run metadata. A case that
    does not load gives an `error` record, as on the command line; a bad option raises UsageError.
    """
    return _check(case, options)[0]


def _check(case: CaseInput, options: Mapping[str, Any]) -> tuple[pd.DataFrame, list[Result]]:
    cases, callables = _cases_of(case, options)
    return _execute(cases, callables, options, "verify.check", [_describe(case)])


def assert_ok(case: CaseInput, **options: Unpack[Options]) -> pd.DataFrame:
    """Runs one case as `check` does; raises AssertionError when any record is fail, error or xpass.

    The error's text is what the command line prints for the failing cases (what, where, the
    worst point, expected vs got) and the summary line; the records are on its `frame`
    attribute. Returns the frame when every record is pass, skip or xfail.
    """
    frame, results = _check(case, options)
    if any(r.status in _NOT_OK for r in results):
        error = AssertionError(failure_text(results, frame.attrs.get("seconds")))
        error.frame = frame  # type: ignore[attr-defined]
        raise error
    return frame


def run(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], **options: Unpack[Options]) -> pd.DataFrame:
    """Runs every case under `paths` (files or folders, as on the command line) and returns the records.

    A path that does not exist raises FileNotFoundError; no case found raises UsageError.
    """
    from verify.run import collect

    given = [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else [os.fspath(p) for p in paths]
    _check_names(options)
    keyword = options.get("keyword")
    if keyword is not None:
        from verify.keyword import validate

        validate(keyword)
    collected = collect(given, keyword, _run_options(options).timeout_s)
    if collected.missing:
        raise FileNotFoundError(f"no such file or directory: {', '.join(collected.missing)}")
    if not collected.cases:
        selection = f" matching keyword {keyword!r}" if keyword else ""
        raise UsageError(f"no case found in {', '.join(given)}{selection} "
                         "(case files end in .yaml or .yml and have top-level variables and functions)")
    return _execute(_overridden(collected.cases, options), {}, options, "verify.run", given)[0]


# -- cases from paths, YAML text and dicts ------------------------------------------------------------

def _describe(case: CaseInput) -> str:
    if isinstance(case, Mapping):
        return "<dict>"
    if isinstance(case, os.PathLike) or _is_path(case):
        return os.fspath(case)
    return "<yaml>"


def _is_path(text: str) -> bool:
    """A string is a path when it is one line and names an existing file, or ends in .yaml or .yml."""
    if "\n" in text or not text.strip():
        return False
    return Path(text).exists() or text.rstrip().endswith((".yaml", ".yml"))


def _cases_of(case: CaseInput, options: Mapping[str, Any]) -> tuple[list[Case | LoadFailure],
                                                                      dict[str, Callable[..., Any]]]:
    from verify.case import load_text

    _check_names(options)
    callables: dict[str, Callable[..., Any]] = {}
    if isinstance(case, Mapping):
        import yaml

        document = _plain(case, "case", callables)
        loaded = load_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), "<dict>", "case")
    elif isinstance(case, os.PathLike) or (isinstance(case, str) and _is_path(case)):
        from verify.run import collect

        path = os.fspath(case)
        if not Path(path).exists():
            raise FileNotFoundError(f"no such case file: {path}")
        keyword = options.get("keyword")
        loaded = collect([path], keyword, _run_options(options).timeout_s).cases
        if not loaded:
            raise UsageError(f"no case found in {path}" + (f" matching keyword {keyword!r}" if keyword else ""))
    elif isinstance(case, str):
        loaded = load_text(case, "<yaml>", "case")
    else:
        raise TypeError(f"case must be a path, a YAML string or a dict, not {type(case).__name__}")
    keyword = options.get("keyword")
    if keyword is not None and _describe(case) in ("<dict>", "<yaml>"):  # collect selected those from paths
        from verify.keyword import matches, validate

        validate(keyword)
        loaded = [c for c in loaded if matches(keyword, [c.id, *c.tags])]
        if not loaded:
            raise UsageError(f"no case matches keyword {keyword!r}")
    return _overridden(loaded, options), callables


def _plain(value: Any, where: str, callables: dict[str, Callable[..., Any]]) -> Any:
    """`value` as plain YAML data; callables under `impl` become `module:callable` names kept in `callables`."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: keys must be strings, found {key!r}")
            if key == "impl" and callable(item):
                out[key] = _impl_name(item, callables)
            else:
                out[key] = _plain(item, f"{where}.{key}", callables)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{i}]", callables) for i, item in enumerate(value)]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:  # numpy, torch scalars
        return _plain(value.item(), where, callables)
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays
        return _plain(value.tolist(), where, callables)
    raise TypeError(f"{where}: a case holds strings, numbers, lists and dicts (and callables as impl), "
                    f"not {type(value).__name__}")


def _impl_name(function: Callable[..., Any], callables: dict[str, Callable[..., Any]]) -> str:
    """A `module:callable` name for a callable impl, as messages show it (unique within the case)."""
    owner = getattr(function, "__self__", None)
    if isinstance(owner, type):  # a classmethod such as torch.autograd.Function.apply
        module, name = owner.__module__, f"{owner.__qualname__}.{getattr(function, '__name__', 'apply')}"
    else:
        module = getattr(function, "__module__", None) or "impl"
        name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None) or type(function).__name__
    module = re.sub(r"\W", "_", module) or "impl"
    name = ".".join(re.sub(r"\W", "_", part).strip("_") or "fn" for part in name.split("."))
    spec = f"{module if module[0].isalpha() or module[0] == '_' else '_' + module}:" \
           f"{name if name[0].isalpha() or name[0] == '_' else '_' + name}"
    base, number = spec, 1
    while spec in callables and callables[spec] is not function:
        number += 1
        spec = f"{base}_{number}"
    callables[spec] = function
    return spec


def _overridden(cases: Sequence[Case | LoadFailure], options: Mapping[str, Any]) -> list[Case | LoadFailure]:
    """The cases with the `points` and `tolerance` options in place of their own."""
    points, tolerance = options.get("points"), options.get("tolerance")
    if points is None and tolerance is None:
        return list(cases)
    from verify.case import Case

    out: list[Case | LoadFailure] = []
    for case in cases:
        if isinstance(case, Case):
            if points is not None:
                case = replace(case, points=_points(points, case))
            if tolerance is not None:
                case = replace(case, tolerance=_tolerance(tolerance))
        out.append(case)
    return out


def _option_node(name: str, value: Any) -> Any:
    """`value` read as the case file's `name` key would be, for the case module's validators."""
    import yaml

    from verify._yaml import load_documents

    [document] = load_documents(f"<{name} option>", yaml.safe_dump({name: _plain(value, name, {})}))
    if not hasattr(document, "value"):
        raise UsageError(f"{name}: {document}")
    return document.value[name]


def _points(points: int | Mapping[str, Any], case: Case) -> Any:
    from verify.case import _points as parse_points
    from verify.errors import CaseError

    try:
        if isinstance(points, Mapping):
            return parse_points(_option_node("points", points), case.variables)
        if isinstance(points, bool) or not isinstance(points, int):
            raise UsageError(f"points {points!r}: expected a number of random points or a dict like the case key")
        spec = parse_points(_option_node("points", {"random": points}), case.variables)
        return replace(spec, at=case.points.at) if case.points.at else spec
    except CaseError as exc:
        raise UsageError(f"points option: {exc}") from None


def _tolerance(tolerance: Mapping[str, Any]) -> Any:
    from verify.case import _tolerance as parse_tolerance
    from verify.errors import CaseError

    try:
        return parse_tolerance(_option_node("tolerance", tolerance))
    except CaseError as exc:
        raise UsageError(f"tolerance option: {exc}") from None


# -- running --------------------------------------------------------------------------------------------

def _check_names(options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise UsageError(f"unknown option {unknown[0]!r}; options: {', '.join(sorted(_OPTIONS))}")


def _names(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _run_options(options: Mapping[str, Any]) -> RunOptions:
    from verify.options import build_options

    cache = options.get("cache", True)
    if not isinstance(cache, (bool, str, os.PathLike)):
        raise UsageError(f"cache {cache!r}: expected True, False or a folder")
    return build_options(dtypes=_names(options.get("dtypes")), devices=_names(options.get("devices")),
                         modes=_names(options.get("modes")), proof_budget_s=options.get("proof_budget"),
                         timeout_s=options.get("timeout"),
                         cache_dir=None if isinstance(cache, bool) else os.fspath(cache), no_cache=cache is False,
                         no_impl=bool(options.get("no_impl", False)),
                         flags={"dtype": "dtypes", "device": "devices", "mode": "modes", "timeout": "timeout",
                                "proof_budget": "proof_budget"})


def _execute(cases: Sequence[Case | LoadFailure], callables: Mapping[str, Callable[..., Any]],
             options: Mapping[str, Any], api: str, described: Sequence[str]) -> tuple[pd.DataFrame, list[Result]]:
    from verify.impl import resolved_impls
    from verify.report import run_metadata, to_frame
    from verify.run import run_paths

    run_options = _run_options(options)
    started, start = time.time(), time.perf_counter()
    with resolved_impls(callables):
        results = list(run_paths(cases, run_options))
    seconds = time.perf_counter() - start
    metadata = run_metadata(results, started=started, seconds=seconds)
    metadata["api"] = api
    metadata["cases"] = list(described)
    if options.get("report_dir") is not None:
        from verify.report import write_reports

        write_reports(results, os.fspath(options["report_dir"]), seconds, html=True, metadata=metadata)
    frame = to_frame(results)
    frame.attrs.update(metadata)
    return frame, results


def failure_text(results: Sequence[Result], seconds: float | None = None) -> str:
    """What the command line prints for the cases with a fail, error or xpass record, and the summary line."""
    from verify.cli import _print_case
    from verify.report import summary_line

    by_case: dict[str, list[Result]] = {}
    for r in results:
        by_case.setdefault(r.case_id, []).append(r)
    out = io.StringIO()
    for case_id, rows in by_case.items():
        if any(r.status in _NOT_OK for r in rows):
            _print_case(out, case_id, rows, sum(r.symbolic_s + r.reference_s + r.autograd_s for r in rows), quiet=True)
    text = out.getvalue().replace("more (see report.md)", "more (all records: the frame on this error's .frame)")
    return text + summary_line(results, seconds)

