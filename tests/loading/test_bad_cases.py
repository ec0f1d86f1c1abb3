"""The corpus of malformed and hostile case files in tests/bad_cases: each one is reported, located and cheap.

Every file of the corpus has one entry in BAD below: the line of the problem, the column where a
precise one is expected (given as the text the column points at, or as a number), and a part of
the message. For each file, every item that `load_file` gives is run through `run_case`; the file
must produce a `load` error whose message starts with FILE:LINE[:COL], contains the expected text
and a hint, and loading plus compiling must take less than a second.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from verify.case import Case, load_file
from verify.errors import CaseError
from verify.model import build_model
from verify.run import Result, run_case

BAD_DIR = Path(__file__).resolve().parent.parent / "bad_cases"


@dataclass(frozen=True)
class Expected:
    """Where a corpus file's error must point and what its message must say."""

    line: int
    at: str | int | None  # the text the column points at (first occurrence on the line), a column, or None: any
    says: str | tuple[str, ...]  # substring(s) of the message (hint included)
    bug: str | None = None  # a known bug in verify: the file's test is a strict xfail

    def column(self, path: Path) -> int | None:
        if self.at is None or isinstance(self.at, int):
            return self.at
        text = path.read_bytes().decode("utf-8", errors="replace").splitlines()[self.line - 1]
        assert self.at in text, f"table error: {self.at!r} is not on line {self.line} of {path.name}"
        return text.index(self.at) + 1

    def substrings(self) -> tuple[str, ...]:
        return (self.says,) if isinstance(self.says, str) else self.says



