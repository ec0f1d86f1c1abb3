"""The command line: `python -m verify PATH...` runs cases and writes reports; exit codes per the contract."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from verify.errors import UsageError
from verify.terminal import Progress
from verify.vocabulary import DEVICES, DTYPES, MODES

if TYPE_CHECKING:
    from verify.case import Case, LoadFailure
    from verify.results import Result

__all__ = ["main"]

# `python -m verify NAME ...` runs NAME's `main(argv, out) -> exit code`, imported on use.
SUBCOMMANDS = {
    "accuracy": "verify.accuracy:main",
    "bench": "verify.bench:main",
    "schema": "verify.schema:main",
    "show": "verify.show:main",
    "new": "verify.template:main",
}
_SHOWN_PER_CASE = 6
_MARK = {"pass": "PASS ", "fail": "FAIL ", "error": "ERROR", "skip": "SKIP ", "xfail": "XFAIL", "xpass": "XPASS"}


class _Parser(argparse.ArgumentParser):
    """Writes help to the stream the caller gave, so main(argv, out) captures it."""

    out: TextIO = sys.stdout

    def _print_message(self, message: str, file: object = None) -> None:
        if message:
            (sys.stderr if file is sys.stderr else self.out).write(message)  # type: ignore[attr-defined]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m verify",
        description="Verify derivatives: exact SymPy derivatives vs torch autograd, for the cases in YAML files.",
        epilog="Exit status: 0 all passed (xfail and skip allowed); 1 a result failed, errored or "
               "unexpectedly passed; 2 bad usage or no case found. Other commands: "
               + ", ".join(f"python -m verify {name} --help" for name in SUBCOMMANDS)
               + " (a file or folder of one of these names is run as cases instead).",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="case files or directories (searched for *.yaml, *.yml files that look like cases); "
                             "default: the paths of verify.toml or [tool.verify] in pyproject.toml")
    parser.add_argument("--report-dir", default="reports", metavar="DIR",
                        help="where report.csv, report.json, report.md and report.html go (default: reports)")
    parser.add_argument("-k", dest="keyword", metavar="EXPR",
                        help="run only cases whose id or tags match, e.g. -k 'seed and not norm'")
    parser.add_argument("--dtype", action="append", metavar="DTYPE",
                        help=f"override the cases' dtypes ({', '.join(DTYPES)}; repeat or comma-separate)")
    parser.add_argument("--device", action="append", metavar="DEVICE",
                        help=f"override the cases' devices ({', '.join(DEVICES)})")
    parser.add_argument("--mode", action="append", metavar="MODE",
                        help=f"override the cases' autograd modes ({', '.join(MODES)}), or 'cheaper': per function "
                             "the mode that costs less (fwd when it has fewer inputs than outputs); CI should check both")
    parser.add_argument("--proof-budget", type=float, metavar="SECONDS",
                        help="time for each symbolic proof before falling back to numeric evidence (default: 10)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="time budget of each case (default: 300); a case that runs out gets an error naming "
                             "the stage that was running, and the run goes on; 0 for none")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="where derivations are cached between runs (default: $VERIFY_CACHE_DIR or ~/.cache/verify)")
    parser.add_argument("--no-cache", action="store_true", help="derive everything afresh and cache nothing")
    parser.add_argument("--no-impl", action="store_true",
                        help="run no code named by a case file: checks of functions with an impl are skipped "
                             "(also VERIFY_NO_IMPL=1); for untrusted case files")
    parser.add_argument("--isolate", action="store_true",
                        help="run cases in a worker process even with --jobs 1, so that a crash of native code "
                             "(a segfault in an impl) costs only its case")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only failures and the summary")
    parser.add_argument("--version", action=_Version)
    _add_ci_arguments(parser)
    return parser


def _add_ci_arguments(parser: argparse.ArgumentParser) -> None:
    ci = parser.add_argument_group("CI", "for continuous integration: test reports, annotations, baselines, sharding")
    ci.add_argument("--junit-xml", metavar="FILE",
                    help="also write JUnit XML to FILE: one testcase per record, classname = the case file")
    ci.add_argument("--annotate", choices=("github",),
                    help="print an annotation per fail, error and xpass (github: ::error file=...,line=...::...)")
    ci.add_argument("--baseline", metavar="FILE",
                    help="compare with an earlier report.json: print new failures, fixes and slowdowns "
                         "(also written to baseline_diff.json in the report folder)")
    ci.add_argument("--update-baseline", action="store_true",
                    help="write this run's records to the --baseline FILE (after comparing, if it exists)")
    ci.add_argument("--timing-threshold", type=float, default=2.0, metavar="FACTOR",
                    help="a record is slower when its total time grew more than FACTOR times (default: 2.0)")
    ci.add_argument("--timing-min-seconds", type=float, default=0.05, metavar="SECONDS",
                    help="... and by at least SECONDS, so that tiny times do not flag noise (default: 0.05)")
    ci.add_argument("--fail-on-slowdown", type=_slowdown_factor, metavar="FACTOR",
                    help="exit 1 when a record is more than FACTOR times slower than the baseline (default without "
                         "a value: the --timing-threshold factor); see docs/case-format.md, section 13")
    ci.add_argument("--shard", metavar="K/N",
                    help="run only shard K of N (1-based): the cases whose sha256(case id) mod N is K-1")
    ci.add_argument("--jobs", type=int, default=1, metavar="N",
                    help="run cases in N worker processes (default: 1); the records are those of --jobs 1, "
                         "in the same order, timings aside")


def _print_case(out: TextIO, case_id: str, results: Sequence[Result], seconds: float, quiet: bool) -> None:
    statuses = [r.status for r in results]
    worst = next((s for s in ("error", "fail", "xpass", "xfail", "skip") if s in statuses), "pass")
    if quiet and worst in ("pass", "xfail", "skip"):
        return
    bad = sum(s in ("fail", "error", "xpass") for s in statuses)
    detail = f"{len(results)} results" if not bad else f"{bad} of {len(results)} results not ok"
    out.write(f"{_MARK[worst]} {case_id}  ({detail}, {seconds:.2f}s)\n")
    problems = [r for r in results if r.status in ("fail", "error", "xpass")]
    for r in problems[:_SHOWN_PER_CASE]:
        message = _capped_message(r).replace("\n", "\n        ")
        out.write(f"      {r.status}: {message}\n")
    if len(problems) > _SHOWN_PER_CASE:
        out.write(f"      ... and {len(problems) - _SHOWN_PER_CASE} more (see report.md)\n")
    out.flush()


def _capped_message(r: Result) -> str:
    from verify.report import capped

    return capped(r).message


def _missing_package() -> str:
    """Why the certified reference cannot run in this Python (python-flint missing), or ''."""
    from verify.engines.certified import flint_module
    from verify.errors import EngineError

    try:
        flint_module()
    except EngineError as exc:
        return str(exc)
    return ""


def run_command(argv: Sequence[str], out: TextIO) -> int:
    parser = build_parser()
    parser.out = out  # type: ignore[attr-defined]
    args = parser.parse_args(list(argv))
    from verify.keyword import validate

    if args.keyword is not None:
        validate(args.keyword)
    from verify.options import build_options, configured_paths

    options = build_options(dtypes=args.dtype, devices=args.device, modes=args.mode,
                            proof_budget_s=args.proof_budget, timeout_s=args.timeout, cache_dir=args.cache_dir,
                            no_cache=args.no_cache, no_impl=args.no_impl)
    shard = _check_ci_arguments(args)
    if not args.paths:
        configured = configured_paths()
        if configured is None:
            parser.error("no PATH given, and no verify.toml or [tool.verify] section of pyproject.toml here "
                         "names case paths (paths = [\"cases\"])")
        args.paths = configured[0]
    from verify.report import summary_line, write_reports
    from verify.run import collect, exit_code, run_paths

    baseline = _load_baseline(args)
    start = time.perf_counter()
    collected = collect(args.paths, args.keyword, options.timeout_s)
    for path in collected.missing:
        sys.stderr.write(f"python -m verify: error: {path}: no such file or directory\n")
    if collected.missing:
        return 2
    if collected.skipped:
        shown = ", ".join(collected.skipped[:5]) + (", ..." if len(collected.skipped) > 5 else "")
        out.write(f"verify: skipped {len(collected.skipped)} YAML file(s) that are not cases "
                  f"(no top-level variables and functions): {shown}\n")
    if not collected.cases:
        where = ", ".join(args.paths)
        selection = f" matching -k {args.keyword!r}" if args.keyword else ""
        sys.stderr.write(f"python -m verify: error: no case found in {where}{selection} "
                         "(case files end in .yaml or .yml and have top-level variables and functions)\n")
        return 2
    missing = _missing_package()
    if missing:  # every check needs it: one clear error, not an error record per check
        sys.stderr.write(f"python -m verify: error: {missing}\n")
        return 2
    cases = collected.cases
    note = ""
    if shard is not None:
        from verify.parallel import shard as take_shard

        cases = take_shard(cases, *shard, key=lambda case: case.id)
        note = f" (shard {shard[0]}/{shard[1]} of {len(collected.cases)})"
    out.write(f"verify: {len(cases)} case(s) from {', '.join(args.paths)}{note}\n")
    from verify.terminal import status_table

    progress = _Running(sys.stderr, len(cases))
    finished: dict[int, list[Result]] = {}

    def on_case(case: Case | LoadFailure, rows: list[Result], s: float) -> None:
        finished[id(case)] = rows
        progress.clear()
        _print_case(out, case.id, rows, s, args.quiet)
        progress.finish(case.id)

    interrupted = False
    try:
        if args.jobs > 1 or args.isolate:
            from verify.parallel import run_parallel

            results = list(run_parallel(cases, options, args.jobs, on_case, on_start=progress.start))
        else:
            if args.baseline:  # timings are compared: torch's one-time costs first (workers do the same)
                from verify.baseline import warm_up_torch

                warm_up_torch()
            results = list(run_paths(cases, options, on_case=on_case, on_start=progress.start))
    except KeyboardInterrupt:  # Ctrl-C: report what finished, marked partial, and exit 130
        interrupted = True
        results = [r for case in cases for r in finished.get(id(case), [])]
    finally:
        progress.clear()
    seconds = time.perf_counter() - start
    metadata = None
    if interrupted:  # report.meta.json says so: {"partial": true, "cases_finished": ..., "cases_total": ...}
        from verify.report import run_metadata

        metadata = {**run_metadata(results, seconds=seconds), "partial": True, "cases_finished": len(finished),
                    "cases_total": len(cases)}
    written = write_reports(results, args.report_dir, seconds, html=True, metadata=metadata)
    if interrupted:
        return _partial(out, written, results, len(finished), len(cases), seconds)
    if args.junit_xml:
        from verify.junit import write_junit
        from verify.report import run_metadata

        written.append(write_junit(results, args.junit_xml, seconds, metadata or run_metadata(results, seconds=seconds)))
    out.write(f"reports: {', '.join(str(p) for p in written)}\n")
    out.write("".join(f"{line}\n" for line in status_table(results)))
    code = exit_code(results)
    if args.baseline:
        code = max(code, _compare_with_baseline(args, results, baseline, out))
    if args.annotate:
        from verify.annotate import annotation_lines, write_step_summary

        out.flush()
        raw = getattr(out, "raw", out)  # verify's own workflow commands are the only ones not neutralised
        raw.write("".join(f"{line}\n" for line in annotation_lines(results, args.annotate)))
        write_step_summary(results, seconds)
    out.write(summary_line(results, seconds) + "\n")
    return code


class _Running(Progress):
    """The progress line names the case running now (with --jobs, the oldest running one and how many more)."""

    def __init__(self, stream: TextIO, total: int) -> None:
        super().__init__(stream, total)
        self.running: list[str] = []

    def start(self, case: Case | LoadFailure) -> None:
        self.running.append(case.id)
        self._show()

    def finish(self, label: str) -> None:
        if label in self.running:
            self.running.remove(label)
        self.done += 1
        self._show()

    def _show(self) -> None:
        if not self.enabled or not self.running or self.done >= self.total:
            self.clear()
            return
        more = f" (+{len(self.running) - 1} more)" if len(self.running) > 1 else ""
        text = f"[{self.done}/{self.total}] running {self.running[0]}{more}"
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        if len(text) > width:
            text = text[: width - 3] + "..."
        self.stream.write(f"\r\x1b[K{text}")
        self.stream.flush()
        self._shown = True


def _partial(out: TextIO, written: list[Path], results: Sequence[Result], done: int, total: int,
             seconds: float) -> int:
    """After Ctrl-C: marks the reports partial, prints the summary of what finished; exit status 130."""
    from verify.report import summary_line
    from verify.terminal import status_table

    note = (f"partial: the run was interrupted (Ctrl-C) after {done} of {total} case(s); "
            "the records of the cases that did not finish are missing")
    for path in written:
        if path.suffix == ".md":
            text = path.read_text(encoding="utf-8")
            head, _, rest = text.partition("\n")
            path.write_text(f"{head}\n\n**{note}**\n{rest}", encoding="utf-8")
    out.write(f"reports: {', '.join(str(p) for p in written)}\n")
    out.write("".join(f"{line}\n" for line in status_table(results)))
    out.write(f"{summary_line(results, seconds)}\n")
    sys.stderr.write(f"python -m verify: interrupted; {note}\n")
    return 130


def _check_ci_arguments(args: argparse.Namespace) -> tuple[int, int] | None:
    """Validates the CI options; returns the shard (K, N), if one was asked for."""
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: expected a number of worker processes, at least 1")
    if not args.timing_threshold > 0:
        raise UsageError("--timing-threshold must be a positive factor, e.g. 2.0")
    if not args.timing_min_seconds >= 0:
        raise UsageError("--timing-min-seconds must not be negative")
    for flag, given in (("--update-baseline", args.update_baseline),
                        ("--fail-on-slowdown", args.fail_on_slowdown is not None)):
        if given and not args.baseline:
            raise UsageError(f"{flag} needs --baseline FILE")
    if args.fail_on_slowdown == "threshold":
        args.fail_on_slowdown = args.timing_threshold
    _check_report_dir(args.report_dir)
    if args.shard is None:
        return None
    from verify.parallel import parse_shard

    return parse_shard(args.shard)


def _check_report_dir(directory: str) -> None:
    """A --report-dir that exists must be a writable folder; one that does not, creatable (a UsageError if not)."""
    import os

    path = Path(directory)
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"--report-dir {directory}: exists and is not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"--report-dir {directory}: the folder is not writable")
        return
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--report-dir {directory}: cannot be created ({parent} is not a writable folder)")


def _load_baseline(args: argparse.Namespace) -> list[dict[str, object]] | None:
    """The --baseline records; None when there is none yet and --update-baseline will write it."""
    if not args.baseline or (args.update_baseline and not Path(args.baseline).exists()):
        return None
    from verify.baseline import load_baseline

    return load_baseline(args.baseline)


def _compare_with_baseline(args: argparse.Namespace, results: Sequence[Result],
                           baseline: list[dict[str, object]] | None, out: TextIO) -> int:
    """Prints (and writes baseline_diff.json) what changed since the baseline; 1 for a slowdown that fails."""
    import json

    from verify.baseline import compare, save_baseline
    from verify.report import to_records

    records = to_records(results)
    code = 0
    if baseline is not None:
        factor = args.timing_threshold if args.fail_on_slowdown is None else min(args.timing_threshold,
                                                                                  args.fail_on_slowdown)
        diff = compare(baseline, records, args.baseline, factor, args.timing_min_seconds)
        target = Path(args.report_dir) / "baseline_diff.json"
        target.write_text(json.dumps(diff.to_json(), indent=1) + "\n", encoding="utf-8")
        out.write("".join(f"{line}\n" for line in diff.lines()))
        if args.fail_on_slowdown is not None and diff.slower_than(args.fail_on_slowdown):
            code = 1
    if args.update_baseline:
        out.write(f"baseline written: {save_baseline(records, args.baseline, baseline)}\n")
    return code


def _main(argv: list[str], stream: TextIO) -> int:
    if argv[:1] and argv[0] in SUBCOMMANDS and not Path(argv[0]).exists():
        import importlib

        module_name, _, function_name = SUBCOMMANDS[argv[0]].partition(":")
        command = getattr(importlib.import_module(module_name), function_name)
        try:
            return int(command(argv[1:], stream))
        except UsageError as exc:
            sys.stderr.write(f"python -m verify {argv[0]}: error: {exc}\n")
            return 2
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 2
    try:
        return run_command(argv, stream)
    except UsageError as exc:
        sys.stderr.write(f"python -m verify: error: {exc}\n")
        return 2
    except SystemExit as exc:  # argparse: --help (0) or bad usage (2)
        return exc.code if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Runs the command line with `argv` (default: sys.argv[1:]) and returns the exit status.

    Everything printed goes through `CommandSafeStream`, so that no text from a case file can
    start a CI workflow command. A closed output pipe (`... | head -1`) ends the run quietly
    with status 141, as a process stopped by SIGPIPE.
    """
    from verify.annotate import CommandSafeStream

    argv = list(sys.argv[1:] if argv is None else argv)
    if not (argv[:1] and argv[0] in SUBCOMMANDS and not Path(argv[0]).exists()):
        argv = _slowdown_argv(argv)
    raw = out or sys.stdout
    stream, stderr = CommandSafeStream(raw), sys.stderr
    sys.stderr = CommandSafeStream(stderr)  # type: ignore[assignment]
    try:
        code = _main(argv, stream)  # type: ignore[arg-type]
        stream.close()
        return code
    except BrokenPipeError:
        _silence(raw)
        return 141
    finally:
        with contextlib.suppress(BrokenPipeError):
            sys.stderr.close()  # the wrapper: writes out what it held back; the real stderr stays open
        sys.stderr = stderr


