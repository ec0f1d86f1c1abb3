"""Certified reference values: SymPy entries evaluated in ball arithmetic (FLINT/Arb) at points.

Every entry is computed as a ball (midpoint and radius) that provably holds the exact value.
Precision starts a little above the dtype's and doubles, point by point, until each entry is
certified (its ball is narrow enough that rounding the midpoint to the dtype gives the
correctly rounded value to within one unit in the last place, or its radius is below 1e-3 of
the tolerance), up to a cap. The float64 overflow, underflow and cancellation of the formula
never decide anything: beyond the dtype's range the rounded value is +-inf, below it 0 or a
subnormal.

A point is excluded, with its reason, only where the exact value is undefined (a pole,
outside a domain), on a branch boundary of `where`, `abs`, `max`, `min`, `relu` or `sign`
where the one-sided values differ, or where the cap is reached without a certified ball.

Branch boundaries: in a derivative (`hull` evaluation) a `where` whose condition holds with
equality at the point, or a kink (Heaviside, sign of 0), takes the union of the one-sided
values. When those agree the ball is narrow and the value is compared; when they differ it
cannot be certified, and the point is excluded as lying on a branch boundary. The function's
own value (and, for Hessians, its gradient) is evaluated the same way as a guard, so that a
derivative is never compared where the function itself jumps.

The code generated here is independent of the torch lowering: the two share only the SymPy
expressions, so a wrong row in one table cannot make both sides agree.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from verify.errors import EngineError

__all__ = [
    "BOUNDARY", "CAP_BITS", "DEFINED", "NOT_CERTIFIED", "UNDEFINED", "ArbProgram", "Certified", "compile_arb",
    "exclusion_text",
]

CAP_BITS = 4096
"""The highest working precision tried before a point is reported as not certified."""

DEFINED, UNDEFINED, BOUNDARY, NOT_CERTIFIED = 0, 1, 2, 3
"""Per-point outcome codes of a certified evaluation."""

_MANTISSA = {"float64": 53, "float32": 24, "exact": 53}

# tri-state condition results: true, false, exactly on the boundary, not decided at this precision
_T, _F, _B, _U = 1, 0, 2, 3


FLINT_MISSING = ("the certified reference needs python-flint, which this Python cannot import ({why}); "
                 "install it with pip install 'python-flint>=0.9' (pip install -e . installs it with verify)")


def flint_module() -> Any:
    """python-flint (FLINT/Arb), or an EngineError that says how to install it."""
    try:
        import flint
    except ImportError as exc:
        raise EngineError(FLINT_MISSING.format(why=exc)) from None
    return flint


@contextlib.contextmanager
def _precision(bits: int) -> Iterator[None]:
    # python-flint's working precision is process-wide: set it for the evaluation, then restore it
    ctx = flint_module().ctx
    saved = ctx.prec
    ctx.prec = bits
    try:
        yield
    finally:
        ctx.prec = saved


class _State:
    """Per-point flags set by branch helpers: a kink or `where` boundary met exactly."""

    __slots__ = ("boundary", "exact_nan")

    def __init__(self) -> None:
        self.boundary = ""
        self.exact_nan = False  # an operation on exact arguments had no value: undefined at any precision


def _union(a: Any, b: Any) -> Any:
    if not (a.is_finite() and b.is_finite()):
        return flint_module().arb.nan()
    return a.union(b)


def _helpers(hull: bool) -> dict[str, Callable[..., Any]]:
    """The branch helpers of generated code: `hull` takes both sides of a boundary (derivatives)."""
    arb = flint_module().arb

    def compare(state: _State, kind: str, left: Any, right: Any) -> int:
        difference = left - right
        if difference.is_zero():
            if hull:
                return _B
            return _T if kind in ("le", "ge", "eq") else _F
        if not difference.is_finite() or difference.contains(0):
            return _U
        positive = difference > 0
        return _T if {"lt": not positive, "le": not positive, "gt": positive, "ge": positive,
                      "eq": False, "ne": True}[kind] else _F

    def both(a: int, b: int, conjunction: bool) -> int:
        decided, other = (_F, _T) if conjunction else (_T, _F)
        if a == decided or b == decided:
            return decided
        if a == other and b == other:
            return other
        return _U if _U in (a, b) else _B

    def logical_and(state: _State, *parts: int) -> int:
        out = parts[0]
        for part in parts[1:]:
            out = both(out, part, True)
        return out

    def logical_or(state: _State, *parts: int) -> int:
        out = parts[0]
        for part in parts[1:]:
            out = both(out, part, False)
        return out

    def logical_not(state: _State, part: int) -> int:
        return {_T: _F, _F: _T}.get(part, part)

    def piecewise(state: _State, *pairs: tuple[Any, int]) -> Any:
        result = None
        for value, condition in pairs:
            if condition == _F:
                continue
            result = value if result is None else _union(result, value)
            if condition == _B:
                state.boundary = state.boundary or "where(...)"
            if condition == _T:
                return result
        return result if result is not None else arb.nan()

    def sign(state: _State, x: Any) -> Any:
        if x.is_zero():
            if not hull:
                return arb(0)
            state.boundary = state.boundary or "abs or sign (a kink)"
            return arb(0, 1)
        if x.contains(0):
            return arb(0, 1)
        return arb(1) if x > 0 else arb(-1)

    def heaviside(state: _State, x: Any, *rest: Any) -> Any:
        if x.is_zero():
            state.boundary = state.boundary or "relu, max or min (a kink)"
            return arb(0.5, 0.5)
        if x.contains(0):
            return arb(0.5, 0.5)
        return arb(1) if x > 0 else arb(0)

    def dirac(state: _State, x: Any, *rest: Any) -> Any:
        if x.is_zero():
            state.boundary = state.boundary or "sign (a jump)"
            return arb.nan()
        if x.contains(0):
            return arb.nan()
        return arb(0)

    def jump(state: _State, rule: str, fn: Callable[..., Any], *args: Any) -> Any:
        # a step function (floor, fmod, ...) on one of its jumps: the sides differ, so in a
        # derivative (hull) the point is on a branch boundary; as a value it is torch's convention
        if rule == "x+1/2":
            quotient = args[0] + arb(1) / 2
        else:
            quotient = args[0] if rule.startswith("x!") or rule == "x" else args[0] / args[1]
        if hull:
            on_jump = quotient.is_exact() and quotient.is_integer() and not (rule.endswith("!0") and quotient.is_zero())
            if on_jump:
                state.boundary = state.boundary or "a step (floor, ceil, trunc, frac, fmod, remainder)"
                return arb.nan()
        return fn(state, *args)

    return {
        "_cmp": compare, "_and": logical_and, "_or": logical_or, "_not": logical_not, "_pw": piecewise,
        "_sign": sign, "_heaviside": heaviside, "_dirac": dirac, "_jump": jump,
    }


_RELATIONS = {
    sympy.StrictLessThan: "lt", sympy.LessThan: "le", sympy.StrictGreaterThan: "gt", sympy.GreaterThan: "ge",
    sympy.Equality: "eq", sympy.Unequality: "ne",
}


class _Emitter:
    """Turns a DAG of SymPy nodes into straight-line Python over arb (or fmpq) values.

    Each distinct node is emitted once (structural hashing shares subexpressions across all
    entries); nodes used once are inlined into their parent.
    """

    def __init__(self, symbols: Sequence[sympy.Symbol], heads: dict[type, str], jumps: dict[type, str]) -> None:
        self.names = {s: f"x{i}" for i, s in enumerate(symbols)}
        self.heads = heads
        self.jumps = jumps
        self.constants: list[sympy.Basic] = []
        self._constant_index: dict[sympy.Basic, int] = {}
        self.lines: list[str] = []
        self._text: dict[sympy.Basic, str] = {}

    def constant(self, value: sympy.Basic) -> str:
        if value not in self._constant_index:
            self._constant_index[value] = len(self.constants)
            self.constants.append(value)
        return f"C[{self._constant_index[value]}]"

    def emit(self, roots: Sequence[sympy.Basic]) -> list[str]:
        uses: dict[sympy.Basic, int] = {}
        order: list[sympy.Basic] = []
        stack: list[tuple[sympy.Basic, bool]] = [(r, False) for r in reversed(roots)]
        while stack:  # iterative post-order: deep compositions must not hit the recursion limit
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            uses[node] = uses.get(node, 0) + 1
            if uses[node] > 1:
                continue
            stack.append((node, True))
            if not self._is_leaf(node):
                stack.extend((arg, False) for arg in reversed(_children(node)))
        for node in order:
            text = self._node(node)
            if uses[node] > 1 and not self._is_leaf(node):
                name = f"t{len(self.lines)}"
                self.lines.append(f"    {name} = {text}")
                text = name
            self._text[node] = text
        return [self._text[r] for r in roots]

    def _is_leaf(self, node: sympy.Basic) -> bool:
        return bool(node.is_Symbol or node.is_Number or node.is_NumberSymbol or node in (sympy.true, sympy.false)
                    or node.is_Atom)

    def _node(self, node: sympy.Basic) -> str:
        if node.is_Symbol:
            if node not in self.names:
                raise EngineError(f"no value for symbol {node} in the certified reference")
            return self.names[node]
        if node is sympy.true:
            return "1"
        if node is sympy.false:
            return "0"
        if node.is_Number or node.is_NumberSymbol or node in (sympy.zoo, sympy.nan):
            return self.constant(node)
        if isinstance(node, sympy.Piecewise):
            pairs = [f"({self._text[value]}, {self._text[condition]})" for value, condition in node.args]
            return f"_pw(S, {', '.join(pairs)})"
        args = [self._text[a] for a in node.args]
        if isinstance(node, sympy.Add):
            return "(" + " + ".join(args) + ")"
        if isinstance(node, sympy.Mul):
            return "(" + " * ".join(args) + ")"
        if isinstance(node, sympy.Pow):
            exponent = node.args[1]
            if exponent.is_Integer:
                return f"_powi(S, {args[0]}, {int(exponent)})"
            if exponent == sympy.S.Half:
                return f"_sqrt(S, {args[0]})"
            if exponent == -sympy.S.Half:
                return f"_rsqrt(S, {args[0]})"
            return f"_pow(S, {args[0]}, {args[1]})"
        relation = _RELATIONS.get(type(node))
        if relation is not None:
            return f"_cmp(S, {relation!r}, {args[0]}, {args[1]})"
        if isinstance(node, sympy.And):
            return f"_and(S, {', '.join(args)})"
        if isinstance(node, sympy.Or):
            return f"_or(S, {', '.join(args)})"
        if isinstance(node, sympy.Not):
            return f"_not(S, {args[0]})"
        if isinstance(node, sympy.sign):
            return f"_sign(S, {args[0]})"
        if isinstance(node, sympy.Heaviside):
            return f"_heaviside(S, {args[0]})"
        if isinstance(node, sympy.DiracDelta):
            return f"_dirac(S, {args[0]})"
        head = self.heads.get(type(node)) or self.heads.get(node.func)  # type: ignore[call-overload]
        if head is None:
            raise EngineError(f"the certified reference cannot evaluate {type(node).__name__} (in {node})")
        rule = self.jumps.get(type(node))
        if rule:
            return f"_jump(S, {rule!r}, {head}, {', '.join(args)})"
        return f"{head}(S, {', '.join(args)})"


def _children(node: sympy.Basic) -> tuple[sympy.Basic, ...]:
    if isinstance(node, sympy.Piecewise):
        return tuple(part for pair in node.args for part in pair.args)
    return tuple(node.args)


def _arb_constant(value: sympy.Basic) -> Any:
    flint = flint_module()
    arb = flint.arb
    if value.is_Integer:
        return arb(int(value))
    if value.is_Rational:
        return arb(flint.fmpq(int(value.p), int(value.q)))
    if value.is_Float:
        exact = sympy.Rational(value)
        return arb(flint.fmpq(int(exact.p), int(exact.q)))
    named: dict[sympy.Basic, Callable[[], Any]] = {
        sympy.pi: arb.pi, sympy.E: arb.const_e, sympy.EulerGamma: arb.const_euler, sympy.Catalan: arb.const_catalan,
        sympy.oo: arb.pos_inf, -sympy.oo: arb.neg_inf, sympy.zoo: arb.nan, sympy.nan: arb.nan,
    }
    if value in named:
        return named[value]()
    raise EngineError(f"the certified reference has no value for the constant {value}")


def _fmpq_constant(value: sympy.Basic) -> Any:
    flint = flint_module()
    if value.is_Rational:
        return flint.fmpq(int(value.p), int(value.q))
    if value.is_Float:
        exact = sympy.Rational(value)
        return flint.fmpq(int(exact.p), int(exact.q))
    raise TypeError(f"{value} is not rational")


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` over balls, noting in the state when exact arguments give no value (outside the domain, a pole)."""
    arb = flint_module().arb

    def call(state: _State, *args: Any) -> Any:
        result = fn(*args)
        if type(result) is arb and not result.is_finite() and all(type(a) is not arb or a.is_exact() for a in args):
            state.exact_nan = True
        return result

    return call