BAD: dict[str, Expected] = {
    # YAML traps: characters YAML reads itself
    "unquoted_flow_list_with_brackets.yaml": Expected(4, "[0]", ("invalid YAML", "must be quoted")),
    "unquoted_colon_space_in_expression.yaml": Expected(4, ": 2", ("mapping values", "quote")),
    "unquoted_atan2_in_flow_list.yaml": Expected(4, None, ("atan2(x", "quote the expression")),
    "value_starting_with_star.yaml": Expected(4, "*x", ("alias", "must be quoted")),
    "tab_indentation.yaml": Expected(4, 1, "tab"),
    "duplicate_top_level_key.yaml": Expected(5, "variables", ("duplicate key 'variables'", "line 2")),
    "duplicate_function_name.yaml": Expected(6, "f:", ("duplicate key 'f'", "line 4")),
    "python_object_tag.yaml": Expected(2, "!!python", "tag"),
    "python_object_tag_on_list.yaml": Expected(2, "!!python", "tag"),
    "alias_bomb.yaml": Expected(4, None, "expands to more than"),
    "merge_key.yaml": Expected(4, "<<", "<<"),
    "non_string_key.yaml": Expected(4, "1:", "plain name"),
    "document_is_a_list.yaml": Expected(2, "-", "must be a map"),
    "empty_file.yaml": Expected(1, None, "no case"),
    "invalid_utf8.yaml": Expected(4, None, "decode"),
    # the case's structure
    "unknown_top_level_key_near_miss.yaml": Expected(4, None, ("unknown key 'fucntions'", "did you mean 'functions'")),
    "unknown_check_key.yaml": Expected(7, None, ("unknown key 'expected'", "did you mean 'expect'")),
    "variable_spec_unknown_key.yaml": Expected(3, None, ("unknown key 'lo'", "did you mean 'low'")),
    "missing_variables.yaml": Expected(2, None, "no variables"),
    "missing_functions.yaml": Expected(2, None, "no functions"),
    "variables_empty.yaml": Expected(2, "[]", "empty"),
    "tags_not_strings.yaml": Expected(2, "{kind", "tag must be a string"),
    "description_not_string.yaml": Expected(2, "[a, b]", "description must be a string"),
    "seed_not_integer.yaml": Expected(5, "1.5", "seed"),
    "points_random_not_integer.yaml": Expected(5, "many", "random"),
    "dtypes_not_a_list.yaml": Expected(5, "{float64", "must be a list"),
    "tolerance_not_a_number.yaml": Expected(5, "tight", "rtol"),
    "tolerance_negative.yaml": Expected(5, "-1e-3", "negative"),
    "tolerance_mixed_forms.yaml": Expected(5, "{rtol", "mixes"),
    "xfail_not_string.yaml": Expected(7, "true", "xfail must be a string"),
    "unknown_dtype.yaml": Expected(5, "float16", ("float16", "float64")),
    "unknown_device.yaml": Expected(5, "tpu", ("tpu", "cpu")),
    "unknown_mode.yaml": Expected(5, "reverse", ("reverse", "rev")),
    "variable_named_sin.yaml": Expected(2, "sin", "taken by the expression language"),
    "variable_named_dunder_class.yaml": Expected(2, "__class__", "not a valid name"),
    "variable_declared_twice.yaml": Expected(2, "x]", "declared twice"),
    "function_named_like_variable.yaml": Expected(3, None, "name of a variable"),
    "function_without_expr.yaml": Expected(4, "{args", "no expr"),
    "impl_not_module_callable.yaml": Expected(4, "mypkg", "module:callable"),
    "case_name_with_double_colon.yaml": Expected(2, '"a::b"', "invalid case name"),
    "duplicate_case_names.yaml": Expected(5, None, ("'same'", "twice")),
    "shape_zero_dimension.yaml": Expected(3, "0]", "dimension"),
    "shape_five_dimensions.yaml": Expected(3, "[1, 1", "dimensions"),
    "low_not_below_high.yaml": Expected(4, "{low: 2", "must be below high"),
    "at_point_missing_variable.yaml": Expected(9, "{x: 3}", "no value for y"),
    "at_point_wrong_shape.yaml": Expected(6, "[1, 2]", "shape"),
    "point_unknown_variable.yaml": Expected(5, None, "'z'"),
    "random_zero_without_at.yaml": Expected(5, "{random: 0}", "no point"),
    # checks
    "check_with_two_kinds.yaml": Expected(6, "{jacobian", ("exactly one kind", "jacobian, hessian")),
    "check_without_kind.yaml": Expected(6, "expect", ("exactly one kind", "none")),
    "check_is_just_a_name.yaml": Expected(6, "f", ("kind", "jacobian: f")),
    "check_target_unknown.yaml": Expected(6, "g", ("'g' is not a declared function", "declared: f")),
    "checks_empty.yaml": Expected(5, "[]", "checks is empty"),
    "gradient_of_non_scalar.yaml": Expected(6, "gradient", ("not scalar", "(2,)")),
    "chain_rule_on_non_composition.yaml": Expected(6, "chain_rule", "not a composition"),
    "expect_wrong_shape.yaml": Expected(7, None, ("(3,)", "(2, 2)")),
    "expect_unknown_name.yaml": Expected(7, 15, "unknown name 'x'"),
    # the expression language: names, calls, syntax outside the whitelist
    "unknown_name.yaml": Expected(4, "z", "unknown name 'z'"),
    "unknown_function.yaml": Expected(4, "arcsin", ("unknown function 'arcsin'", "did you mean 'asin'")),
    "wrong_arity.yaml": Expected(4, "sin", ("sin takes 1 argument", "2 given")),
    "call_function_defined_below.yaml": Expected(4, "G(", ("defined below", "line 5")),
    "attribute_dunder_class.yaml": Expected(4, "x.__class__", ".__class__"),
    "attribute_real.yaml": Expected(4, "x.real", ".real"),
    "keyword_argument.yaml": Expected(4, "log(", "keyword"),
    "lambda_expression.yaml": Expected(4, "(lambda", "lambda"),
    "list_comprehension.yaml": Expected(4, "[x**k", "comprehension"),
    "string_literal.yaml": Expected(4, "'one'", "'one'"),
    "boolean_literal.yaml": Expected(4, "True", "True"),
    "dunder_import_call.yaml": Expected(4, "__import__", "__import__"),
    "if_expression.yaml": Expected(4, "x if", "if-expression"),
    "floor_division.yaml": Expected(4, "x // 2", "//"),
    "comparison_outside_where.yaml": Expected(4, "x > 0", ("comparison", "where")),
    "where_condition_not_comparison.yaml": Expected(4, "x, x", "must be a comparison"),
    "slice_index.yaml": Expected(5, "0:2", "integer literal"),
    "index_not_literal.yaml": Expected(5, "1 + 1", "integer literal"),
    "index_out_of_range.yaml": Expected(5, "v[3]", ("index 3", "out of range")),
    "norm_order_3.yaml": Expected(5, "norm", "order"),
    "trace_of_non_square.yaml": Expected(5, "trace", ("square", "(2, 3)")),
    "division_by_zero.yaml": Expected(4, None, "division by zero"),
    "float_literal_overflow.yaml": Expected(4, "1e400", "not finite"),
    "expression_empty.yaml": Expected(4, '""', "empty expression"),
    # limits
    "power_tower.yaml": Expected(4, None, "digits"),
    "literal_2000_digits.yaml": Expected(4, "7777", "digits"),
    "exponent_over_limit.yaml": Expected(4, "x**5000", "exponent"),
    "nested_parentheses_150.yaml": Expected(4, None, "nests deeper"),
    "unary_minus_5000.yaml": Expected(4, "-", "expression"),
    "expression_over_20000_chars.yaml": Expected(4, "x + x", "characters long"),
    "variable_shape_too_large.yaml": Expected(3, "[1025", "entries"),
    # shapes and compositions
    "broadcast_shape_mismatch.yaml": Expected(6, "u + w", ("(3,)", "(2,)", "broadcast")),
    "matmul_of_scalars.yaml": Expected(4, "x @ y", "@"),
    "composition_arity_mismatch.yaml": Expected(6, "F(G", ("F(a, b, c)", "3 value(s)", "2 value(s)")),
    "call_argument_shape_mismatch.yaml": Expected(8, "G(v)", ("(3,)", "(2,)")),
    "list_entries_different_shapes.yaml": Expected(6, None, "different shapes"),
    # several documents: one broken document among good ones
    "multi_document_second_broken.yaml": Expected(12, "y", "unknown name 'y'"),
    "multi_document_yaml_error_in_second.yaml": Expected(8, 1, "tab"),
}