def _silence(stream: TextIO) -> None:
    """After a broken pipe: points the stream's file descriptor at /dev/null, so that the flush at exit is quiet."""
    import os

    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a StringIO)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _slowdown_argv(argv: list[str]) -> list[str]:
    """`--fail-on-slowdown [FACTOR]`: a bare flag (the old form) means the --timing-threshold factor.

    The factor is optional, yet a path may follow the flag; argv is rewritten so that
    `--fail-on-slowdown 3` becomes `--fail-on-slowdown=3` and a bare flag `--fail-on-slowdown=threshold`.
    """
    out: list[str] = []
    i = 0
    while i < len(argv):
        item = argv[i]
        if item == "--":
            return out + argv[i:]
        if item == "--fail-on-slowdown":
            following = argv[i + 1] if i + 1 < len(argv) else ""
            try:
                float(following)
            except ValueError:
                out.append(f"{item}=threshold")
            else:
                out.append(f"{item}={following}")
                i += 1
        else:
            out.append(item)
        i += 1
    return out


def _slowdown_factor(text: str) -> float | str:
    if text == "threshold":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a factor such as 2.0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive factor such as 2.0, got {text!r}")
    return value


class _Version(argparse.Action):
    """`--version`: verify's version, the installed distribution that provides it, and the import package."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print verify's version, its distribution (verify-derivatives) and import package (verify), "
                              "and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: object, values: object,
                 option_string: str | None = None) -> None:
        parser._print_message(version_text() + "\n")  # to the command's output, as argparse's own --version
        parser.exit(0)


def version_text() -> str:
    """`verify 0.1.0 (distribution verify-derivatives 0.1.0, import package verify at /path/to/verify)`.

    The distribution is named verify-derivatives because `verify` on the package index is an
    unrelated project; the import package is `verify`.
    """
    import importlib.metadata

    import verify
    from verify.report import DISTRIBUTION

    where = Path(verify.__file__).resolve().parent
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
        files = [Path(str(dist.locate_file(f))).resolve() for f in dist.files or () if f.name == "__init__.py"]
        ours = not files or any(f.parent == where for f in files) or "__editable__" in str(dist.files)
        origin = f"distribution {dist.metadata['Name']} {dist.version}" + ("" if ours else " (a different copy)")
    except importlib.metadata.PackageNotFoundError:
        origin = f"not installed as the distribution {DISTRIBUTION}"
    return f"verify {verify.__version__} ({origin}, import package verify at {where})"
