"""Helpers shared by the property tests: reading result rows, and sentinels that record code execution."""

from __future__ import annotations

import ast
import builtins
import dataclasses
import math
import os
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from verify.run import Result

TIMING_FIELDS = frozenset({"symbolic_s", "reference_s", "autograd_s"})


def problems(rows: Sequence[Result]) -> list[str]:
    """The fail and error rows, one line each, for an assertion message."""
    return [f"{r.check} {r.function} [{r.mode}, {r.dtype}] {r.status}: {r.message}"
            for r in rows if r.status in ("fail", "error")]


def comparable(row: Result) -> dict[str, Any]:
    """A row without its timing columns, with nan made comparable (nan != nan)."""
    out = {}
    for f in dataclasses.fields(row):
        if f.name in TIMING_FIELDS:
            continue
        value = getattr(row, f.name)
        out[f.name] = "nan" if isinstance(value, float) and math.isnan(value) else value
    return out


CACHE_NOTE = "derivation read from the cache (checksum and spot check passed)"


def uncached(row: dict[str, Any]) -> dict[str, Any]:
    """A comparable row as a run without the cache writes it: the notes that say what was read back removed."""
    evidence = row["evidence"].removesuffix(" (cached)").removesuffix(" (cached; evidence at the points re-checked)")
    return {**row, "evidence": "; ".join(n for n in evidence.split("; ") if n != CACHE_NOTE)}


# -- sentinels -----------------------------------------------------------------------------------

def _find_bindings(target: object) -> list[tuple[object, str]]:
    """Every (module, attribute) bound to `target`, across the loaded modules."""
    found = []
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for name, value in list(namespace.items()):
            if value is target:
                found.append((module, name))
    return found


class Sentinels:
    """Records every call that could run text as code while installed with `install(monkeypatch)`.

    builtins.eval, exec and os.system / os.popen are replaced by recorders that run nothing (exec of
    a code object, which is how the import system runs a module, is recorded and passed on: a code
    object can only come from text through compile, which is recorded); builtins.compile records
    calls in any mode but ast parsing and passes them on; sympify and
    parse_expr (wherever they are bound: sympy, sympy.core.sympify, every module that imported
    them, and sympy.S(...)) record string arguments and pass the call on.
    """

    def __init__(self) -> None:
        import sympy
        from sympy.parsing import sympy_parser

        sympify_module = sys.modules["sympy.core.sympify"]  # the attribute sympy.core.sympify is the function

        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._sympify = sympify_module.sympify
        self._parse_expr = sympy_parser.parse_expr
        self._singleton = type(sympy.S)
        self._bindings = [(m, n, self._sympify) for m, n in _find_bindings(self._sympify)]
        self._bindings += [(m, n, self._parse_expr) for m, n in _find_bindings(self._parse_expr)]
        assert any(m is sympy for m, _, _ in self._bindings), "sympy.sympify was not found"
        assert any(m is sympify_module for m, _, _ in self._bindings), "sympy.core.sympify.sympify was not found"
        assert any(m is sympy.core for m, _, _ in self._bindings), "sympy.core.sympify (the function) was not found"

    def _recorder(self, name: str) -> Callable[..., None]:
        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args))

        return record

    def _string_recorder(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def record(*args: Any, **kwargs: Any) -> Any:
            if any(isinstance(a, (str, bytes)) for a in (*args, *kwargs.values())):
                self.calls.append((name, args))
            return original(*args, **kwargs)

        return record

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original_compile = builtins.compile

        def compile_(source: Any, filename: Any, mode: str, flags: int = 0, *args: Any, **kwargs: Any) -> Any:
            if not flags & ast.PyCF_ONLY_AST:
                self.calls.append(("compile", (source, filename, mode)))
            return original_compile(source, filename, mode, flags, *args, **kwargs)

        original_exec = builtins.exec

        def exec_(source: Any, *args: Any, **kwargs: Any) -> None:
            self.calls.append(("exec", (source,)))
            if isinstance(source, types.CodeType):
                original_exec(source, *args, **kwargs)

        monkeypatch.setattr(builtins, "eval", self._recorder("eval"))
        monkeypatch.setattr(builtins, "exec", exec_)
        monkeypatch.setattr(builtins, "compile", compile_)
        monkeypatch.setattr(os, "system", self._recorder("os.system"))
        monkeypatch.setattr(os, "popen", self._recorder("os.popen"))
        sympify = self._string_recorder("sympify", self._sympify)
        parse_expr = self._string_recorder("parse_expr", self._parse_expr)
        for module, name, original in self._bindings:
            monkeypatch.setattr(module, name, sympify if original is self._sympify else parse_expr)
        monkeypatch.setattr(self._singleton, "__call__", staticmethod(sympify))

    def text_runs(self) -> list[tuple[str, tuple[Any, ...]]]:
        """The recorded calls that would run or parse text: everything but exec of a code object."""
        return [(name, args) for name, args in self.calls
                if not (name == "exec" and isinstance(args[0], types.CodeType))]
