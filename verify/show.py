"""`python -m verify show CASE.yaml`: the derivation of a case, laid out the way a person studies it.

For each function: its definition, its value as SymPy reads it, its Jacobian (and gradient or
Hessian when a check asks), and each `expect` claim with whether it agrees. For each composition:
every stage's Jacobian at the stage's own arguments, the chain-rule product J_F(G(x)) . J_G(x)
with each factor substituted, the product, its simplified form, and the Jacobian derived directly.
Plain text (sympy.pretty) by default; `--latex` prints a LaTeX snippet (amsmath) instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from verify.errors import CaseError, UsageError

if TYPE_CHECKING:
    import numpy as np

    from verify.case import Case, CheckSpec, Nested
    from verify.engines.symbolic import SymbolicEngine
    from verify.expr import CallTree
    from verify.model import CompiledFunction, Model
    from verify.proof import Verdict

__all__ = ["case_text", "main"]

_MAX_MATRIX_ENTRIES = 64  # larger derivatives are listed entry by entry
_MAX_WIDTH = 160  # ... and so are matrices wider than this many characters


# -- printers ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Label:
    """A mathematical label in both notations, e.g. J_F(G(x, y)) and J_{F}(G(x, y))."""

    plain: str
    latex: str


class _Printer:
    """Receives the derivation piece by piece; the subclasses lay it out."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def title(self, text: str, lines: Sequence[str]) -> None:
        raise NotImplementedError

    def section(self, text: str) -> None:
        raise NotImplementedError

    def text(self, text: str) -> None:
        raise NotImplementedError

    def math(self, label: Label | None, value: Any, labels: tuple[list[str], list[str]] | None = None,
             text: str | None = None) -> None:
        """`label = value`; `value` a SymPy expression, a Matrix, or a list of Matrices (a product).

        `labels`: the names of the rows and columns, for large matrices listed entry by entry;
        `text`: the value on one line, as `expect` would write it (default: from the Matrix).
        """
        raise NotImplementedError

    def claim(self, header: str, source: str, value: Any) -> None:
        """An `expect` claim: where it is written, its text, and its value as verify reads it."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _too_large(matrix: Any) -> bool:
    return matrix.rows * matrix.cols > _MAX_MATRIX_ENTRIES


class _PlainPrinter(_Printer):
    def title(self, text: str, lines: Sequence[str]) -> None:
        self.out.write(f"{text}\n{'=' * len(text)}\n")
        for line in lines:
            self.out.write(f"{line}\n")

    def section(self, text: str) -> None:
        self.out.write(f"\n-- {text} {'-' * max(3, 76 - len(text))}\n")

    def text(self, text: str) -> None:
        self.out.write(f"  {text}\n")

    def math(self, label: Label | None, value: Any, labels: tuple[list[str], list[str]] | None = None,
             text: str | None = None) -> None:
        import sympy

        if label is not None:
            self.out.write(f"  {label.plain} =\n")
        factors = value if isinstance(value, list) else [value]
        if any(isinstance(f, sympy.MatrixBase) and _too_large(f) for f in factors):
            self._entries(factors, labels)
            return
        shown = sympy.MatMul(*factors, evaluate=False) if len(factors) > 1 else factors[0]
        art = sympy.pretty(shown, wrap_line=False)
        if max(len(line) for line in art.splitlines()) > _MAX_WIDTH:
            self._entries(factors, labels)
            return
        for line in art.splitlines():
            self.out.write(f"      {line}".rstrip() + "\n")
        if len(factors) == 1 and isinstance(shown, sympy.MatrixBase):
            self.out.write(f"    = {text or _one_line(shown)}\n")
        elif len(factors) == 1 and isinstance(shown, sympy.Basic) and shown.has(sympy.Piecewise, sympy.Heaviside):
            self.out.write(f"    = {text or case_text(shown)}\n")  # as a case file writes it

    def claim(self, header: str, source: str, value: Any) -> None:
        self.text(f"{header}: {source}")

    def _entries(self, factors: list[Any], labels: tuple[list[str], list[str]] | None) -> None:
        import sympy

        for number, factor in enumerate(factors, start=1):
            if len(factors) > 1:
                self.out.write(f"    factor {number} ({factor.rows} x {factor.cols}), entry by entry:\n")
            if not isinstance(factor, sympy.MatrixBase):
                self.out.write(f"      {case_text(factor)}\n")
                continue
            zeros = sum(1 for e in factor if e == 0)
            if zeros:
                self.out.write(f"      ({zeros} of {factor.rows * factor.cols} entries are 0 and not listed)\n")
            for i in range(factor.rows):
                for j in range(factor.cols):
                    if factor[i, j] == 0:
                        continue
                    where = f"[{i}, {j}]" if factor.cols > 1 else f"[{i}]"
                    if labels is not None and len(factors) == 1 and i < len(labels[0]) and j < len(labels[1]):
                        where += f" d {labels[0][i]} / d {labels[1][j]}" if factor.cols > 1 else f" {labels[0][i]}"
                    self.out.write(f"      {where}: {case_text(factor[i, j])}\n")

    def close(self) -> None:
        self.out.flush()


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex_text(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


def _symbol_names(symbols: Sequence[Any]) -> dict[Any, str]:
    """LaTeX names of the entries of shaped variables: v[0] -> v_{0}, A[1, 2] -> A_{1,2}."""
    import sympy

    names = {}
    for symbol in symbols:
        base, bracket, index = str(symbol).partition("[")
        if bracket:
            names[symbol] = f"{sympy.latex(sympy.Symbol(base))}_{{{index.rstrip(']').replace(' ', '')}}}"
    return names


def _tex_math(value: Any, names: dict[Any, str] | None = None) -> str:
    """LaTeX of an expression or matrix; amsmath's matrix holds at most 10 columns, wider ones use array."""
    import sympy

    if isinstance(value, sympy.MatrixBase) and value.cols > 10:
        return str(sympy.latex(value, mat_str="array", symbol_names=names or {}))
    return str(sympy.latex(value, symbol_names=names or {}))


