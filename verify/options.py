"""One options builder for every front end: the CLI, the pytest plugin and the Python API build `RunOptions` here.

The defaults live here once (time budget per case, proof budget, cache folder), so a pytest run
gets the cache, the timeout and the proof budget a `python -m verify` run gets. This module also
reads the case paths a project names in `verify.toml` or `[tool.verify]` of `pyproject.toml`.
It imports nothing heavy.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verify.errors import UsageError
from verify.vocabulary import DEVICES, DTYPES, MODES

__all__ = ["DEFAULT_PROOF_BUDGET_S", "DEFAULT_TIMEOUT_S", "RunOptions", "build_options", "configured_paths",
           "default_cache_dir", "parse_choices"]

DEFAULT_TIMEOUT_S = 300.0
DEFAULT_PROOF_BUDGET_S = 10.0


@dataclass(frozen=True)
class RunOptions:
    """How cases run: overrides of what each case says (None keeps the case's), budgets, cache, trust.

    The dataclass defaults are those of a bare `run_case` call (no cache, no time limit); the
    front ends build theirs with `build_options`, whose defaults are the documented ones.
    """

    dtypes: tuple[str, ...] | None = None
    devices: tuple[str, ...] | None = None
    modes: tuple[str, ...] | None = None
    proof_budget_s: float = DEFAULT_PROOF_BUDGET_S
    chunk_size: int | None = 4096
    cache_dir: Path | None = None  # None: derive everything afresh
    timeout_s: float | None = None  # per case; None: no limit
    no_impl: bool = False  # run no code named by a case file: checks of impl functions are skipped


def default_cache_dir() -> Path:
    """$VERIFY_CACHE_DIR, else $XDG_CACHE_HOME/verify, else ~/.cache/verify (as `verify.cache.default_cache_dir`)."""
    if os.environ.get("VERIFY_CACHE_DIR"):
        return Path(os.environ["VERIFY_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "verify"


def parse_choices(values: Iterable[str] | None, valid: tuple[str, ...], flag: str) -> tuple[str, ...] | None:
    """Comma-separated or repeated names from `valid`, in order, without repeats; None when none is given."""
    out: list[str] = []
    for value in values or ():
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            if item not in valid:
                raise UsageError(f"{flag} {item!r}: expected one of {', '.join(valid)}")
            if item not in out:
                out.append(item)
    return tuple(out) or None


def build_options(*, dtypes: Iterable[str] | None = None, devices: Iterable[str] | None = None,
                  modes: Iterable[str] | None = None, proof_budget_s: float | None = None,
                  timeout_s: float | None = None, cache_dir: str | Path | None = None, no_cache: bool = False,
                  no_impl: bool = False, environ: Mapping[str, str] | None = None,
                  flags: Mapping[str, str] | None = None) -> RunOptions:
    """RunOptions from what a front end was given; a UsageError names the bad value and the flag.

    `dtypes`, `devices` and `modes` are names (comma-separated allowed); None keeps the cases'
    own. `timeout_s` None is the default budget (300 s), 0 none at all. `cache_dir` None is
    $VERIFY_CACHE_DIR or ~/.cache/verify; `no_cache` derives everything afresh. `no_impl`, or
    VERIFY_NO_IMPL=1 in `environ` (default os.environ), runs no code named by a case file.
    `flags` renames the options in error messages (e.g. {"timeout": "--verify-timeout"}).
    """
    from verify.impl import no_impl_from_env

    names = {"dtype": "--dtype", "device": "--device", "mode": "--mode", "timeout": "--timeout",
             "proof_budget": "--proof-budget", **(flags or {})}
    chosen_modes = parse_choices(modes, (*MODES, "cheaper"), names["mode"])
    if chosen_modes and "cheaper" in chosen_modes and len(chosen_modes) > 1:
        raise UsageError(f"{names['mode']} cheaper picks one mode per function; give it alone")
    timeout = DEFAULT_TIMEOUT_S if timeout_s is None else _seconds(timeout_s, names["timeout"])
    proof = DEFAULT_PROOF_BUDGET_S if proof_budget_s is None else _seconds(proof_budget_s, names["proof_budget"])
    return RunOptions(
        dtypes=parse_choices(dtypes, DTYPES, names["dtype"]),
        devices=parse_choices(devices, DEVICES, names["device"]),
        modes=chosen_modes,
        proof_budget_s=proof,
        timeout_s=timeout or None,
        cache_dir=None if no_cache else (Path(cache_dir) if cache_dir else default_cache_dir()),
        no_impl=bool(no_impl) or no_impl_from_env(environ),
    )


def _seconds(value: Any, flag: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{flag} {value!r}: expected a number of seconds") from None
    if not seconds >= 0:  # also refuses nan
        raise UsageError(f"{flag} must not be negative")
    return seconds


# -- case paths named by the project ---------------------------------------------------------------

def _read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise UsageError(f"{path}: reading it needs Python 3.11 or the tomli package") from None
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it: {exc}") from None


def configured_paths(directory: str | Path | None = None) -> tuple[list[str], Path] | None:
    """The case paths named in DIR/verify.toml (`paths = [...]`, top level or under [tool.verify]) or in
    DIR/pyproject.toml (`[tool.verify]`, `paths = [...]`), relative to that file's folder, and the file;
    None when neither names any. DIR is the working directory by default."""
    base = Path(directory) if directory is not None else Path.cwd()
    for name, top_level in (("verify.toml", True), ("pyproject.toml", False)):
        path = base / name
        if not path.is_file():
            continue
        data = _read_toml(path)
        section = data.get("tool", {}).get("verify") if isinstance(data.get("tool"), dict) else None
        if top_level and "paths" in data:
            section = data
        if not isinstance(section, dict) or "paths" not in section:
            continue
        paths = section["paths"]
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
            raise UsageError(f"{path}: paths must be a list of case files or folders, e.g. paths = [\"cases\"]")
        return [_relative(base, p) for p in paths], path
    return None


def _relative(base: Path, path: str) -> str:
    """`path` from the config's folder, written relative to the working directory where it can be."""
    full = Path(path) if Path(path).is_absolute() else base / path
    try:
        return os.path.relpath(full)
    except ValueError:  # another drive (Windows)
        return str(full)


def flag_values(values: Sequence[Any] | None) -> list[str]:
    """Repeated option values (lists or tuples of names, or names) as one flat list of names."""
    out: list[str] = []
    for value in values or ():
        if isinstance(value, (list, tuple)):
            out.extend(str(v) for v in value)
        else:
            out.append(str(value))
    return out