def _arb_namespace() -> dict[str, Any]:
    from verify.functions import arb_table

    arb = flint_module().arb

    def power(x: Any, y: Any) -> Any:
        if x.is_zero() and y > 0:
            return arb(0)
        return x**y  # nan for a negative base unless y is an exact integer, as for real powers

    return {
        # arb: nan for 0 ** -n; fmpq (exact evaluation): ZeroDivisionError
        "_powi": _guarded(lambda x, n: x**n), "_sqrt": _guarded(lambda x: x.sqrt()),
        "_rsqrt": _guarded(lambda x: x.rsqrt()), "_pow": _guarded(power),
        **{name: _guarded(fn) for name, (_, fn) in arb_table().items()},
    }


@dataclass(frozen=True)
class Certified:
    """Certified values of some entries at a batch of points, rounded to a dtype.

    `values` is (B, *shape), rounded to the dtype (held as float64); nan at excluded points.
    `status` is (B,) of DEFINED, UNDEFINED, BOUNDARY or NOT_CERTIFIED; `boundary` names the
    construct for BOUNDARY points; `bits` is (B,) the fewest certified bits of the point's
    entries (inf when all are exact).
    """

    values: np.ndarray
    status: np.ndarray
    bits: np.ndarray
    boundary: tuple[str, ...]
    precision: int  # the highest working precision used

    @property
    def defined(self) -> np.ndarray:
        return self.status == DEFINED

    def reference_bits(self) -> float:
        bits = self.bits[self.defined]
        return float(bits.min()) if bits.size else float("nan")