class _LatexPrinter(_Printer):
    """A snippet for a document that loads amsmath: one \\[ \\begin{aligned} ... \\end{aligned} \\] per section."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        self.rows: list[str] = []
        self.names: dict[Any, str] = {}  # LaTeX names of symbols, set per case

    def title(self, text: str, lines: Sequence[str]) -> None:
        self.out.write(f"% {text}\n% needs \\usepackage{{amsmath}}\n")
        for line in lines:
            self.out.write(f"% {line}\n")

    def _flush(self) -> None:
        if self.rows:
            body = " \\\\\n".join(self.rows)
            self.out.write(f"\\[\n\\begin{{aligned}}\n{body}\n\\end{{aligned}}\n\\]\n")
            self.rows = []

    def section(self, text: str) -> None:
        self._flush()
        self.out.write(f"\n% {text}\n")
        self.rows.append(f"&\\textbf{{{_tex_text(text)}}}")

    def text(self, text: str) -> None:
        self.rows.append(f"&\\text{{{_tex_text(text)}}}")

    def math(self, label: Label | None, value: Any, labels: tuple[list[str], list[str]] | None = None,
             text: str | None = None) -> None:
        import sympy

        left = label.latex if label is not None else ""
        factors = value if isinstance(value, list) else [value]
        if len(factors) == 1 and isinstance(factors[0], sympy.MatrixBase) and _too_large(factors[0]):
            matrix = factors[0]
            zeros = sum(1 for e in matrix if e == 0)
            self.rows.append(f"{left} &= \\text{{a {matrix.rows} x {matrix.cols} matrix, entry by entry"
                             f"{f' ({zeros} zero entries not listed)' if zeros else ''}:}}")
            for i in range(matrix.rows):
                for j in range(matrix.cols):
                    if matrix[i, j] == 0:
                        continue
                    name = f"[{i}, {j}]" if matrix.cols > 1 else f"[{i}]"
                    if labels is not None and i < len(labels[0]) and j < len(labels[1]):
                        name += f" d {labels[0][i]} / d {labels[1][j]}"
                    self.rows.append(f"\\text{{{_tex_text(name)}}} &= {_tex_math(matrix[i, j], self.names)}")
            return
        rhs = " \\cdot ".join(_tex_math(f, self.names) for f in factors)
        self.rows.append(f"{left} &= {rhs}")

    def claim(self, header: str, source: str, value: Any) -> None:
        self.text(f"{header}:")
        self.math(None, value)

    def close(self) -> None:
        self._flush()
        self.out.flush()


# -- text of definitions and calls ---------------------------------------------------------------

def _source_text(nested: Nested) -> str:
    from verify.source import Source

    if isinstance(nested, Source):
        return " ".join(nested.text.split())
    return "[" + ", ".join(_source_text(item) for item in nested) + "]"


_CASE_PRINTER: Any = None


def case_text(value: Any) -> str:
    """A SymPy expression in the case language: Piecewise as where(...), Abs as abs, Max as max, ...

    Heaviside (the derivative of relu, abs and max) becomes where(x > 0, 1, where(x < 0, 0, H0)).
    Conditions joined by and, or and not become nested where(...) (a chain a < b < c stays one).
    """
    global _CASE_PRINTER
    if _CASE_PRINTER is None:
        _CASE_PRINTER = _case_printer()
    return str(_CASE_PRINTER.doprint(value))


def _case_printer() -> Any:
    import sympy
    from sympy.printing.str import StrPrinter

    less = {"<": "<", "<=": "<=", ">": "<", ">=": "<="}

    class CasePrinter(StrPrinter):
        def _print_Abs(self, expr: Any) -> str:
            return f"abs({self._print(expr.args[0])})"

        def _print_Max(self, expr: Any) -> str:
            return f"max({', '.join(self._print(a) for a in expr.args)})"

        def _print_Min(self, expr: Any) -> str:
            return f"min({', '.join(self._print(a) for a in expr.args)})"

        def _print_loggamma(self, expr: Any) -> str:
            return f"lgamma({self._print(expr.args[0])})"

        def _print_round_half_even(self, expr: Any) -> str:
            return f"round({self._print(expr.args[0])})"

        def _print_besseli(self, expr: Any) -> str:
            order, x = expr.args
            if order in (0, 1):
                return f"i{order}({self._print(x)})"
            return super()._print_Function(expr)  # type: ignore[no-any-return]

        def _print_Heaviside(self, expr: Any) -> str:
            x = expr.args[0]
            at_zero = expr.args[1] if len(expr.args) > 1 else sympy.S.Half
            return self.where(x > 0, "1", self.where(x < 0, "0", self._print(at_zero)))

        def _print_Relational(self, expr: Any) -> str:
            op = {"==": "==", "!=": "!="}.get(expr.rel_op, expr.rel_op)
            return f"{self._print(expr.lhs)} {op} {self._print(expr.rhs)}"

        def _print_Piecewise(self, expr: Any) -> str:
            pieces = list(expr.args)
            tail = "nan"  # no piece applies: undefined
            if pieces and pieces[-1].cond == sympy.true:
                tail = self._print(pieces.pop().expr)
            text = tail
            for piece in reversed(pieces):
                text = self.where(piece.cond, self._print(piece.expr), text)
            return text

        def where(self, condition: Any, a: str, b: str) -> str:
            if condition == sympy.true:
                return a
            if condition == sympy.false:
                return b
            if isinstance(condition, sympy.And):
                chain = self.chain(condition.args)
                if chain is not None:
                    return f"where({chain}, {a}, {b})"
                for part in reversed(condition.args):
                    a = self.where(part, a, b)
                return a
            if isinstance(condition, sympy.Or):
                for part in reversed(condition.args):
                    b = self.where(part, a, b)
                return b
            if isinstance(condition, sympy.Not):
                return self.where(condition.args[0], b, a)
            return f"where({self._print(condition)}, {a}, {b})"

        def chain(self, parts: tuple[Any, ...]) -> str | None:
            """`lo < mid < hi` for two inequalities that share their middle term, else None."""
            if len(parts) != 2 or not all(getattr(p, "rel_op", None) in less for p in parts):
                return None
            ordered = [(p.lhs, less[p.rel_op], p.rhs) if p.rel_op in ("<", "<=") else (p.rhs, less[p.rel_op], p.lhs)
                       for p in parts]
            for (lo, op1, mid), (mid2, op2, hi) in (ordered, ordered[::-1]):
                if mid == mid2:
                    return f"{self._print(lo)} {op1} {self._print(mid)} {op2} {self._print(hi)}"
            return None

    return CasePrinter()


def _array_text(array: Any) -> str:
    """An object array as nested lists, the way `expect` is written."""
    import numpy as np

    if not isinstance(array, np.ndarray):
        return case_text(array)
    if array.ndim == 0:
        return case_text(array.reshape(-1)[0])
    return "[" + ", ".join(_array_text(item) for item in array) + "]"


def _one_line(value: Any) -> str:
    """A Matrix as nested lists of rows, the way `expect` writes a Jacobian."""
    import sympy

    if isinstance(value, sympy.MatrixBase):
        return "[" + ", ".join("[" + ", ".join(case_text(value[i, j]) for j in range(value.cols)) + "]"
                               for i in range(value.rows)) + "]"
    return case_text(value)


def _tex_name(name: str) -> str:
    return name if len(name) == 1 else f"\\operatorname{{{_tex_text(name)}}}"


def _arguments(function: CompiledFunction, latex: bool) -> str:
    names = [(_tex_name(a.name) if latex else a.name) for a in function.args]
    return ", ".join(names)


def _call_text(part: CallTree | np.ndarray, function: CompiledFunction, latex: bool) -> str:
    """How a stage's input reads: G(x, y), v, 2*y, or a list of expressions."""
    import sympy

    from verify.expr import CallTree

    if isinstance(part, CallTree):
        inner = ", ".join(_call_text(p, function, latex) for p in part.parts)
        return f"{_tex_name(part.callee) if latex else part.callee}({inner})"
    for arg, block in zip(function.args, function.symbols):
        if block.shape == part.shape and all(a == b for a, b in zip(block.reshape(-1), part.reshape(-1))):
            return _tex_name(arg.name) if latex else arg.name
    if part.shape == ():
        entry = part.reshape(-1)[0]
        return _tex_math(entry, _symbol_names(function.flat_symbols)) if latex else case_text(entry)
    column = sympy.Matrix(part.reshape(-1))
    return _tex_math(column, _symbol_names(function.flat_symbols)) if latex else _array_text(part)


