"""The expression language as a user writes it: values, shapes, calls, exact numbers, limits and error places.

Expressions are compiled the way verify compiles a function: over the real SymPy symbols of its
arguments (`x`, `v[0]`, `A[1, 2]`). Results are checked against SymPy expressions built here by
hand, or against numbers from Python's math module, never against verify's own output.
"""

from __future__ import annotations

import dataclasses
import math
import textwrap
import time

import numpy as np
import pytest
import scipy.special
import sympy

from verify.case import Case, VariableSpec, load_file
from verify.errors import CaseError, Location
from verify.expr import LIMITS, Source, compile_expression
from verify.functions import ELEMENTWISE, REDUCTIONS
from verify.model import build_model, symbols_for

SHAPES = {"x": (), "y": (), "z": (), "u": (3,), "v": (3,), "w": (2,), "c": (3, 1), "A": (2, 3), "B": (3, 2),
          "S": (3, 3)}


def s(label: str) -> sympy.Symbol:
    """The symbol verify makes for a variable or an entry: s('x'), s('v[0]'), s('A[1, 2]')."""
    return sympy.Symbol(label, real=True)


def entry(name: str, *index: int) -> sympy.Symbol:
    return s(f"{name}[{', '.join(map(str, index))}]")


def compile_text(text: str, limits=LIMITS) -> np.ndarray:
    names = {name: symbols_for(VariableSpec(name, shape=shape)) for name, shape in SHAPES.items()}
    return compile_expression(Source(text, Location("e.yaml", 1, 1)), names, {}, limits=limits)


def one(text: str) -> sympy.Expr:
    value = compile_text(text)
    assert value.shape == (), f"{text} has shape {value.shape}"
    return value[()]


def same(a: sympy.Expr, b: sympy.Expr) -> bool:
    return sympy.simplify(sympy.sympify(a) - sympy.sympify(b)) == 0


def rejected(text: str, limits=LIMITS) -> CaseError:
    with pytest.raises(CaseError) as raised:
        compile_text(text, limits)
    assert raised.value.hint, "every error says what to do"
    return raised.value


def at(expr: sympy.Expr, **values: float) -> float:
    return float(expr.subs({s(k): sympy.nsimplify(v) for k, v in values.items()}).evalf(30))


x, y, z = s("x"), s("y"), s("z")


# -- arithmetic and numbers ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x + y", x + y), ("x - y", x - y), ("x * y", x * y), ("x / y", x / y), ("x ** 3", x**3),
        ("-x", -x), ("+x", x), ("-x**2", -(x**2)), ("2**3**2", sympy.Integer(512)), ("x/2/2", x / 4),
        ("(x + y) * z", (x + y) * z), ("x - -y", x + y), ("1/3", sympy.Rational(1, 3)), ("2**-1", sympy.Rational(1, 2)),
        ("pi", sympy.pi), ("E", sympy.E), ("2*pi*x", 2 * sympy.pi * x), ("x**0.5", sympy.sqrt(x)),
    ],
)
def test_arithmetic_follows_python_precedence_and_stays_exact(text, expected):
    result = one(text)
    assert same(result, expected)


@pytest.mark.parametrize(
    ("text", "exact"),
    [("0.1", sympy.Rational(1, 10)), ("1e-3", sympy.Rational(1, 1000)), ("2.5e-1", sympy.Rational(1, 4)),
     ("1e22", sympy.Integer(10) ** 22), ("0.1 + 0.2", sympy.Rational(3, 10)), ("3 * 0.1", sympy.Rational(3, 10)),
     ("-1.5", sympy.Rational(-3, 2))],
)
def test_floats_become_the_exact_rational_they_spell(text, exact):
    value = one(text)
    assert value == exact
    assert isinstance(value, sympy.Rational)


def test_a_long_decimal_is_read_as_written():
    assert one("0.12345678901234567890123") == sympy.Rational("0.12345678901234567890123")


