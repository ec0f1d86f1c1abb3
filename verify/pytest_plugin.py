"""Collects YAML case files as pytest items, one per (case, check); imports neither torch nor SymPy until a test runs.

Registered through the ``pytest11`` entry point, so ``pytest cases/`` runs every case found there:

    pytest cases/ -m seed -k "chain and not float32" -n 4 --verify-dtype float64

A ``*.yaml`` or ``*.yml`` file is a case file when one of its YAML documents is a map with the keys
``variables`` and ``functions`` (when the YAML does not parse: when the text has one of these keys at the
start of a line); other YAML files are ignored silently. This is the rule ``python -m verify DIR`` uses
(`verify.case.is_case_file`). A file named on the command line is always read as a case file, so a
broken one fails instead of vanishing. Disable the plugin with ``-p no:verify``.

Runs get the options a ``python -m verify`` run gets (`verify.options.build_options`): the case time
budget, the proof budget, the derivation cache and --no-impl, from ``--verify-...`` options, the
``verify_...`` ini keys, or the environment (VERIFY_CACHE_DIR, VERIFY_NO_IMPL).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from verify.case import Case, CheckSpec, LoadFailure, checks_of, is_case_file, load_file
from verify.errors import UsageError
from verify.vocabulary import DEVICES, DTYPES, MODES

if TYPE_CHECKING:
    from verify.results import Result
    from verify.run import CaseRuns, RunOptions

__all__ = ["CaseCollector", "CaseFile", "CheckItem", "LoadItem", "is_case_file"]

_SUFFIXES = (".yaml", ".yml")
# Tags that can be pytest marks: -m reads these as one name; the built-in marks would change the outcome.
_MARK_NAME = re.compile(r"[A-Za-z0-9][\w.+-]*\Z")
_NOT_MARKS = frozenset({"skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings",
                        "and", "or", "not", "True", "False", "None"})
_BAD = ("fail", "error", "xpass")

_options_key = pytest.StashKey["RunOptions"]()
_marks_key = pytest.StashKey[set[str]]()
_whole_case_key = pytest.StashKey[dict[tuple[Path, str], list["Result"]]]()
_case_runs_key = pytest.StashKey[dict[str, "CaseRuns"]]()


# -- options -------------------------------------------------------------------------------------

def _choice_list(valid: tuple[str, ...]) -> Any:
    """An argparse type: comma-separated names from `valid`, as a tuple."""

    def parse(value: str) -> tuple[str, ...]:
        items = tuple(item.strip() for item in value.split(",") if item.strip())
        for item in items:
            if item not in valid:
                raise argparse.ArgumentTypeError(f"{item!r}: expected one of {', '.join(valid)}")
        return items

    return parse


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("verify", "verify: derivative checks from YAML case files")
    group.addoption("--verify-dtype", action="append", default=[], metavar="DTYPE", type=_choice_list(DTYPES),
                    help=f"override the cases' dtypes ({', '.join(DTYPES)}; repeat or comma-separate)")
    group.addoption("--verify-device", action="append", default=[], metavar="DEVICE", type=_choice_list(DEVICES),
                    help=f"override the cases' devices ({', '.join(DEVICES)})")
    group.addoption("--verify-mode", action="append", default=[], metavar="MODE",
                    type=_choice_list((*MODES, "cheaper")),
                    help=f"override the cases' autograd modes ({', '.join(MODES)}), or 'cheaper': per function "
                         "the mode that costs less")
    group.addoption("--verify-timeout", type=float, default=None, metavar="SECONDS",
                    help="time budget of each case (default: ini verify_timeout, else 300); 0 for none")
    group.addoption("--verify-proof-budget", type=float, default=None, metavar="SECONDS",
                    help="time for each symbolic proof (default: ini verify_proof_budget, else 10)")
    group.addoption("--verify-cache-dir", default=None, metavar="DIR",
                    help="where derivations are cached (default: ini verify_cache_dir, $VERIFY_CACHE_DIR "
                         "or ~/.cache/verify)")
    group.addoption("--verify-no-cache", action="store_true", default=False,
                    help="derive everything afresh and cache nothing")
    group.addoption("--verify-no-impl", action="store_true", default=False,
                    help="run no code named by a case file: checks of functions with an impl are skipped "
                         "(also VERIFY_NO_IMPL=1)")
    parser.addini("verify_timeout", "verify: time budget of each case in seconds (default 300; 0 for none)",
                  default=None)
    parser.addini("verify_proof_budget", "verify: time for each symbolic proof in seconds (default 10)",
                  default=None)
    parser.addini("verify_cache_dir", "verify: where derivations are cached", default=None)
    parser.addini("verify_no_cache", "verify: derive everything afresh", type="bool", default=False)
    parser.addini("verify_no_impl", "verify: run no code named by a case file", type="bool", default=False)


def _flat(values: Sequence[tuple[str, ...]]) -> tuple[str, ...] | None:
    out: list[str] = []
    for group in values:
        out.extend(item for item in group if item not in out)
    return tuple(out) or None


def _option(config: pytest.Config, name: str) -> Any:
    """A --verify-NAME option, else the verify_NAME ini key (None when neither is given)."""
    value = config.getoption(f"verify_{name}")
    if value is None or value is False:
        ini = config.getini(f"verify_{name}")
        return ini if ini not in ("", None) else value
    return value


def pytest_configure(config: pytest.Config) -> None:
    from verify.options import build_options

    try:
        options = build_options(
            dtypes=_flat(config.getoption("verify_dtype")), devices=_flat(config.getoption("verify_device")),
            modes=_flat(config.getoption("verify_mode")), timeout_s=_option(config, "timeout"),
            proof_budget_s=_option(config, "proof_budget"), cache_dir=_option(config, "cache_dir"),
            no_cache=bool(_option(config, "no_cache")), no_impl=bool(_option(config, "no_impl")),
            flags={"dtype": "--verify-dtype", "device": "--verify-device", "mode": "--verify-mode",
                   "timeout": "--verify-timeout", "proof_budget": "--verify-proof-budget"})
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_options_key] = options
    config.stash[_whole_case_key] = {}
    config.stash[_case_runs_key] = {}  # the CaseRuns, made by the first item: collection imports no verify.run


def _run_options(config: pytest.Config) -> RunOptions:
    return config.stash[_options_key]


# -- collection ----------------------------------------------------------------------------------

def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> CaseFile | None:
    if file_path.suffix not in _SUFFIXES:
        return None
    if parent.session.isinitpath(file_path) or (not file_path.name.startswith(".") and is_case_file(file_path)):
        return CaseFile.from_parent(parent, path=file_path)
    return None


def _display(path: Path, config: pytest.Config) -> str:
    """The path as error messages show it: relative to where pytest was started, as the CLI does."""
    start = config.invocation_params.dir
    try:
        return str(path.resolve().relative_to(start.resolve()))
    except ValueError:
        return str(path)


def _unique(name: str, used: set[str]) -> str:
    out, number = name, 1
    while out in used:
        number += 1
        out = f"{name[:-1]}-{number}]" if name.endswith("]") else f"{name}-{number}"
    used.add(out)
    return out


class CaseFile(pytest.File):
    """A case file: one CaseCollector per YAML document, in document order."""

    def collect(self) -> Iterator[CaseCollector]:
        used: set[str] = set()
        for case in load_file(self.path, _display(self.path, self.config)):
            yield CaseCollector.from_parent(self, name=_unique(case.name, used), case=case)


def _mark(config: pytest.Config, tag: str) -> pytest.MarkDecorator | None:
    """The mark for a case tag, registered first so that neither a warning nor --strict-markers objects."""
    if not _MARK_NAME.match(tag) or tag in _NOT_MARKS:
        return None
    known = config.stash.get(_marks_key, None)
    if known is None:
        known = {line.split(":")[0].split("(")[0].strip() for line in config.getini("markers")}
        config.stash[_marks_key] = known
    if tag not in known:
        config.addinivalue_line("markers", f"{tag}: verify case tag")
        known.add(tag)
    decorator: pytest.MarkDecorator = getattr(pytest.mark, tag)
    return decorator


class CaseCollector(pytest.Collector):
    """One case of a file: an item per check, or one `load` item when the case could not be loaded."""

    def __init__(self, *, case: Case | LoadFailure, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        for tag in case.tags:
            mark = _mark(self.config, tag)
            if mark is not None:
                self.add_marker(mark)
            self.extra_keyword_matches.add(tag)

    def collect(self) -> Iterator[pytest.Item]:
        if isinstance(self.case, LoadFailure):
            yield LoadItem.from_parent(self, name="load", failure=self.case)
            return
        used: set[str] = set()
        for index, check in enumerate(checks_of(self.case)):
            name = _unique(f"{check.kind}[{check.target}]", used)
            yield CheckItem.from_parent(self, name=name, case=self.case, index=index, check=check)


class CheckFailedError(Exception):
    """Raised by an item whose check failed, errored or unexpectedly passed; its text is the report."""


class _OneLine:
    """A failure under --tb=line: pytest prints `reprcrash` (file:line: what), and nothing else."""

    def __init__(self, text: str) -> None:
        self.message = text
        self.reprcrash = self

    def toterminal(self, out: Any) -> None:
        """Nothing: the crash line is the whole report."""

    def __str__(self) -> str:
        return self.message


def _failure(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException], line: int | None) -> str | _OneLine:
    """The failure text of a verify item; one line (file:line: first line of the text) under --tb=line."""
    text = str(excinfo.value)
    if item.config.getoption("tbstyle", "auto") != "line":
        return text
    parts = [part.strip() for part in text.splitlines() if part.strip()] or ["failed"]
    detail = f"{parts[0].rstrip(':')}: {parts[1]}" if len(parts) > 1 else parts[0]  # what, and the first problem
    return _OneLine(f"{_display(item.path, item.config)}:{line or 0}: {detail}")


class LoadItem(pytest.Item):
    """A case that could not be loaded: fails with the CaseError (file:line:col, what, hint)."""

    def __init__(self, *, failure: LoadFailure, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failure = failure

    def runtest(self) -> None:
        raise CheckFailedError(f"case {self.failure.name!r} could not be loaded:\n{self.failure.error.render()}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CheckFailedError):
            where = self.failure.error.where
            return _failure(self, excinfo, where.line if where else None)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        where = self.failure.error.where
        return self.path, (where.line - 1 if where and where.line else None), f"{self.failure.name}::load"


def _label(row: Result) -> str:
    parts = [p for p in (row.mode, row.dtype, row.device) if p and p != "-"]
    return f"{row.status} [{', '.join(parts) or row.check}]"


class CheckItem(pytest.Item):
    """One check of one case, run in every dtype, device and mode the case (or the command line) asks for."""

    def __init__(self, *, case: Case, index: int, check: CheckSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.index = index
        self.check = check

    def results(self) -> list[Result]:
        """This check's result rows, from verify.run (imported here: collection stays free of torch and SymPy)."""
        from verify.run import CaseRuns, run_case

        options = _run_options(self.config)
        runs = self.config.stash[_case_runs_key].setdefault("runs", CaseRuns())
        if not self.case.xfail or self.check.xfail:
            return run_case(self.case, options, checks=[self.index], runs=runs)
        # A case-level xfail is judged over all the case's checks, as the CLI does: run them once.
        cache = self.config.stash[_whole_case_key]
        key = (self.path, self.case.name)
        if key not in cache:
            cache[key] = run_case(self.case, options, runs=runs)
        mine = (self.check.kind, self.check.target, self.check.where.line)
        return [r for r in cache[key] if r.check == "load" or (r.check, r.function, r.line) == mine]

    def runtest(self) -> None:
        rows = self.results()
        what = f"{self.check.kind} of {self.check.target} ({self.check.where})"
        if not rows:
            raise CheckFailedError(f"{what}: verify produced no result for this check")
        bad = [r for r in rows if r.status in _BAD]
        if bad:
            lines = [f"{what}: {len(bad)} of {len(rows)} results not ok"]
            for row in bad:
                message = str(row.message).replace("\n", "\n    ")
                lines.append(f"  {_label(row)}: {message}")
            raise CheckFailedError("\n".join(lines))
        if any(r.status == "xfail" for r in rows):
            pytest.xfail(self.check.xfail or self.case.xfail or next(r.message for r in rows if r.status == "xfail"))
        if all(r.status == "skip" for r in rows):
            reasons = list(dict.fromkeys(r.message for r in rows))
            pytest.skip("; ".join(reasons))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CheckFailedError):
            return _failure(self, excinfo, self.check.where.line)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.check.where.line
        return self.path, (line - 1 if line else None), f"{self.case.name}::{self.name}"