@dataclass(frozen=True)
class _Factor:
    """One factor of a chain-rule product; `stage` is the function whose Jacobian it is, if any."""

    label: Label
    matrix: Any
    stage: CompiledFunction | None = None


def _jacobian_label(name: str, at_plain: str, at_latex: str) -> Label:
    return Label(f"J_{name}({at_plain})", f"J_{{{_tex_name(name)}}}({at_latex})")


# -- the derivation ---------------------------------------------------------------------------

def _matrix(array: np.ndarray) -> Any:
    """An object array as a SymPy Matrix: 2-D as is, anything else as a column."""
    import sympy

    if array.ndim == 2:
        return sympy.ImmutableMatrix(array.tolist())
    return sympy.ImmutableMatrix([[e] for e in array.reshape(-1)])


def _value(function: CompiledFunction) -> Any:
    if function.out_shape == ():
        return function.entries.reshape(-1)[0]
    return _matrix(function.entries)


def _substitute(array: np.ndarray, mapping: dict[Any, Any]) -> np.ndarray:
    import numpy as np
    import sympy

    out = np.empty(array.shape, dtype=object)
    for index in np.ndindex(*array.shape):
        out[index] = sympy.sympify(array[index]).xreplace(mapping)
    return out


def _simplify(array: np.ndarray, budget_s: float) -> tuple[np.ndarray, str]:
    """Each entry simplified (the shorter of `simplify` and `expand`), within one time budget for all."""
    import numpy as np
    import sympy

    from verify.budget import BudgetExceededError, time_budget

    out = np.array(array, dtype=object)
    if budget_s == 0:
        return out, "not simplified: --simplify-budget is 0"
    done = 0
    budget = None
    try:
        with time_budget(budget_s) as budget:
            for index in np.ndindex(*array.shape):
                entry = sympy.sympify(array[index])
                candidates = [entry, sympy.simplify(entry), sympy.expand(entry)]
                out[index] = min(candidates, key=lambda e: (sympy.count_ops(e), len(str(e))))
                done += 1
    except BudgetExceededError as exc:
        if budget is None or not budget.owns(exc):
            raise
        return out, f"simplification ran out of its {budget_s:g} s budget after {done} of {array.size} entries; " \
                    "the rest are shown unsimplified"
    except (RecursionError, NotImplementedError, TypeError, ValueError, ZeroDivisionError) as exc:
        return out, f"simplification stopped after {done} of {array.size} entries ({type(exc).__name__})"
    return out, ""