def exclusion_text(certified: Certified) -> str:
    """Why points were excluded, with counts, e.g. '2 on a branch boundary of where(...)'."""
    parts = []
    undefined = int((certified.status == UNDEFINED).sum())
    if undefined:
        parts.append(f"{undefined} where the exact value is undefined (pole or outside the domain)")
    boundary = certified.status == BOUNDARY
    if boundary.any():
        kinds: dict[str, int] = {}
        for index in np.flatnonzero(boundary):
            kinds[certified.boundary[index]] = kinds.get(certified.boundary[index], 0) + 1
        parts.extend(f"{count} on a branch boundary of {kind}" for kind, count in kinds.items())
    uncertified = int((certified.status == NOT_CERTIFIED).sum())
    if uncertified:
        parts.append(f"{uncertified} where the reference is not certified at {CAP_BITS} bits")
    return ", ".join(parts)


class ArbProgram:
    """Entries (and guard entries) compiled once to Python over Arb balls; evaluated point by point."""

    def __init__(self, entries: np.ndarray, symbols: Sequence[sympy.Symbol], guards: Sequence[np.ndarray] = (),
                 hull: bool = False) -> None:
        from verify.functions import arb_table, jump_rules

        self.shape = tuple(np.asarray(entries).shape)
        self.n_inputs = len(symbols)
        self.hull = hull
        flat = [e if isinstance(e, sympy.Basic) else sympy.sympify(e)
                for e in np.asarray(entries, dtype=object).reshape(-1)]
        guard_flat = [sympy.sympify(e) for g in guards for e in np.asarray(g, dtype=object).reshape(-1)]
        self.n_entries = len(flat)
        # rational constants (the zeros of sparse Jacobians, mostly) are exact: only the rest is evaluated
        rational = np.fromiter((e.is_Rational for e in flat), dtype=bool, count=len(flat))
        self._fixed = {int(i): flat[i] for i in np.flatnonzero(rational) if flat[i] is not sympy.S.Zero}  # nonzero ones
        self._live = np.flatnonzero(~rational)
        heads = {head: name for name, (head, _) in arb_table().items()}
        emitter = _Emitter(symbols, heads, jump_rules())
        texts = emitter.emit([flat[i] for i in self._live] + guard_flat)
        arguments = ", ".join(["C", "S", *(f"x{i}" for i in range(self.n_inputs))])
        returned = f"({', '.join(texts)},)" if texts else "()"
        source = "\n".join([f"def _program({arguments}):", *emitter.lines, f"    return {returned}"])
        self.source = source
        self.constants = tuple(emitter.constants)
        namespace = {**_arb_namespace(), **_helpers(hull)}
        exec(compile(source, "<verify certified reference>", "exec"), namespace)  # noqa: S102 - code we generated
        self._program: Callable[..., tuple[Any, ...]] = namespace["_program"]
        self._rational = all(_is_rational_tree(flat[i]) for i in self._live) and all(map(_is_rational_tree, guard_flat))

    def constant(self, index: int) -> sympy.Rational | None:
        """Entry `index` when it is a rational constant, else None."""
        if index in self._fixed:
            return self._fixed[index]
        return None if index in set(self._live.tolist()) else sympy.S.Zero

    # -- exact rational evaluation (no balls) -------------------------------------------------
    def exact(self, point: Sequence[Any]) -> list[Any] | None:
        """The entries at an exact rational point as fmpq, or None when not rational throughout."""
        if not self._rational:
            return None
        try:
            constants = [_fmpq_constant(c) for c in self.constants]
            state = _State()
            return self._full(list(self._program(constants, state, *point)), _fmpq_constant)[: self.n_entries]
        except (TypeError, ZeroDivisionError, ValueError):
            return None

    # -- balls -----------------------------------------------------------------------------------
    def balls(self, point: Sequence[Any], bits: int) -> tuple[list[Any], str]:
        """The entries and guards at `point` (arb or exact fmpq inputs) at `bits` of precision."""
        with _precision(bits):
            constants = [_arb_constant(c) for c in self.constants]
            arb = flint_module().arb
            state = _State()
            inputs = [v if isinstance(v, arb) else arb(v) for v in point]
            return self._full(list(self._program(constants, state, *inputs)), _arb_constant), state.boundary

    def _full(self, values: list[Any], constant: Callable[[sympy.Basic], Any]) -> list[Any]:
        """The program's results (live entries, then guards) with the fixed rational entries put back in place."""
        live = len(self._live)
        if live == self.n_entries:
            return values
        zero = constant(sympy.S.Zero)
        out: list[Any] = [zero] * self.n_entries
        for position, index in enumerate(self._live.tolist()):
            out[index] = values[position]
        for index, value in self._fixed.items():
            out[index] = constant(value)
        return out + values[live:]

    def __call__(self, points: np.ndarray, dtype: str = "float64", rtol: float = 0.0, atol: float = 0.0,
                 start_bits: int | None = None) -> Certified:
        """Certified entries at `points` (B, n_inputs) of float64 (exact inputs), rounded to `dtype`."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, self.n_inputs)
        batch = points.shape[0]
        entries = self.n_entries
        mantissa = _MANTISSA.get(dtype, 53)
        bits = start_bits or max(64, 2 * mantissa + 16)
        live = len(self._live)
        mids = np.full((batch, live), np.nan)
        accuracy = np.full((batch, live), -np.inf)
        status = np.full(batch, NOT_CERTIFIED, dtype=np.int8)
        boundary = [""] * batch
        pending = np.arange(batch)
        used = bits
        with np.errstate(all="ignore"):
            while pending.size:
                used = bits
                still: list[int] = []
                with _precision(bits):
                    arb = flint_module().arb
                    constants = [_arb_constant(c) for c in self.constants]
                    for index in pending:
                        state = _State()
                        balls = self._program(constants, state, *(arb(float(v)) for v in points[index]))
                        outcome = self._judge(balls, mids[index], accuracy[index], mantissa, rtol, atol,
                                              bool(state.boundary))
                        boundary[index] = state.boundary
                        if outcome == "ok":
                            status[index] = DEFINED
                        elif state.boundary:  # exact: more precision cannot narrow a union of differing sides
                            status[index] = BOUNDARY
                        elif outcome == "nan" and state.exact_nan and bits >= 1024:
                            # undefined at the exact point at two precisions: no more precision helps (Arb
                            # can fail at low precision on exact arguments, e.g. Bessel functions at 1e140)
                            status[index] = UNDEFINED
                        else:
                            status[index] = UNDEFINED if outcome == "nan" else NOT_CERTIFIED
                            still.append(int(index))
                if bits >= CAP_BITS:
                    break
                pending = np.asarray(still, dtype=int)
                bits = min(CAP_BITS, bits * 4)
        with _small_pages():
            full_mids = np.zeros((batch, entries))
        full_mids[:, self._live] = mids
        for fixed, value in self._fixed.items():
            full_mids[:, fixed] = _rational_float(value)
        rounded = _round(full_mids, dtype)  # in place: full_mids is ours
        point_bits = accuracy.min(axis=1) if live else np.full(batch, np.inf)
        rounded[status != DEFINED] = np.nan
        return Certified(rounded.reshape((batch, *self.shape)), status, point_bits, tuple(boundary), used)

    def _judge(self, balls: Sequence[Any], mids: np.ndarray, bits: np.ndarray, mantissa: int, rtol: float,
               atol: float, boundary: bool) -> str:
        """Records the midpoints and certified bits of `balls`: 'ok' when all are certified, else 'nan' or 'wide'.

        Certified means a relative radius below 2^-(mantissa + 2) (the rounding to the dtype is
        then right to within one unit in the last place), or a radius below 1e-3 of the
        tolerance. Guards (the function's value, and gradient for Hessians) need only be
        defined, and on a branch boundary narrow: a wide guard there is a jump.
        """
        entries = balls[: len(self._live)]
        count = len(entries)  # bulk conversions: per-entry Python work dominates the reference's time
        mids[:] = np.fromiter((float(b) for b in entries), dtype=np.float64, count=count)
        accuracy = np.fromiter((b.rel_accuracy_bits() for b in entries), dtype=np.float64, count=count)
        accuracy[accuracy >= 2.0**62] = np.inf  # exact
        bits[:] = accuracy
        outcome = "ok"
        suspicious = ~np.isfinite(mids) | (accuracy < mantissa + 2)
        for j in np.flatnonzero(suspicious):
            ball = entries[int(j)]
            if not ball.is_finite():
                mids[j], bits[j] = np.nan, -np.inf
                outcome = "nan"
                continue
            if accuracy[j] >= mantissa + 2:
                continue  # a finite ball beyond the dtype's range: its rounding is +-inf
            if float(ball.rad()) <= 1e-3 * (atol + rtol * abs(mids[j])):
                continue
            if outcome == "ok":
                outcome = "wide"
        for ball in balls[len(self._live):]:
            if not ball.is_finite():
                return "nan"
            if boundary and outcome == "ok" and not _narrow(ball, mantissa):
                outcome = "wide"
        return outcome


def _narrow(ball: Any, mantissa: int) -> bool:
    rad = float(ball.rad())
    return rad == 0 or rad <= abs(float(ball.mid())) * 2.0 ** -(mantissa + 2) or rad <= 2.0 ** -(2 * mantissa)


def _rational_float(value: sympy.Rational) -> float:
    """A rational constant correctly rounded to float64 (+-inf beyond its range)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


@contextlib.contextmanager
def _small_pages() -> Iterator[None]:
    """Arrays allocated here are not madvised into huge pages (numpy's default for large arrays).

    A sparse Jacobian's reference is mostly zeros that are never written: with 4 KiB pages only
    those holding an entry are touched, where one write in each 2 MiB huge page zeroes all of it
    (100 x 10,100 at 64 points: 1.0 s to 0.06 s, measured on this project's machine).
    """
    switch = getattr(getattr(np, "_core", None), "multiarray", None)
    setting = getattr(switch, "_set_madvise_hugepage", None)
    if setting is None:
        yield
        return
    previous = setting(False)
    try:
        yield
    finally:
        setting(previous)


def _round(mids: np.ndarray, dtype: str) -> np.ndarray:
    """`mids` rounded to `dtype` (float64: `mids` itself)."""
    if dtype == "float32":
        with np.errstate(over="ignore"):
            return mids.astype(np.float32).astype(np.float64)
    return mids


def _is_rational_tree(expr: sympy.Basic) -> bool:
    for node in sympy.preorder_traversal(expr):
        if node.is_Symbol or node.is_Rational:
            continue
        if isinstance(node, (sympy.Add, sympy.Mul)):
            continue
        if isinstance(node, sympy.Pow) and node.args[1].is_Integer:
            continue
        return False
    return True


def compile_arb(entries: np.ndarray, symbols: Sequence[sympy.Symbol], guards: Sequence[np.ndarray] = (),
                hull: bool = False) -> ArbProgram:
    """A certified evaluator of `entries` over `symbols` (see the module docstring for `guards` and `hull`)."""
    return ArbProgram(entries, symbols, guards, hull)


def spot_check(entries: np.ndarray, derivative: np.ndarray, symbols: Sequence[sympy.Symbol], points: np.ndarray,
               bits: int = 512, tries: int = 5) -> bool | None:
    """Whether `derivative` (outputs x inputs) is the Jacobian of `entries` at one of `points`.

    Compared with central differences of `entries` in ball arithmetic (step 2^-(bits/5), so
    the truncation error is far below the 2^-50 relative agreement required). Used to validate
    derivations read from the disk cache. None when no point of the first `tries` has both
    defined (nothing could be checked).
    """
    n = len(symbols)
    values = ArbProgram(np.asarray(entries, dtype=object).reshape(-1), symbols)
    jacobian = ArbProgram(np.asarray(derivative, dtype=object).reshape(-1, n), symbols)
    with _precision(bits):  # the perturbed inputs x +- h need the working precision too
        return _spot_check(values, jacobian, n, np.asarray(points, dtype=np.float64).reshape(-1, n)[:tries], bits)


def _spot_check(values: ArbProgram, jacobian: ArbProgram, n: int, points: np.ndarray, bits: int) -> bool | None:
    arb = flint_module().arb
    unit = arb(2) ** -(bits // 5)
    for point in points:
        exact = [arb(float(v)) for v in point]
        claimed, _ = jacobian.balls(exact, bits)
        if not all(b.is_finite() for b in claimed):
            continue
        # the steps are relative to the coordinates (near 1e-300 an absolute one would leave the domain),
        # so f(x + h) - f(x - h) needs as many more bits as the smallest coordinate is below 1
        tiny = max((-math.frexp(float(v))[1] for v in point if v != 0), default=0)
        work = min(bits + max(0, tiny), 4 * CAP_BITS)
        outcome = _spot_check_at(values, claimed, exact, n, unit, work)
        if outcome is not None:
            return outcome
    return None


def _spot_check_at(values: ArbProgram, claimed: list[Any], exact: list[Any], n: int, unit: Any,
                   bits: int) -> bool | None:
    """The spot check at one point: None where a value is undefined or the difference too wide to decide.

    Relative: a derivative of 1e-75 wrong in its sixth digit is caught. The central difference's own
    truncation error is estimated from the same difference at twice the step (Richardson) and allowed.
    """
    for j in range(n):
        step = unit * abs(exact[j]) if not exact[j].is_zero() else unit
        sides = [values.balls([v + shift if k == j else v for k, v in enumerate(exact)], bits)[0]
                 for shift in (step, -step, 2 * step, -2 * step)]
        if not all(b.is_finite() for side in sides for b in side):
            return None
        plus, minus, plus2, minus2 = sides
        for i in range(len(plus)):
            difference = (plus[i] - minus[i]) / (2 * step)
            wider = (plus2[i] - minus2[i]) / (4 * step)
            gap = difference - claimed[i * n + j]
            truncation = 4 * abs(float((wider - difference).mid()))
            scale = abs(float(claimed[i * n + j].mid())) + abs(float(difference.mid()))
            if float(gap.rad()) > 2.0**-52 * scale + truncation:
                return None
            if abs(float(gap.mid())) > 2.0**-50 * scale + truncation:
                return False
    return True
