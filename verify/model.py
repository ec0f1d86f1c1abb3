"""Case -> Model: every function compiled to exact SymPy entries over its own argument symbols."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import sympy

from verify.case import DENSE_ENTRIES, Case, CheckSpec, FunctionSpec, Nested, VariableSpec, checks_of, in_vector_form
from verify.errors import CaseError
from verify.expr import Callee, CallTree, Source, compile_call_tree, compile_expression, shape_text

if TYPE_CHECKING:
    from verify.tensor import Graph

__all__ = ["CompiledFunction", "ImplCall", "Model", "build_model", "derivative_shape", "symbols_for"]


def symbols_for(spec: VariableSpec) -> np.ndarray:
    """The real SymPy symbols of a variable: `x`, or `v[0]`, `A[1, 2]` for its entries."""
    out = np.empty(spec.shape, dtype=object)
    for index in np.ndindex(*spec.shape):
        label = spec.name if not spec.shape else f"{spec.name}[{', '.join(map(str, index))}]"
        out[index] = sympy.Symbol(label, real=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True)
class ImplCall:
    """A call of a function that has an `impl`, kept opaque for the torch engine."""

    function: str
    args: tuple[np.ndarray, ...]
    result: np.ndarray  # fresh symbols standing for the call's result


@dataclass(frozen=True)
class CompiledFunction:
    """A declared function: arguments, their symbols, and its exact value as SymPy entries."""

    name: str
    args: tuple[VariableSpec, ...]
    symbols: tuple[np.ndarray, ...]
    entries: np.ndarray
    spec: FunctionSpec
    call_tree: CallTree | None = None
    impl_calls: tuple[ImplCall, ...] = ()
    lowered_entries: np.ndarray | None = None  # entries over args and impl-call results
    graph: Graph | None = None  # the vector form; set for large functions, whose entries are not expanded

    @property
    def large(self) -> bool:
        """An argument above DENSE_ENTRIES entries: no SymPy entries, only value and probe checks."""
        return self.graph is not None

    @property
    def out_shape(self) -> tuple[int, ...]:
        if self.graph is not None:
            return tuple(self.graph.output.shape)
        return tuple(self.entries.shape)

    @property
    def flat_symbols(self) -> list[sympy.Symbol]:
        if self.graph is not None:
            raise TypeError(f"{self.name} is a large-tensor function: it has no expanded symbols")
        return [s for block in self.symbols for s in block.reshape(-1)]

    @property
    def n_inputs(self) -> int:
        return sum(math.prod(a.shape) for a in self.args)

    @property
    def n_outputs(self) -> int:
        return math.prod(self.out_shape)

    @property
    def impl(self) -> str | None:
        return self.spec.impl

    def signature(self) -> str:
        parts = [a.name if not a.shape else f"{a.name}{list(a.shape)}" for a in self.args]
        return f"{self.name}({', '.join(parts)}) -> {shape_text(self.out_shape)}"

    def input_labels(self) -> list[str]:
        if self.graph is not None:
            return [a.name if not a.shape else f"{a.name}[{', '.join(map(str, i))}]"
                    for a in self.args for i in np.ndindex(*a.shape)]
        return [str(s) for s in self.flat_symbols]

    def output_labels(self) -> list[str]:
        if not self.out_shape:
            return [self.name]
        return [f"{self.name}[{', '.join(map(str, i))}]" for i in np.ndindex(*self.out_shape)]


@dataclass(frozen=True)
class Model:
    """A compiled case: its functions by name in declared order, and each check's compiled `expect`."""

    case: Case
    functions: Mapping[str, CompiledFunction]
    checks: tuple[CheckSpec, ...]
    expects: Mapping[int, np.ndarray]  # check index -> claim, shaped like the derivative
    expect_points: Mapping[int, tuple[dict[sympy.Symbol, sympy.Expr], ...]]  # check index -> its exact `at` points

    def has_impl(self) -> bool:
        return any(f.impl for f in self.functions.values())


def _compile_nested(nested: Nested, compile_one: Callable[[Source], np.ndarray]) -> np.ndarray:
    if isinstance(nested, Source):
        return compile_one(nested)
    parts = [_compile_nested(item, compile_one) for item in nested]
    shapes = {p.shape for p in parts}
    if len(shapes) != 1:
        first = nested[0]
        where = first.where if isinstance(first, Source) else None
        listed = ", ".join(shape_text(p.shape) for p in parts)
        raise CaseError(where, f"the entries of a list expression have different shapes: {listed}",
                        "every entry of a list must have the same shape (usually scalars)")
    return np.stack(parts)


def _first_source(nested: Nested) -> Source:
    while not isinstance(nested, Source):
        nested = nested[0]
    return nested