def _entry_name(function: CompiledFunction, kind: str, entry: tuple[int, ...]) -> str:
    """What an entry of a derivative is, e.g. `d G[1] / d y`."""
    import math

    inputs, outputs = function.input_labels(), function.output_labels()
    if kind == "value":
        flat = 0
        for size, i in zip(function.out_shape, entry):
            flat = flat * size + i
        return outputs[flat] if math.prod(function.out_shape) > 1 else function.name
    if kind == "gradient":
        return f"d {function.name} / d {inputs[entry[0]]}"
    if kind == "hessian":
        return f"d2 {function.name} / d {inputs[entry[0]]} d {inputs[entry[1]]}"
    return f"d {outputs[entry[0]]} / d {inputs[entry[1]]}"


def _verdict_text(verdict: Verdict, function: CompiledFunction, kind: str, left: str, right: str) -> str:
    if verdict.equal:
        return f"{left} and {right} agree: {verdict.evidence}"
    example = verdict.counterexample
    if example is None:
        return f"{left} and {right}: not decided ({verdict.evidence})"
    entry = ", ".join(map(str, example.entry))
    return (f"{left} and {right} DISAGREE at entry [{entry}] ({_entry_name(function, kind, example.entry)}): "
            f"{left} {example.left_expr}, {right} {example.right_expr}; at {example.point_text()} they are "
            f"{example.left_value} and {example.right_value}")