def test_a_bare_yaml_number_is_an_exact_expression(write_case):
    model = build_model(load_case(write_case, """
        variables: [x]
        functions:
          f: 0.1
          g: 1e-6
          F: [2, 0.5, x]
    """))
    assert model.functions["f"].entries[()] == sympy.Rational(1, 10)
    assert model.functions["g"].entries[()] == sympy.Rational(1, 10**6)
    assert list(model.functions["F"].entries) == [2, sympy.Rational(1, 2), x]


# -- the functions of the language ---------------------------------------------------------------

def _sigmoid(t: float) -> float:
    return 1 / (1 + math.exp(-t))


# name -> (expression, a reference value from Python's own libraries)
FUNCTIONS = {
    "sin": ("sin(0.3)", math.sin(0.3)), "cos": ("cos(0.3)", math.cos(0.3)), "tan": ("tan(0.3)", math.tan(0.3)),
    "asin": ("asin(0.3)", math.asin(0.3)), "acos": ("acos(0.3)", math.acos(0.3)), "atan": ("atan(0.3)", math.atan(0.3)),
    "atan2": ("atan2(0.3, -0.7)", math.atan2(0.3, -0.7)),
    "sinh": ("sinh(0.3)", math.sinh(0.3)), "cosh": ("cosh(0.3)", math.cosh(0.3)), "tanh": ("tanh(0.3)", math.tanh(0.3)),
    "asinh": ("asinh(0.3)", math.asinh(0.3)), "acosh": ("acosh(1.7)", math.acosh(1.7)),
    "atanh": ("atanh(0.3)", math.atanh(0.3)),
    "exp": ("exp(0.3)", math.exp(0.3)), "log": ("log(0.3) + log(8, 2)", math.log(0.3) + 3.0),
    "log1p": ("log1p(0.3)", math.log1p(0.3)), "expm1": ("expm1(0.3)", math.expm1(0.3)),
    "sqrt": ("sqrt(0.3)", math.sqrt(0.3)), "abs": ("abs(-0.3)", 0.3), "sign": ("sign(-0.3) + 2*sign(0.5)", 1.0),
    "erf": ("erf(0.3)", math.erf(0.3)), "erfc": ("erfc(0.3)", math.erfc(0.3)),
    "gamma": ("gamma(0.3)", math.gamma(0.3)), "lgamma": ("lgamma(0.3)", math.lgamma(0.3)),
    "digamma": ("digamma(0.3)", float(scipy.special.digamma(0.3))),
    "sigmoid": ("sigmoid(0.3)", _sigmoid(0.3)), "softplus": ("softplus(0.3)", math.log1p(math.exp(0.3))),
    "relu": ("relu(-0.3) + relu(0.7)", 0.7),
    "min": ("min(0.3, -0.7, 2)", -0.7), "max": ("max(0.3, -0.7, 2)", 2.0),
    "where": ("where(0.3 > 0, 1, 2)", 1.0), "sum": ("sum([1, 2, 3.5])", 6.5),
    "dot": ("dot([1, 2], [3, 4])", 11.0), "norm": ("norm([3, -4]) + norm([3, -4], 1)", 12.0),
    "trace": ("trace([[1, 2], [3, 4]])", 5.0),
    "erfinv": ("erfinv(0.3)", float(scipy.special.erfinv(0.3))),
    "erfcinv": ("erfcinv(0.3)", float(scipy.special.erfcinv(0.3))),
    "ndtr": ("ndtr(0.3)", float(scipy.special.ndtr(0.3))), "log_ndtr": ("log_ndtr(-8)", float(scipy.special.log_ndtr(-8))),
    "ndtri": ("ndtri(0.3)", float(scipy.special.ndtri(0.3))), "sinc": ("sinc(0.3) + sinc(0)", float(np.sinc(0.3)) + 1),
    "i0": ("i0(0.3)", float(scipy.special.i0(0.3))), "i1": ("i1(0.3)", float(scipy.special.i1(0.3))),
    "i0e": ("i0e(-2.5)", float(scipy.special.i0e(-2.5))), "i1e": ("i1e(-2.5)", float(scipy.special.i1e(-2.5))),
    "polygamma": ("polygamma(2, 0.3)", float(scipy.special.polygamma(2, 0.3))),
    "xlogy": ("xlogy(0.3, 0.7) + xlogy(0, 0)", float(scipy.special.xlogy(0.3, 0.7))),
    "xlog1py": ("xlog1py(0.3, 0.7)", float(scipy.special.xlog1py(0.3, 0.7))),
    "logit": ("logit(0.3)", float(scipy.special.logit(0.3))),
    "floor": ("floor(-0.3)", -1.0), "ceil": ("ceil(-0.3)", 0.0), "trunc": ("trunc(-1.3)", -1.0),
    "round": ("round(2.5) + round(-0.5) + round(1.7)", 4.0),
    "frac": ("frac(-1.25)", -0.25), "fmod": ("fmod(-3, 2)", -1.0), "remainder": ("remainder(-3, 2)", 1.0),
    "mean": ("mean([1, 2, 6])", 3.0), "prod": ("prod([1, 2, 6])", 12.0),
    "softmax": ("softmax([0.3, -0.7])[0]", 1 / (1 + math.exp(-1.0))),
    "log_softmax": ("log_softmax([0.3, -0.7])[1]", -1.0 - math.log1p(math.exp(-1.0))),
    "logsumexp": ("logsumexp([0.3, -0.7])", 0.3 + math.log1p(math.exp(-1.0))),
    "det": ("det([[1, 2], [3, 4]])", -2.0), "inv": ("inv([[1, 2], [3, 4]])[1, 0]", 1.5),
    "solve": ("solve([[2, 0], [0, 4]], [1, 2])[1]", 0.5),
}