def _callee(function: CompiledFunction) -> Callee:
    if function.large:
        def refuse(values: list[np.ndarray]) -> np.ndarray:
            raise CaseError(function.spec.where, f"{function.name} takes large tensors: it can be called only from "
                            "functions of large tensors", "give the calling function a large argument too, or "
                            "check the large function with probe checks (jvp, vjp, hvp)")

        return Callee(function.name, [a.name for a in function.args], [a.shape for a in function.args], refuse)
    flat = function.flat_symbols

    def apply(values: list[np.ndarray]) -> np.ndarray:
        mapping = dict(zip(flat, (v for value in values for v in value.reshape(-1))))
        out = np.empty(function.entries.shape, dtype=object)
        for index in np.ndindex(*function.entries.shape):
            out[index] = sympy.sympify(function.entries[index]).xreplace(mapping)
        return out

    return Callee(function.name, [a.name for a in function.args], [a.shape for a in function.args], apply)


def _compile_function(spec: FunctionSpec, case: Case, position: int, callees: Mapping[str, Callee],
                      compiled: Mapping[str, CompiledFunction]) -> CompiledFunction:
    args = spec.args if spec.args is not None else case.variables
    if in_vector_form(case, spec, checks_of(case)):
        from verify.tensor import function_graph

        empty = np.empty((0,), dtype=object)
        return CompiledFunction(spec.name, tuple(args), tuple(empty for _ in args), empty, spec,
                                graph=function_graph(case, spec.name))
    symbols = tuple(symbols_for(a) for a in args)
    later = {f.name: f.where.line for f in case.functions[position:]}
    names = _bound_names(spec, case, {a.name: s for a, s in zip(args, symbols)}, callees, later)
    entries = _compile_nested(spec.expr, lambda source: compile_expression(source, names, callees, later))
    entries.flags.writeable = False
    call_tree = compile_call_tree(spec.expr, names, callees) if isinstance(spec.expr, Source) else None
    impl_names = {f.name for f in case.functions if f.impl}
    impl_calls: list[ImplCall] = []
    lowered = None
    if impl_names & set(callees):
        def keep_impl_calls(callee: Callee, values: list[np.ndarray]) -> np.ndarray | None:
            if callee.name not in impl_names:
                return None
            out_shape = compiled[callee.name].out_shape
            result = np.empty(out_shape, dtype=object)
            for index in np.ndindex(*out_shape):
                result[index] = sympy.Dummy(f"{callee.name}_{len(impl_calls)}", real=True)
            impl_calls.append(ImplCall(callee.name, tuple(values), result))
            return result

        hooked = _bound_names(spec, case, {a.name: s for a, s in zip(args, symbols)}, callees, later, keep_impl_calls)
        lowered = _compile_nested(
            spec.expr, lambda source: compile_expression(source, hooked, callees, later, call_hook=keep_impl_calls))
    return CompiledFunction(spec.name, tuple(args), symbols, entries, spec, call_tree, tuple(impl_calls), lowered)


def constant_names(case: Case) -> dict[str, np.ndarray]:
    """The case's named constants as exact SymPy numbers."""
    out = {}
    for constant in case.constants:
        value = np.empty((), dtype=object)
        exact = sympy.Rational(repr(constant.value)) if isinstance(constant.value, float) else sympy.Integer(constant.value)
        value[()] = exact
        out[constant.name] = value
    return out


def _bound_names(spec: FunctionSpec, case: Case, arguments: dict[str, np.ndarray], callees: Mapping[str, Callee],
                 later: Mapping[str, int], call_hook: Callable[..., np.ndarray | None] | None = None
                 ) -> dict[str, np.ndarray]:
    """The names an expression of `spec` sees: its arguments, the case's constants, then its `let` bindings in order."""
    names = {**constant_names(case), **arguments}
    for name, source in spec.let:
        names[name] = compile_expression(source, names, callees, later, call_hook=call_hook)
    return names


def build_model(case: Case) -> Model:
    """Compiles every function of `case`; raises CaseError with file:line:col on the first problem."""
    compiled: dict[str, CompiledFunction] = {}
    callees: dict[str, Callee] = {}
    for position, spec in enumerate(case.functions):
        function = _compile_function(spec, case, position, callees, compiled)
        compiled[spec.name] = function
        callees[spec.name] = _callee(function)
    checks = checks_of(case)
    _check_targets(checks, compiled)
    expects = {
        i: _compile_expect(check, compiled[check.target], callees, constant_names(case))
        for i, check in enumerate(checks) if check.expect is not None
    }
    expect_points = {i: _exact_points(check, compiled[check.target]) for i, check in enumerate(checks) if check.at}
    return Model(case, compiled, checks, expects, expect_points)


def _exact_number(raw: object, where: object) -> sympy.Expr:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise CaseError(where, f"point value {raw!r} is not a finite number", "e.g. at: {x: 1.5}")  # type: ignore[arg-type]
    return sympy.Integer(raw) if isinstance(raw, int) else sympy.Rational(repr(raw))