class _Show:
    """Lays out the derivation of one compiled case through a printer."""

    def __init__(self, model: Model, printer: _Printer, proof_budget_s: float, simplify_budget_s: float) -> None:
        from verify.engines.symbolic import SymbolicEngine

        self.model = model
        self.case: Case = model.case
        self.engine: SymbolicEngine = SymbolicEngine(model)
        self.printer = printer
        if isinstance(printer, _LatexPrinter):
            printer.names = _symbol_names([s for f in model.functions.values() for s in f.flat_symbols])
        self.proof_budget_s = proof_budget_s
        self.simplify_budget_s = simplify_budget_s

    def domains(self, function: CompiledFunction) -> dict[Any, tuple[float, float]]:
        return {s: (a.low, a.high) for a, block in zip(function.args, function.symbols) for s in block.reshape(-1)}

    def decide(self, left: np.ndarray, right: np.ndarray, function: CompiledFunction) -> Verdict:
        from verify.proof import decide_equal

        return decide_equal(left, right, function.flat_symbols, self.domains(function), self.proof_budget_s,
                            seed=self.case.seed)

    def header(self) -> None:
        case = self.case
        lines = [f"file: {case.where}"]
        if case.description:
            lines.append(f"description: {case.description}")
        variables = []
        for v in case.variables:
            shape = f" of shape {list(v.shape)}" if v.shape else ""
            variables.append(f"{v.name}{shape} in [{v.low:g}, {v.high:g}]")
        lines.append(f"variables: {', '.join(variables)}")
        self.printer.title(f"{case.name}", lines)

    def function(self, function: CompiledFunction) -> None:
        p = self.printer
        checks = [(i, c) for i, c in enumerate(self.model.checks) if c.target == function.name]
        p.section(f"{function.signature()}  (line {function.spec.where.line})")
        args_plain, args_tex = _arguments(function, False), _arguments(function, True)
        p.text(f"definition: {function.name} = {_source_text(function.spec.expr)}")
        if function.impl:
            p.text(f"implementation under test: {function.impl} (its values and derivatives are checked "
                   "against this definition)")
        value = _value(function)
        p.math(Label(f"{function.name}({args_plain})", f"{_tex_name(function.name)}({args_tex})"), value,
               (function.output_labels(), []), _array_text(function.entries))
        self.claims(function, [(i, c) for i, c in checks if c.kind == "value"], "value",
                    function.entries.reshape(function.out_shape))
        jacobian = self.engine.jacobian(function)
        rows, columns = function.output_labels(), function.input_labels()
        p.text(f"Jacobian: {len(rows)} output{'s' if len(rows) != 1 else ''} ({', '.join(rows[:8])}"
               f"{', ...' if len(rows) > 8 else ''}) x {len(columns)} input{'s' if len(columns) != 1 else ''} "
               f"({', '.join(columns[:8])}{', ...' if len(columns) > 8 else ''})")
        jacobian_checks = [(i, c) for i, c in checks if c.kind in ("jacobian", "chain_rule")]
        if function.call_tree is not None:  # a composition: its Jacobian comes after the chain-rule product
            self.chain(function, jacobian, jacobian_checks)
        else:
            p.math(_jacobian_label(function.name, args_plain, args_tex), _matrix(jacobian), (rows, columns))
            self.claims(function, jacobian_checks, "jacobian", jacobian)
        if any(c.kind == "gradient" for _, c in checks):
            gradient = self.engine.gradient(function)
            p.math(Label(f"gradient of {function.name}({args_plain})",
                         f"\\nabla {_tex_name(function.name)}({args_tex})"),
                   _matrix(gradient), ([f"d {function.name} / d {c}" for c in columns], []), _array_text(gradient))
            self.claims(function, [(i, c) for i, c in checks if c.kind == "gradient"], "gradient", gradient)
        if any(c.kind == "hessian" for _, c in checks):
            hessian = self.engine.hessian(function)
            p.math(Label(f"Hessian of {function.name}({args_plain})",
                         f"\\nabla^2 {_tex_name(function.name)}({args_tex})"),
                   _matrix(hessian), ([f"d{function.name}/d{c}" for c in columns], columns))
            self.claims(function, [(i, c) for i, c in checks if c.kind == "hessian"], "hessian", hessian)

    def claims(self, function: CompiledFunction, checks: list[tuple[int, CheckSpec]], kind: str,
               derived: np.ndarray) -> None:
        from verify.model import derivative_shape
        from verify.proof import decide_at_points

        what = {"value": "the value", "jacobian": "the Jacobian", "gradient": "the gradient",
                "hessian": "the Hessian"}[kind]
        for index, check in checks:
            if index not in self.model.expects:
                continue
            claim = self.model.expects[index]
            assert check.expect is not None
            value = claim.reshape(-1)[0] if claim.size == 1 else _matrix(claim)
            self.printer.claim(f"expect ({check.kind} check, line {check.where.line})", _source_text(check.expect),
                               value)
            shaped = derived.reshape(derivative_shape(kind, function))
            if index in self.model.expect_points:
                verdict = decide_at_points(shaped, claim, self.model.expect_points[index])
                points = "; ".join(", ".join(f"{s}={v}" for s, v in point.items())
                                   for point in self.model.expect_points[index])
                self.printer.text(f"  judged only at {points}")
            else:
                verdict = self.decide(shaped, claim, function)
            self.printer.text("  " + _verdict_text(verdict, function, kind, what, "the claim"))

    def stages(self, tree: CallTree, function: CompiledFunction, seen: list[str]) -> None:
        """Every stage's Jacobian at its own arguments, innermost first, each stage once."""
        from verify.expr import CallTree

        for part in tree.parts:
            if isinstance(part, CallTree):
                self.stages(part, function, seen)
        if tree.callee in seen:
            return
        seen.append(tree.callee)
        stage = self.model.functions[tree.callee]
        own_plain, own_tex = _arguments(stage, False), _arguments(stage, True)
        self.printer.text(f"stage {len(seen)}: {stage.signature()}, at its own arguments")
        self.printer.math(_jacobian_label(stage.name, own_plain, own_tex), _matrix(self.engine.jacobian(stage)),
                          (stage.output_labels(), stage.input_labels()))

    def factors(self, tree: CallTree | np.ndarray, function: CompiledFunction) -> list[_Factor]:
        """Matrices whose product, left to right, is the Jacobian of `tree`'s value: J_F(G(x)), J_G(x), ..."""
        import numpy as np

        from verify.engines.symbolic import jacobian_of
        from verify.expr import CallTree

        symbols = function.flat_symbols
        if not isinstance(tree, CallTree):
            plain = f"d({_call_text(tree, function, False)})/d({_arguments(function, False)})"
            latex = (f"\\frac{{\\partial({_call_text(tree, function, True)})}}"
                     f"{{\\partial({_arguments(function, True)})}}")
            return [_Factor(Label(plain, latex), _matrix(jacobian_of(tree, symbols)))]
        stage = self.model.functions[tree.callee]
        values = [v for part in tree.parts for v in (part.value if isinstance(part, CallTree) else part).reshape(-1)]
        at = _substitute(self.engine.jacobian(stage), dict(zip(stage.flat_symbols, values)))
        inputs_plain = ", ".join(_call_text(p, function, False) for p in tree.parts)
        inputs_tex = ", ".join(_call_text(p, function, True) for p in tree.parts)
        out = [_Factor(_jacobian_label(stage.name, inputs_plain, inputs_tex), _matrix(at), stage)]
        if values == symbols:
            return out  # the stage's inputs are the function's own arguments: their Jacobian is the identity
        if len(tree.parts) == 1:
            return out + self.factors(tree.parts[0], function)
        blocks: list[np.ndarray] = []
        for part in tree.parts:
            part_factors = self.factors(part, function)
            product = part_factors[0].matrix
            for factor in part_factors[1:]:
                product = product * factor.matrix
            block = np.empty((product.rows, len(symbols)), dtype=object)
            for i in range(product.rows):
                for j in range(len(symbols)):
                    block[i, j] = product[i, j]
            blocks.append(block)
        label = Label(f"J[{inputs_plain}]", f"J\\left[{inputs_tex}\\right]")
        return [*out, _Factor(label, _matrix(np.concatenate(blocks, axis=0)))]

    def chain(self, function: CompiledFunction, jacobian: np.ndarray, checks: list[tuple[int, CheckSpec]]) -> None:
        p = self.printer
        tree = function.call_tree
        assert tree is not None
        args_plain, args_tex = _arguments(function, False), _arguments(function, True)
        labels = (function.output_labels(), function.input_labels())
        p.text(f"chain rule: {function.name}({args_plain}) = {_call_text(tree, function, False)}")
        self.stages(tree, function, [])
        factors = self.factors(tree, function)
        for factor in factors:
            stage = factor.stage
            if stage is not None and factor.label.plain != f"J_{stage.name}({_arguments(stage, False)})":
                p.text(f"J_{stage.name} at the values of its inputs:")
                p.math(factor.label, factor.matrix)
        p.text("the chain-rule product, each factor at its stage's inputs:")
        p.math(Label(" . ".join(f.label.plain for f in factors), " \\cdot ".join(f.label.latex for f in factors)),
               [f.matrix for f in factors])
        product = self.engine.chain_product(function)
        p.text("multiplied out:")
        p.math(None, _matrix(product), labels)
        simplified, note = _simplify(product, self.simplify_budget_s)
        p.text("simplified:" + (f" ({note})" if note else ""))
        p.math(None, _matrix(simplified), labels)
        p.text(f"the Jacobian of {function.name}, derived directly from its definition:")
        p.math(_jacobian_label(function.name, args_plain, args_tex), _matrix(jacobian), labels)
        p.text(_verdict_text(self.decide(product, jacobian, function), function, "jacobian",
                             "the chain-rule product", f"J_{function.name}"))
        self.claims(function, checks, "jacobian", jacobian)


