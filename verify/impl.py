"""Importing the implementations under test (`impl: package.module:callable`), the one way a case brings in code."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import sysconfig
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from verify.errors import EngineError, Location

__all__ = ["NoImplError", "describe_exception", "from_user_code", "is_own_interrupt", "load_impl", "no_impl_from_env",
           "recording_interrupts", "resolved_impls"]

_FALSE = ("", "0", "false", "no", "off")
_MAX_TEXT = 500  # characters of an exception's text in a message


def no_impl_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Whether VERIFY_NO_IMPL asks to run no code from case files (any value but empty, 0, false, no, off)."""
    value = (os.environ if environ is None else environ).get("VERIFY_NO_IMPL", "")
    return value.strip().lower() not in _FALSE


class NoImplError(EngineError):
    """An impl was about to be imported while impls are refused (--no-impl, VERIFY_NO_IMPL=1)."""


# -- telling a real Ctrl-C from user code that raises KeyboardInterrupt -------------------------------

_INTERRUPTED = threading.Event()


def _on_sigint(previous: Any) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        _INTERRUPTED.set()
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt

    return handler


@contextmanager
def recording_interrupts() -> Iterator[None]:
    """While active, a Ctrl-C (SIGINT) is recorded before it raises KeyboardInterrupt.

    User code can raise KeyboardInterrupt (or SystemExit) itself; only a recorded one is a real
    interrupt that stops the run (see `is_own_interrupt`). Outside the main thread no signal
    arrives, and where SIGINT is ignored (verify's worker processes) it stays ignored.
    """
    _INTERRUPTED.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN or previous is None:
        yield
        return
    signal.signal(signal.SIGINT, _on_sigint(previous))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def is_own_interrupt(exc: BaseException) -> bool:
    """Whether `exc` must stop the run: a real Ctrl-C, or one of verify's own time budgets running out."""
    from verify.budget import BudgetExceededError

    if isinstance(exc, BudgetExceededError):
        return True
    return isinstance(exc, KeyboardInterrupt) and _INTERRUPTED.is_set()


def from_user_code(exc: BaseException) -> bool:
    """Whether `exc`, caught around user code, is the user code's failure (to be reported) rather than ours."""
    return not is_own_interrupt(exc) and not isinstance(exc, GeneratorExit)


def describe_exception(exc: BaseException) -> str:
    """The exception as one line, with the innermost frame of user code when there is one."""
    if isinstance(exc, SystemExit):
        code = exc.code if exc.code is None or isinstance(exc.code, (int, str)) else type(exc.code).__name__
        text = f"SystemExit: sys.exit({code!r}) was called"
    else:
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip().replace("\n", " ")
    if len(text) > _MAX_TEXT:
        text = text[:_MAX_TEXT] + f"... ({len(text) - _MAX_TEXT} more characters)"
    stdlib = sysconfig.get_paths()["stdlib"]
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if "site-packages" not in f.filename and not f.filename.startswith(("<", stdlib))
              and "/verify/" not in f.filename.replace(os.sep, "/")]
    if frames:
        last = frames[-1]
        text += f" (at {last.filename}:{last.lineno})"
    return text


def load_impl(spec: str, where: Location | None, case_dir: str | None = None) -> Callable[..., Any]:
    """Imports `module:attr.path` with the working directory (then the case file's folder) on sys.path.

    Raises EngineError naming the case file location when the import or the lookup fails, and
    NoImplError when VERIFY_NO_IMPL is set (a safety net: with --no-impl the runner never asks).
    Anything the import raises, SystemExit and KeyboardInterrupt included, is reported.
    """
    if no_impl_from_env():
        raise NoImplError(f"{where}: impl {spec!r} not imported: VERIFY_NO_IMPL is set")
    if spec in _RESOLVED:  # a callable handed to the Python API: already imported
        return _RESOLVED[spec]
    module_name, _, attribute = spec.partition(":")
    search = [os.getcwd()] + ([case_dir] if case_dir and case_dir != os.getcwd() else [])
    added = [p for p in search if p not in sys.path]
    sys.path[:0] = added
    try:
        module = importlib.import_module(module_name)
    except BaseException as exc:  # noqa: BLE001 - any failure of user code is reported, sys.exit() included
        if not from_user_code(exc):
            raise
        raise EngineError(f"{where}: impl {spec!r}: cannot import {module_name!r}: {describe_exception(exc)} "
                          f"(searched {' and '.join(search)})") from None
    finally:
        for path in added:
            if path in sys.path:
                sys.path.remove(path)
    target: Any = module
    for part in attribute.split("."):
        try:
            found = hasattr(target, part)
            target = getattr(target, part) if found else target
        except BaseException as exc:  # noqa: BLE001 - a module __getattr__ is user code too
            if not from_user_code(exc):
                raise
            raise EngineError(f"{where}: impl {spec!r}: looking up {part!r} raised {describe_exception(exc)}") from None
        if not found:
            available = sorted(n for n in dir(target) if not n.startswith("_"))[:12]
            raise EngineError(f"{where}: impl {spec!r}: {module_name} has no attribute {part!r} "
                              f"(it has: {', '.join(available)})")
    if not callable(target):
        raise EngineError(f"{where}: impl {spec!r} is a {type(target).__name__}, not a callable")
    return target  # type: ignore[no-any-return]


_RESOLVED: dict[str, Callable[..., Any]] = {}


@contextmanager
def resolved_impls(callables: Mapping[str, Callable[..., Any]]) -> Iterator[None]:
    """While active, `load_impl(spec)` returns `callables[spec]` without importing anything.

    The Python API passes callables this way: a case dict's `impl` may be a function, which the
    API names with a `module:callable` spec (see `verify.api`).
    """
    taken = {spec for spec in callables if spec in _RESOLVED and _RESOLVED[spec] is not callables[spec]}
    if taken:
        raise EngineError(f"impl {sorted(taken)[0]!r} is already in use by another running check")
    added = [spec for spec in callables if spec not in _RESOLVED]
    _RESOLVED.update(callables)
    try:
        yield
    finally:
        for spec in added:
            _RESOLVED.pop(spec, None)


def case_directory(file: str) -> str:
    """The folder of a case file, for impls that live next to it."""
    return str(Path(file).resolve().parent)