def test_the_function_table_covers_every_function_of_the_language():
    assert set(FUNCTIONS) == set(ELEMENTWISE) | set(REDUCTIONS)




@pytest.mark.parametrize(
    "name",
    sorted(FUNCTIONS),
)
def test_every_function_name_is_accepted_and_means_what_it_says(name):
    text, reference = FUNCTIONS[name]
    value = one(text)
    assert float(sympy.N(value, 30)) == pytest.approx(reference, rel=1e-12, abs=1e-15)


TWO_ARGUMENTS = {"atan2", "min", "max", "xlogy", "xlog1py", "fmod", "remainder", "polygamma"}


@pytest.mark.parametrize("name", sorted(set(ELEMENTWISE) - TWO_ARGUMENTS))
def test_elementwise_functions_map_over_vectors(name):
    value = compile_text(f"{name}(v)")
    assert value.shape == (3,)
    single = compile_text(f"{name}(x)")[()]
    for i in range(3):
        assert value[i] == single.subs(x, entry("v", i))


@pytest.mark.parametrize("name", sorted(TWO_ARGUMENTS - {"min", "max", "atan2", "polygamma"}))
def test_two_argument_functions_broadcast(name):
    value = compile_text(f"{name}(v, x)")
    assert value.shape == (3,)
    single = compile_text(f"{name}(y, x)")[()]
    for i in range(3):
        assert value[i] == single.subs(y, entry("v", i))


def test_polygamma_takes_a_non_negative_integer_literal_order(write_case):
    assert compile_text("polygamma(2, v)").shape == (3,)
    with pytest.raises(CaseError, match="order of polygamma must be a non-negative integer literal"):
        compile_text("polygamma(x, v)")
    with pytest.raises(CaseError, match="non-negative integer"):
        compile_text("polygamma(-1, x)")


# -- shapes --------------------------------------------------------------------------------------

def test_a_column_plus_a_row_broadcasts_to_a_matrix():
    value = compile_text("c + v")
    assert value.shape == (3, 3)
    for i in range(3):
        for j in range(3):
            assert value[i, j] == entry("c", i, 0) + entry("v", j)


@pytest.mark.parametrize(
    ("text", "shape"),
    [("x * v", (3,)), ("v + 1", (3,)), ("A + v", (2, 3)), ("A * A", (2, 3)), ("u * v", (3,)), ("c * A.T", (3, 2)),
     ("sin(c) * v", (3, 3))],
)
def test_elementwise_shapes_broadcast_as_in_numpy(text, shape):
    assert compile_text(text).shape == shape


