"""Importing the implementations under test (`impl: package.module:callable`), the one way a case brings in code."""

from __future__ import annotations

import importlib
import os
import sys
import sysconfig
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from verify.errors import EngineError, Location

__all__ = ["describe_exception", "load_impl"]


def describe_exception(exc: BaseException) -> str:
    """The exception as one line, with the innermost frame of user code when there is one."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip().replace("\n", " ")
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

    Raises EngineError naming the case file location when the import or the lookup fails.
    """
    module_name, _, attribute = spec.partition(":")
    search = [os.getcwd()] + ([case_dir] if case_dir and case_dir != os.getcwd() else [])
    added = [p for p in search if p not in sys.path]
    sys.path[:0] = added
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure of user code is reported, not raised
        raise EngineError(f"{where}: impl {spec!r}: cannot import {module_name!r}: {describe_exception(exc)} "
                          f"(searched {' and '.join(search)})") from None
    finally:
        for path in added:
            if path in sys.path:
                sys.path.remove(path)
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            available = sorted(n for n in dir(target) if not n.startswith("_"))[:12]
            raise EngineError(f"{where}: impl {spec!r}: {module_name} has no attribute {part!r} "
                              f"(it has: {', '.join(available)})")
        target = getattr(target, part)
    if not callable(target):
        raise EngineError(f"{where}: impl {spec!r} is a {type(target).__name__}, not a callable")
    return target  # type: ignore[no-any-return]


def case_directory(file: str) -> str:
    """The folder of a case file, for impls that live next to it."""
    return str(Path(file).resolve().parent)