SLOW_BUGS: dict[str, str] = {}  # files whose timing test is a known, non-strict failure


def _corpus() -> list[Path]:
    return sorted(p for p in BAD_DIR.iterdir() if p.suffix in (".yaml", ".yml"))


def _params(bugs: dict[str, str], strict: bool = True) -> list[object]:
    return [pytest.param(name, id=name.removesuffix(".yaml"),
                         marks=[pytest.mark.xfail(strict=strict, reason=bugs[name])] if name in bugs else [])
            for name in sorted(BAD)]


def _load_and_compile_seconds(path: Path) -> float:
    """Seconds to load `path` and compile every case it holds (what a bad file costs before any check runs)."""
    start = time.perf_counter()
    for item in load_file(path, str(path)):
        if isinstance(item, Case):
            with contextlib.suppress(CaseError):
                build_model(item)
    return time.perf_counter() - start


def test_the_corpus_is_large_enough():
    assert len(_corpus()) >= 32


def test_every_corpus_file_has_an_entry():
    missing = [p.name for p in _corpus() if p.name not in BAD]
    assert not missing, f"add these files to BAD in {Path(__file__).name}: {missing}"


def test_every_entry_has_a_corpus_file():
    names = {p.name for p in _corpus()}
    assert not [name for name in BAD if name not in names]