@pytest.mark.parametrize("text", ["u + w", "A + w", "A * B", "c + A"])
def test_shapes_that_do_not_broadcast_are_rejected(text):
    error = rejected(text)
    assert "broadcast" in error.what


def test_matrix_products():
    Av = compile_text("A @ v")
    assert Av.shape == (2,)
    assert Av[1] == sum(entry("A", 1, k) * entry("v", k) for k in range(3))
    assert same(one("u @ v"), sum(entry("u", k) * entry("v", k) for k in range(3)))
    AB = compile_text("A @ B")
    assert AB.shape == (2, 2)
    assert AB[0, 1] == sum(entry("A", 0, k) * entry("B", k, 1) for k in range(3))
    wA = compile_text("w @ A")
    assert wA.shape == (3,) and wA[2] == entry("w", 0) * entry("A", 0, 2) + entry("w", 1) * entry("A", 1, 2)


@pytest.mark.parametrize(("text", "says"), [("x @ y", "@"), ("A @ A", "do not match"), ("v @ A", "do not match"),
                                            ("x @ v", "@")])
def test_matrix_products_need_matching_shapes(text, says):
    assert says in rejected(text).what


def test_transpose():
    At = compile_text("A.T")
    assert At.shape == (3, 2)
    assert At[2, 1] == entry("A", 1, 2)
    assert list(compile_text("v.T")) == list(compile_text("v"))  # a vector is its own transpose
    assert compile_text("c.T").shape == (1, 3)
    assert one("x.T") == x


@pytest.mark.parametrize(
    ("text", "expected"),
    [("v[0]", entry("v", 0)), ("v[2]", entry("v", 2)), ("v[-1]", entry("v", 2)), ("v[-3]", entry("v", 0)),
     ("A[1, 2]", entry("A", 1, 2)), ("A[-1, 0]", entry("A", 1, 0)), ("A[0, -1]", entry("A", 0, 2)),
     ("A.T[2, 1]", entry("A", 1, 2)), ("(A @ B)[0, 0]", sum(entry("A", 0, k) * entry("B", k, 0) for k in range(3)))],
)
def test_indexing_with_integer_literals(text, expected):
    assert same(one(text), expected)


@pytest.mark.parametrize(
    ("text", "says"),
    [("v[3]", "out of range"), ("v[-4]", "out of range"), ("A[2, 0]", "out of range"), ("A[0]", "index"),
     ("v[0, 0]", "index"), ("x[0]", "index"), ("v[x]", "integer literal"), ("v[0.5]", "integer literal"),
     ("v[0:2]", "integer literal")],
)
def test_bad_indexes_are_rejected(text, says):
    assert says in rejected(text).what


def test_reductions():
    assert same(one("sum(v)"), entry("v", 0) + entry("v", 1) + entry("v", 2))
    assert same(one("sum(A)"), sum(entry("A", i, j) for i in range(2) for j in range(3)))
    assert same(one("dot(u, v)"), sum(entry("u", k) * entry("v", k) for k in range(3)))
    assert same(one("norm(v)"), sympy.sqrt(sum(entry("v", k) ** 2 for k in range(3))))
    assert same(one("norm(v, 2)"), one("norm(v)"))
    assert same(one("norm(v, 1)"), sum(abs(entry("v", k)) for k in range(3)))
    assert same(one("trace(S)"), entry("S", 0, 0) + entry("S", 1, 1) + entry("S", 2, 2))
    assert same(one("sum(x)"), x)


@pytest.mark.parametrize(
    ("text", "says"),
    [("dot(u, w)", "dot"), ("dot(A, v)", "dot"), ("dot(v)", "2 argument"), ("trace(A)", "square"),
     ("trace(v)", "square"), ("norm(v, 3)", "order"), ("norm(v, x)", "order"), ("sum(v, 1)", "1 argument"),
     ("norm()", "argument")],
)
def test_reductions_reject_what_they_cannot_reduce(text, says):
    assert says in rejected(text).what


def test_where_with_a_comparison():
    value = one("where(x > 0, x, -x)")
    assert at(value, x=2) == 2 and at(value, x=-3) == 3


