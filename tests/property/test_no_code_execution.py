"""Property 4: no text of a case file runs as code.

compile_expression either returns SymPy values or raises CaseError (with a location), never another
exception, for hostile text (attacks, random text, valid expressions spliced with attacks, deep
nesting, huge numbers) and valid text alike; and while it runs, nothing evaluates, executes or
compiles text (eval, exec, compile other than ast parsing, os.system), and sympify / parse_expr
never see a string.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, example, given, settings

from verify.errors import CaseError, Location
from verify.expr import Callee, Source, as_array, compile_expression

from .strategies import PAYLOADS, hostile_texts, valid_texts
from .support import Sentinels

WHERE = Location("hostile.yaml", 7, 5)
SYMBOLS = {name: sympy.Symbol(name, real=True) for name in ("x", "y", "z", "u", "v")}
NAMES = {name: as_array(SYMBOLS[name]) for name in ("x", "y", "z")}


def _apply(values: list[np.ndarray]) -> np.ndarray:
    u, v = (value[()] for value in values)
    return as_array(u**2 + sympy.sin(v))


CALLEES = {"F": Callee("F", ["u", "v"], [(), ()], _apply)}


@pytest.fixture(scope="module")
def sentinels() -> Sentinels:
    # Warm up first: a lazy import inside compile_expression should not be mistaken for an attack.
    for text in ("x**2 + sin(y)", "where(x > 0, gamma(2 + x**2), digamma(3))", "F(x, y) + atan2(y, 2)", "1e-3"):
        compile_expression(Source(text, WHERE), NAMES, CALLEES)
    return Sentinels()


def _compile_guarded(text: str, sentinels: Sentinels, monkeypatch: pytest.MonkeyPatch) -> np.ndarray | CaseError:
    sentinels.calls.clear()
    with monkeypatch.context() as patch:
        sentinels.install(patch)
        try:
            value: np.ndarray | CaseError = compile_expression(Source(text, WHERE), NAMES, CALLEES)
        except CaseError as exc:
            value = exc
    runs = sentinels.text_runs()
    assert not runs, f"compiling {text!r} ran or parsed text as code: {runs}"
    return value


def _check_outcome(text: str, value: np.ndarray | CaseError) -> None:
    if isinstance(value, CaseError):
        assert value.where is not None and value.where.file == "hostile.yaml" and value.where.line >= 7, (
            f"{text!r}: the error does not say where: {value}")
        return
    assert isinstance(value, np.ndarray) and value.dtype == object, f"{text!r} gave {value!r}"
    for entry in value.reshape(-1):
        assert isinstance(entry, sympy.Basic), f"{text!r} gave a non-SymPy entry {entry!r}"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(text=hostile_texts())
@example(text="__import__('os').system('echo pwned')")
@example(text="x.__class__.__mro__[1].__subclasses__()")
@example(text="(lambda: __import__('os').system('x'))()")
@example(text="[c for c in ().__class__.__bases__[0].__subclasses__()]")
@example(text="f'{__import__(\"os\").system(\"x\")}'")
@example(text="(q := __import__('os'))")
@example(text="sin(x=__import__('os'))")
@example(text="-" * 6000 + "x")
@example(text="(" * 400 + "x" + ")" * 400)
@example(text="9" * 5000)
def test_hostile_text_never_runs_as_code(text: str, sentinels: Sentinels, monkeypatch: pytest.MonkeyPatch) -> None:
    _check_outcome(text, _compile_guarded(text, sentinels, monkeypatch))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(text=valid_texts())
def test_valid_text_compiles_without_running_code(text: str, sentinels: Sentinels,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    value = _compile_guarded(text, sentinels, monkeypatch)
    assert not isinstance(value, CaseError), f"valid {text!r} was rejected: {value}"
    _check_outcome(text, value)
    assert value.shape == ()


@pytest.mark.parametrize("text", PAYLOADS)
def test_every_listed_payload(text: str, sentinels: Sentinels, monkeypatch: pytest.MonkeyPatch) -> None:
    _check_outcome(text, _compile_guarded(text, sentinels, monkeypatch))


def test_the_sentinels_see_eval_and_string_sympify(sentinels: Sentinels, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sentinels themselves work: eval, exec of text, sympify of a string and os.system are all recorded."""
    import builtins
    import os
    import sys

    sentinels.calls.clear()
    with monkeypatch.context() as patch:
        sentinels.install(patch)
        builtins.eval("1 + 1")
        builtins.exec("q = 1")
        os.system("true")
        sympy.sympify("x + 1")
        sys.modules["sympy.core.sympify"].sympify("x + 2")
        sympy.core.sympify("x + 2")
        sympy.S("x + 3")
    names = [name for name, _ in sentinels.text_runs()]
    assert names.count("eval") >= 1 and "exec" in names and "os.system" in names
    assert names.count("sympify") >= 4 and "parse_expr" in names, names