def test_generated_files_are_what_their_names_say():
    long_expr = (BAD_DIR / "expression_over_20000_chars.yaml").read_text().splitlines()[3]
    assert len(long_expr.split(": ", 1)[1]) > 20_000
    digits = (BAD_DIR / "literal_2000_digits.yaml").read_text().splitlines()[3]
    assert "7" * 2000 in digits and "7" * 2001 not in digits
    nested = (BAD_DIR / "nested_parentheses_150.yaml").read_text().splitlines()[3]
    assert nested.count("(") == nested.count(")") == 150
    assert (BAD_DIR / "empty_file.yaml").read_bytes() == b""


def _bug_marks() -> dict[str, str]:
    return {name: e.bug for name, e in BAD.items() if e.bug}


@pytest.mark.parametrize("name", _params(_bug_marks()))
def test_bad_case_is_reported_with_its_location(name: str):
    path = BAD_DIR / name
    expected = BAD[name]
    items = load_file(path, str(path))
    results = [r for item in items for r in run_case(item)]
    errors = [r for r in results if r.status == "error" and r.check == "load"]
    assert errors, f"no load error for {name}; records: {[(r.check, r.status, r.message) for r in results]}"
    column = expected.column(path)
    head = re.escape(str(path)) + f":{expected.line}" + (f":{column}" if column else r"(:\d+)?") + ": "
    located = [r for r in errors if re.match(head, r.message)]
    assert located, f"expected {path.name}:{expected.line}:{column or '*'}, got: {[r.message for r in errors]}"
    message = located[0].message
    for part in expected.substrings():
        assert part in message
    assert "\n  hint: " in message
    assert located[0].line == expected.line


@pytest.mark.parametrize("name", _params(SLOW_BUGS, strict=False))
def test_bad_case_loads_and_compiles_in_under_a_second(name: str):
    seconds = _load_and_compile_seconds(BAD_DIR / name)
    assert seconds < 1.0, f"{name}: {seconds:.2f} s"


def _statuses(results: list[Result]) -> set[str]:
    return {r.status for r in results}


def test_multi_document_file_runs_the_good_documents():
    path = BAD_DIR / "multi_document_second_broken.yaml"
    items = load_file(path, str(path))
    assert [item.name for item in items] == ["first", "second", "third"]
    first, second, third = (run_case(item) for item in items)
    assert first and _statuses(first) == {"pass"}
    assert third and _statuses(third) == {"pass"}
    assert [(r.check, r.status) for r in second] == [("load", "error")]
    assert {r.check for r in first} == {"gradient"} and {r.check for r in third} == {"gradient"}


def test_yaml_error_in_second_document_keeps_the_first():
    path = BAD_DIR / "multi_document_yaml_error_in_second.yaml"
    items = load_file(path, str(path))
    assert [item.name for item in items][:1] == ["first"]
    assert isinstance(items[0], Case)


def test_cli_reports_every_bad_file_and_goes_on(run_cli, write_case, tmp_path):
    good = write_case("""
        name: good
        variables: [x]
        functions:
          f: x**3
        checks:
          - gradient: f
            expect: 3*x**2
        points: {random: 8}
    """, name="good/good_case.yaml")
    # named one by one: a folder yields only the files that look like cases (the others are skipped)
    code, output = run_cli(*(str(p) for p in _corpus()), str(good), "--report-dir", str(tmp_path / "reports"))
    assert code == 1
    lines = output.splitlines()
    for path in _corpus():
        assert any(line.startswith("ERROR") and f"/{path.name}::" in line for line in lines), path.name
    assert any(line.startswith("PASS") and "/good_case.yaml::good" in line for line in lines), output
    for name in ("first", "third"):
        assert any(line.startswith("PASS") and f"/multi_document_second_broken.yaml::{name}" in line for line in lines)
    records = json.loads((tmp_path / "reports" / "report.json").read_text())
    good_rows = [r for r in records if r["case"] == "good"]
    assert good_rows and {r["status"] for r in good_rows} == {"pass"}
    load_errors = {Path(r["file"]).name for r in records if r["check"] == "load" and r["status"] == "error"}
    assert {p.name for p in _corpus()} <= load_errors