@pytest.mark.parametrize(
    ("op", "truth"),
    [("<", (True, False, False)), ("<=", (True, True, False)), (">", (False, False, True)),
     (">=", (False, True, True)), ("==", (False, True, False)), ("!=", (True, False, True))],
)
def test_where_takes_every_comparison(op, truth):
    value = one(f"where(x {op} 1, 10, 20)")
    assert tuple(at(value, x=t) == 10 for t in (0, 1, 2)) == truth


def test_where_with_a_chained_comparison_means_both():
    value = one("where(0 < x <= 1, 1, 0)")
    assert [at(value, x=t) for t in (-1, 0, 0.5, 1, 2)] == [0, 0, 1, 1, 0]


def test_where_broadcasts_its_condition_and_branches():
    value = compile_text("where(v > 0, v, 0)")
    assert value.shape == (3,)
    assert at(value[1], **{"v[1]": -2}) == 0 and at(value[1], **{"v[1]": 5}) == 5
    assert compile_text("where(c > 0, v, x)").shape == (3, 3)


@pytest.mark.parametrize("text", ["where(x, 1, 2)", "where(x > 0, 1)", "where(x > 0 and y > 0, 1, 2)", "x > 0",
                                  "x * (x < 1)", "where(x > 0, x < 1, 2)"])
def test_comparisons_are_only_conditions_of_where(text):
    rejected(text)


def test_min_and_max_elementwise():
    assert same(one("max(x, y)"), sympy.Max(x, y))
    assert same(one("min(x, y, 0)"), sympy.Min(x, y, 0))
    value = compile_text("max(v, 0)")
    assert value.shape == (3,) and value[2] == sympy.Max(entry("v", 2), 0)
    assert compile_text("min(c, v)").shape == (3, 3)


def test_min_and_max_of_one_value_reduce_over_its_entries():
    assert same(one("max(v)"), sympy.Max(entry("v", 0), entry("v", 1), entry("v", 2)))
    assert same(one("min(A)"), sympy.Min(*(entry("A", i, j) for i in range(2) for j in range(3))))
    assert one("max(x)") == x


def test_a_list_display_builds_a_vector():
    value = compile_text("[x, 2*y, sum(v)]")
    assert value.shape == (3,) and value[1] == 2 * y
    assert compile_text("[v, u]").shape == (2, 3)


# -- calls of declared functions -----------------------------------------------------------------

CALLS = """
    variables:
      x: {}
      y: {}
      v: {shape: [2]}
    functions:
      G:
        args: {w: {shape: [2]}}
        expr: w[0] * w[1]
      F: {args: [a, b], expr: [a + b, a - b]}
      Sq: {args: [t], expr: t**2}
      whole: G(v)
      spread: G(x, y)
      nested: F(F(x, y))
      into_vector: G(F(x, y))
      expression_argument: Sq(x + 2*y)
      case_variables: 3*x + y
      uses_case_function: case_variables(y, x, v)
"""


def load_case(write_case, text: str) -> Case:
    (case,) = load_file(write_case(textwrap.dedent(text)))
    assert isinstance(case, Case), case
    return case


def test_calls_pass_values_whole_or_spread(write_case):
    functions = build_model(load_case(write_case, CALLS)).functions
    v0, v1 = entry("v", 0), entry("v", 1)
    assert same(functions["whole"].entries[()], v0 * v1)
    assert same(functions["spread"].entries[()], x * y)
    nested = functions["nested"].entries
    assert nested.shape == (2,) and same(nested[0], 2 * x) and same(nested[1], 2 * y)
    assert same(functions["into_vector"].entries[()], (x + y) * (x - y))
    assert same(functions["expression_argument"].entries[()], (x + 2 * y) ** 2)
    # a function over the case variables takes them, in declared order, as its arguments
    assert same(functions["uses_case_function"].entries[()], 3 * y + x)


def test_a_called_function_keeps_its_own_argument_names_local(write_case):
    functions = build_model(load_case(write_case, CALLS)).functions
    assert [a.name for a in functions["F"].args] == ["a", "b"]
    assert functions["F"].entries[0].free_symbols == {s("a"), s("b")}
    assert functions["nested"].entries[0].free_symbols == {x}