def _exact_points(check: CheckSpec, function: CompiledFunction) -> tuple[dict[sympy.Symbol, sympy.Expr], ...]:
    """The check's `at` points as exact rationals for the function's argument symbols."""
    out = []
    for point in check.at:
        exact: dict[sympy.Symbol, sympy.Expr] = {}
        for name in point:
            if all(a.name != name for a in function.args):
                raise CaseError(point[name][1], f"point gives {name!r}, which is not an argument of {function.signature()}",
                                f"give values for {', '.join(a.name for a in function.args)}")
        for arg, symbols in zip(function.args, function.symbols):
            if arg.name not in point:
                raise CaseError(check.where, f"a point of `at` gives no value for {arg.name!r}",
                                f"{function.signature()} needs every argument")
            raw, where = point[arg.name]
            values = np.array(raw, dtype=object)
            if values.shape != arg.shape:
                raise CaseError(where, f"point value for {arg.name!r} has shape {shape_text(values.shape)}, "
                                f"but {arg.name} has shape {shape_text(arg.shape)}", "e.g. {v: [3, -4]} for shape [2]")
            for symbol, value in zip(symbols.reshape(-1), values.reshape(-1)):
                exact[symbol] = _exact_number(value, where)
        out.append(exact)
    return tuple(out)


def derivative_shape(kind: str, function: CompiledFunction) -> tuple[int, ...]:
    """The canonical shape of what a check of `kind` compares (outputs x inputs for Jacobians)."""
    if kind == "value":
        return function.out_shape
    if kind == "gradient":
        return (function.n_inputs,)
    if kind == "hessian":  # of each output entry, for a vector- or matrix-valued function
        square = (function.n_inputs, function.n_inputs)
        return square if not function.out_shape else (function.n_outputs, *square)
    return (function.n_outputs, function.n_inputs)


def _compile_expect(check: CheckSpec, function: CompiledFunction, callees: Mapping[str, Callee],
                    constants: Mapping[str, np.ndarray]) -> np.ndarray:
    names = {**constants, **{a.name: s for a, s in zip(function.args, function.symbols)}}
    assert check.expect is not None
    claim = _compile_nested(check.expect, lambda source: compile_expression(source, names, callees))
    shape = derivative_shape(check.kind, function)
    accepted = [shape]
    if len(function.args) == 1 and check.kind in ("jacobian", "chain_rule", "gradient"):
        accepted.append(function.out_shape + function.args[0].shape)  # d f / d v shaped like f and v
    squeeze = tuple(d for d in shape if d != 1)
    if claim.shape in accepted or tuple(d for d in claim.shape if d != 1) == squeeze:
        return claim.reshape(shape)
    first = _first_source(check.expect)
    wanted = " or ".join(shape_text(s) for s in accepted)
    raise CaseError(first.where, f"expect for {check.kind} of {function.name} has shape {shape_text(claim.shape)}, "
                    f"but the derivative has shape {wanted}",
                    f"{function.signature()}: write {'one string' if math.prod(shape) == 1 else 'nested lists'} "
                    "shaped like the derivative (rows: outputs, columns: inputs)")


def _check_targets(checks: tuple[CheckSpec, ...], functions: Mapping[str, CompiledFunction]) -> None:
    for check in checks:
        function = functions[check.target]
        if function.large and check.kind not in ("value", "jvp", "vjp", "hvp") and not check.probed:
            raise CaseError(check.where, f"{check.kind}: {check.target} takes more than {DENSE_ENTRIES:,} entries "
                            "in one argument, too many for a dense derivative",
                            f"use probe checks, which never form the Jacobian: - jvp: {check.target}, "
                            f"- vjp: {check.target}" + (f", - hvp: {check.target}" if not function.out_shape else ""))
        if check.kind == "hvp" and function.out_shape:
            raise CaseError(check.where, f"hvp: {check.target} is not scalar: it returns shape "
                            f"{shape_text(function.out_shape)}", f"use jvp or vjp on {check.target}, or hvp on a scalar "
                            "function")
        if check.kind == "gradient" and function.out_shape:
            raise CaseError(check.where, f"{check.kind}: {check.target} is not scalar: it returns shape "
                            f"{shape_text(function.out_shape)}", f"use jacobian: {check.target}, "
                            "or check a scalar function")
        if check.kind == "chain_rule" and function.call_tree is None and not check.probed:
            first = _first_source(function.spec.expr)
            raise CaseError(check.where, f"chain_rule: {check.target} is not a composition: its expression "
                            f"{first.text.strip()!r} is not a call of a declared function",
                            f"define it as a call, e.g. {check.target}: F(G(x, y))")