def _select(path: str, name: str | None, keyword: str | None = None) -> list[Any]:
    from verify.case import load_file

    if not Path(path).is_file():
        raise UsageError(f"{path}: no such file")
    items = load_file(path)
    if keyword is not None:  # as in runs: the case id (FILE::NAME) and tags
        from verify.keyword import matches

        items = [item for item in items if matches(keyword, [item.id, *item.tags])]
        if not items:
            raise UsageError(f"no case in {path} matches -k {keyword!r}")
    if name is None:
        return items
    chosen = [item for item in items if item.name == name]
    if not chosen:
        raise UsageError(f"{path} has no case named {name!r}; its cases: {', '.join(i.name for i in items)}")
    return chosen


def main(argv: Sequence[str], out: TextIO = sys.stdout) -> int:
    """Prints the derivation of the cases of one file; exit status 1 when the file has an error."""
    parser = argparse.ArgumentParser(
        prog="python -m verify show",
        description="Print a case's derivation: each function's definition and Jacobian, and for each "
                    "composition the chain-rule product J_F(G(x)) . J_G(x), simplified, next to the Jacobian "
                    "and the expect claims.",
    )
    parser.add_argument("case", metavar="CASE.yaml", help="the case file")
    parser.add_argument("--name", metavar="CASE", help="only the case of this name (for files of several cases)")
    parser.add_argument("-k", dest="keyword", metavar="EXPR",
                        help="only the cases whose id or tags match, as in runs, e.g. -k 'seed and not norm'")
    parser.add_argument("--function", metavar="F", help="only this function")
    parser.add_argument("--latex", action="store_true", help="print LaTeX (amsmath) instead of plain text")
    parser.add_argument("--proof-budget", type=float, default=10.0, metavar="SECONDS",
                        help="time for each symbolic comparison before falling back to numeric evidence (default: 10)")
    parser.add_argument("--simplify-budget", type=float, default=5.0, metavar="SECONDS",
                        help="time for simplifying each chain-rule product; 0 skips it (default: 5)")
    args = parser.parse_args(list(argv))
    if args.proof_budget < 0 or args.simplify_budget < 0:
        raise UsageError("budgets must not be negative")
    if args.keyword is not None:
        from verify.keyword import validate

        validate(args.keyword)
    from verify.case import LoadFailure
    from verify.model import build_model

    status = 0
    printer: _Printer = _LatexPrinter(out) if args.latex else _PlainPrinter(out)
    found_function = args.function is None
    for number, item in enumerate(_select(args.case, args.name, args.keyword)):
        if isinstance(item, LoadFailure):
            sys.stderr.write(item.error.render() + "\n")
            status = 1
            continue
        try:
            model = build_model(item)
        except CaseError as exc:
            sys.stderr.write(exc.render() + "\n")
            status = 1
            continue
        functions = list(model.functions.values())
        if args.function is not None:
            functions = [f for f in functions if f.name == args.function]
            if not functions:
                continue
            found_function = True
        if number:
            out.write("\n")
        show = _Show(model, printer, args.proof_budget, args.simplify_budget)
        show.header()
        for function in functions:
            show.function(function)
        printer.close()
    if not found_function and status == 0:
        raise UsageError(f"no function named {args.function!r} in {args.case}")
    return status