@pytest.mark.parametrize(
    ("call", "says"),
    [("G(x)", ("G(w[2])", "scalar", "(2,)")), ("G(x, y, x)", ("G(w[2])", "3 value")),
     ("F(v, x)", ("F(a, b)", "(2,)", "scalar")), ("Sq(v)", ("Sq(t)", "(2,)")), ("G(v, v)", ("G(w[2])", "4 value")),
     ("F(x, y, x)", ("F(a, b)", "2 value", "3 value"))],
)
def test_calls_that_do_not_fit_name_both_sides(write_case, call, says):
    case = load_case(write_case, CALLS.replace("uses_case_function: case_variables(y, x, v)", f"bad: {call}"))
    with pytest.raises(CaseError) as raised:
        build_model(case)
    for part in says:
        assert part in raised.value.what


# -- limits --------------------------------------------------------------------------------------

def test_expression_length_limit():
    n = LIMITS.max_chars
    assert one("x" + " " * (n - 1)) == x
    assert "characters" in rejected("x" + " " * n).what


def test_syntax_node_limit():
    assert one("sum([" + ", ".join(["x"] * 1000) + "])") == 1000 * x
    assert "syntax nodes" in rejected("sum([" + ", ".join(["x"] * (LIMITS.max_nodes + 1)) + "])").what


def test_nesting_limit():
    assert one("sin(" * 40 + "x" + ")" * 40).has(x)
    assert "nests deeper" in rejected("sin(" * (LIMITS.max_depth + 1) + "x" + ")" * (LIMITS.max_depth + 1)).what
    assert "nests deeper" in rejected("(x + " * (LIMITS.max_depth + 1) + "x" + ")" * (LIMITS.max_depth + 1)).what


def test_exponent_limit():
    n = LIMITS.max_exponent
    assert one(f"x**{n}") == x**n and one(f"x**-{n}") == x**-n
    assert "exponent" in rejected(f"x**{n + 1}").what
    assert "exponent" in rejected(f"x**-{n + 1}").what
    assert "exponent" in rejected(f"x**{n + 0.5}").what


def test_digit_limit_of_literals():
    n = LIMITS.max_digits
    assert one("9" * n) == sympy.Integer(10) ** n - 1
    assert "digits" in rejected("9" * (n + 1)).what


def test_digit_limit_of_computed_numbers():
    assert one("2**100") == 2**100
    for text in ("9**9**9**9", "10**10**10", f"(10**{LIMITS.max_digits // 2})**4", "7**-100000"):
        start = time.perf_counter()
        assert "digits" in rejected(text).what
        assert time.perf_counter() - start < 1


@pytest.mark.parametrize("text", ["2**-1022", "10**600", "2**1500"])
def test_numbers_under_the_digit_limit_are_accepted(text):
    value = one(text)
    assert len(str(value.p)) <= LIMITS.max_digits and len(str(value.q)) <= LIMITS.max_digits


@pytest.mark.parametrize("text", ["gamma(3000)", "x * gamma(1000000)", "digamma(20000)", "lgamma(9**9)"])
def test_special_functions_of_large_integers_stay_unevaluated(text):
    # computed exactly, gamma(10**6) has millions of digits: it stays symbolic and is evaluated numerically
    start = time.perf_counter()
    value = compile_text(text)
    assert time.perf_counter() - start < 1
    assert any(f.func.__name__ in ("gamma", "loggamma", "digamma") for f in value[()].atoms(sympy.Function))


def test_entry_limit():
    small = dataclasses.replace(LIMITS, max_entries=8)
    assert compile_text("v + x", small).shape == (3,)
    assert "entries" in rejected("c + v", small).what  # 9 entries


def test_matrix_product_limit():
    assert compile_text("A @ B", dataclasses.replace(LIMITS, max_matmul_terms=12)).shape == (2, 2)
    assert "products" in rejected("A @ B", dataclasses.replace(LIMITS, max_matmul_terms=11)).what


def test_constant_division_by_zero_is_rejected():
    for text in ("1/0", "x/0", "0**-1", "x + log(0)"):
        assert "division by zero" in rejected(text).what or "infinite" in rejected(text).what


# -- outside the language ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    ["x if x > 0 else -x", "x and y", "x or y", "not x", "~x", "x // 2", "x % 2", "x << 1", "x & y", "x ^ y",
     "{x: 1}", "(x, y)", "{x}", 'f"{x}"', "(y := x)", "True", "None", "1j", "'s'", "b's'", "...",
     "__import__('os')", "x.real", "x.T.real", "x.__class__", "getattr(x, 'T')", "(lambda: 1)()",
     "[t for t in v]", "sum(t for t in v)", "sin(*v)", "sin(x=1)", "log(x, base=2)", "import os", "x; y", "x = 1",
     "sin", "foo", "foo(x)", "sin(x, y)", "atan2(x)", "log(x, 2, 3)", "x[0:1]", "[]", "[x, v]", "yield x",
     "await x", "x @ y"],
)
def test_everything_outside_the_whitelist_is_rejected(text):
    rejected(text)


# -- where errors point ----------------------------------------------------------------------------

def model_error(write_case, text: str) -> tuple[CaseError, list[str]]:
    path = write_case(text)
    items = load_file(path, "case.yaml")
    assert len(items) == 1 and isinstance(items[0], Case), items
    with pytest.raises(CaseError) as raised:
        build_model(items[0])
    return raised.value, textwrap.dedent(text).lstrip("\n").splitlines()


HEAD = "variables:\n  x: {}\n  y: {}\n  v: {shape: [3]}\nfunctions:\n"


@pytest.mark.parametrize(
    ("line", "token"),
    [
        ("  f: x + zz", "zz"),
        ("  f: 1 + foo(x)", "foo"),
        ("  f: x + 'a'", "'a'"),
        ("  f: v[0] + v[5]", "v[5]"),
        ("  f: x * (y > 0)", "y > 0"),
        ("  f: x + sin(x, y)", "sin"),
        ("  f: 2 * x.real", "x.real"),
        ("  f: x + y**5000", "y**5000"),
        ("  f: sum(v) + (v + [x, y])[0]", "v + [x, y]"),
        ("  f: x + v @ v @ v", "v @ v @ v"),
        ('  f: "x + zz"', "zz"),
        ("  f: 'x + zz'", "zz"),
        ('  F: [x, "y + zz", x]', "zz"),
        ("  F: [x, y + zz]", "zz"),
        ("  F: [[x, y], [y, x + zz]]", "zz"),
        ("  G: {args: [a, b], expr: a + zz}", "zz"),
        ("  f: x + (x if x else y)", "x if x"),
        ("  f: y + where(x, 1, 0)", "x, 1"),
    ],
)
def test_error_columns_point_at_the_offending_token(write_case, line, token):
    error, _ = model_error(write_case, HEAD + line + "\n")
    assert error.where.file == "case.yaml"
    assert error.where.line == 6
    assert error.where.col == line.index(token) + 1, f"{error.render()}\n{line}\n{' ' * (error.where.col - 1)}^"


def test_error_columns_in_expect(write_case):
    error, lines = model_error(write_case, HEAD + "  f: x * y\nchecks:\n  - gradient: f\n    expect: [y, x, zz]\n")
    assert (error.where.line, error.where.col) == (9, lines[8].index("zz") + 1)


def test_error_column_in_a_quoted_expression_with_leading_spaces(write_case):
    error, lines = model_error(write_case, HEAD + '  f: "  x + zz"\n')
    assert (error.where.line, error.where.col) == (6, lines[5].index("zz") + 1)


@pytest.mark.parametrize(
    "body",
    ["  f: |\n    (x +\n     zz)\n", "  f: >\n    x +\n    zz\n", "  f: (x +\n    zz)\n", '  f: "x +\n    zz"\n'],
    ids=["literal-block", "folded-block", "plain-multi-line", "quoted-multi-line"],
)
def test_error_location_in_a_multi_line_expression(write_case, body):
    error, lines = model_error(write_case, HEAD + body)
    line = next(number for number, text in enumerate(lines, start=1) if "zz" in text)
    assert (error.where.line, error.where.col) == (line, lines[line - 1].index("zz") + 1)
