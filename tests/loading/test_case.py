"""verify.case: case files -> frozen Case objects, with the defaults and forms the case format promises."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from verify.case import DEFAULT_TOLERANCES, Case, LoadFailure, Tolerance, discover, load_file
from verify.expr import Source
from verify.model import build_model


def load_case(write_case, text: str, name: str = "case.yaml") -> Case:
    items = load_file(write_case(text, name=name))
    assert len(items) == 1
    (case,) = items
    assert isinstance(case, Case), case.error.render() if isinstance(case, LoadFailure) else case
    return case


def load_failure(write_case, text: str, name: str = "case.yaml") -> LoadFailure:
    items = load_file(write_case(text, name=name))
    failures = [item for item in items if isinstance(item, LoadFailure)]
    assert failures, f"no failure for {text!r}"
    return failures[0]


MINIMAL = "variables: [x]\nfunctions:\n  f: x**2\n"


def minimal_with(extra: str) -> str:
    """MINIMAL followed by `extra` (dedented): the minimal case with more keys."""
    return MINIMAL + textwrap.dedent(extra).lstrip("\n")


# -- defaults ------------------------------------------------------------------------------------

def test_defaults_of_a_minimal_case(write_case):
    path = write_case(MINIMAL, name="my_case.yaml")
    (case,) = load_file(path)
    assert isinstance(case, Case)
    assert case.name == "my_case"
    assert case.id == f"{path}::my_case"
    assert case.description == ""
    assert case.tags == ()
    assert case.checks is None
    assert case.seed == 0
    assert case.dtypes == ("float64",)
    assert case.devices == ("auto",)
    assert case.modes == ("rev", "fwd")
    assert case.points.random == 64 and case.points.at == ()
    assert case.xfail is None
    assert [(v.name, v.low, v.high, v.shape) for v in case.variables] == [("x", -1.0, 1.0, ())]


def test_default_tolerances_fit_each_dtype(write_case):
    case = load_case(write_case, MINIMAL)
    float64, float32 = case.tolerance_for("float64"), case.tolerance_for("float32")
    # float64: a relative error of 1e-6 must fail; float32 is looser than float64
    assert float64.atol + float64.rtol * 1.0 < 1e-6
    assert float32.rtol > float64.rtol and float32.atol > float64.atol
    assert float32.rtol >= 1e-6  # float32 keeps about 7 digits: correct code must pass


def test_without_checks_every_function_gets_a_jacobian_and_every_composition_a_chain_rule(write_case):
    case = load_case(write_case, """
        variables: [x, y]
        functions:
          G: [x + y, x * y]
          F: {args: [u, v], expr: u * v}
          H: F(G(x, y))
    """)
    checks = build_model(case).checks
    assert [(c.kind, c.target) for c in checks] == [
        ("jacobian", "G"), ("jacobian", "F"), ("jacobian", "H"), ("chain_rule", "H")]


def test_a_multi_document_file_names_its_cases_stem_dash_n(write_case):
    path = write_case("""
        variables: [x]
        functions: {f: x}
        ---
        name: named
        variables: [x]
        functions: {f: x}
        ---
        variables: [y]
        functions: {g: y}
    """, name="several.yaml")
    items = load_file(path)
    assert [item.name for item in items] == ["several-1", "named", "several-3"]
    assert all(isinstance(item, Case) for item in items)
    assert [item.id for item in items] == [f"{path}::several-1", f"{path}::named", f"{path}::several-3"]


def test_a_broken_document_keeps_its_default_name(write_case):
    path = write_case("""
        variables: [x]
        functions: {f: x}
        ---
        variables: [x]
        funtions: {f: x}
    """, name="two.yaml")
    first, second = load_file(path)
    assert isinstance(first, Case) and first.name == "two-1"
    assert isinstance(second, LoadFailure) and second.name == "two-2"


def test_a_trailing_document_marker_changes_nothing(write_case):
    path = write_case(minimal_with("---\n"), name="trailing.yaml")
    items = load_file(path)
    assert [(type(item).__name__, item.name) for item in items] == [("Case", "trailing")]


def test_a_file_without_a_case_is_a_load_failure(write_case):
    failure = load_failure(write_case, "# nothing here yet\n", name="empty.yaml")
    assert failure.name == "empty"
    assert failure.error.where.line == 1


# -- variables and arguments ---------------------------------------------------------------------

def test_variables_as_a_list_of_names(write_case):
    case = load_case(write_case, """
        variables: [x, theta_1, y]
        functions: {f: x + theta_1 * y}
    """)
    assert [v.name for v in case.variables] == ["x", "theta_1", "y"]
    assert all((v.low, v.high, v.shape) == (-1.0, 1.0, ()) for v in case.variables)


def test_variables_as_a_map_with_specs_keep_their_order(write_case):
    case = load_case(write_case, """
        variables:
          z: {low: -2, high: 2}
          v: {shape: [3]}
          A: {low: 0.5, high: 1e1, shape: [2, 3]}
          w:
        functions: {f: z + sum(v) + sum(A) + w}
    """)
    specs = {v.name: (v.low, v.high, v.shape) for v in case.variables}
    assert [v.name for v in case.variables] == ["z", "v", "A", "w"]
    assert specs == {"z": (-2.0, 2.0, ()), "v": (-1.0, 1.0, (3,)), "A": (0.5, 10.0, (2, 3)), "w": (-1.0, 1.0, ())}


def test_list_and_map_definitions_take_the_case_variables(write_case):
    case = load_case(write_case, """
        variables: [x, y]
        functions:
          f: x * y
          F: [x, y]
          G: {expr: x + y}
    """)
    assert [f.args for f in case.functions] == [None, None, None]
    model = build_model(case)
    assert [a.name for a in model.functions["G"].args] == ["x", "y"]


def test_an_argument_named_like_a_case_variable_takes_its_spec(write_case):
    case = load_case(write_case, """
        variables:
          x: {low: -3, high: 5}
          v: {low: 0, high: 2, shape: [2]}
        functions:
          F: {args: [v, x, u], expr: "x * u + v[0]"}
          G:
            args: {x: {high: 9}, v: {shape: [3]}, u: {low: 1, high: 4}}
            expr: x * u + v[2]
    """)
    F, G = case.functions
    assert [(a.name, a.low, a.high, a.shape) for a in F.args] == [
        ("v", 0.0, 2.0, (2,)), ("x", -3.0, 5.0, ()), ("u", -1.0, 1.0, ())]
    # an argument's own spec wins key by key; what it leaves out comes from the case variable
    assert [(a.name, a.low, a.high, a.shape) for a in G.args] == [
        ("x", -3.0, 9.0, ()), ("v", 0.0, 2.0, (3,)), ("u", 1.0, 4.0, ())]


def test_an_inherited_interval_must_still_be_an_interval(write_case):
    failure = load_failure(write_case, """
        variables:
          x: {low: 2, high: 5}
        functions:
          F: {args: {x: {high: 1}}, expr: x}
    """)
    assert failure.error.where.line == 4
    assert "below" in failure.error.what


# -- tolerance -----------------------------------------------------------------------------------

def test_a_flat_tolerance_applies_to_every_dtype(write_case):
    case = load_case(write_case, minimal_with("tolerance: {rtol: 1e-6, atol: 1e-9}\n"))
    assert case.tolerance_for("float64") == Tolerance(rtol=1e-6, atol=1e-9)
    assert case.tolerance_for("float32") == Tolerance(rtol=1e-6, atol=1e-9)


def test_a_partial_flat_tolerance_keeps_each_dtypes_default_for_the_rest(write_case):
    case = load_case(write_case, minimal_with("tolerance: {rtol: 1e-3}\n"))
    for dtype in ("float64", "float32"):
        assert case.tolerance_for(dtype) == Tolerance(rtol=1e-3, atol=DEFAULT_TOLERANCES[dtype].atol)


def test_a_per_dtype_tolerance_sets_only_the_dtypes_it_names(write_case):
    case = load_case(write_case, minimal_with("tolerance: {float32: {rtol: 1e-3}}\n"))
    assert case.tolerance_for("float32") == Tolerance(rtol=1e-3, atol=DEFAULT_TOLERANCES["float32"].atol)
    assert case.tolerance_for("float64") == DEFAULT_TOLERANCES["float64"]


def test_a_per_dtype_tolerance_for_both_dtypes(write_case):
    case = load_case(write_case, minimal_with("tolerance: {float64: {atol: 0}, float32: {rtol: 0.01, atol: 0.001}}\n"))
    assert case.tolerance_for("float64") == Tolerance(rtol=DEFAULT_TOLERANCES["float64"].rtol, atol=0.0)
    assert case.tolerance_for("float32") == Tolerance(rtol=0.01, atol=0.001)


def test_a_check_tolerance_overrides_the_case_tolerance(write_case):
    case = load_case(write_case, minimal_with("""
        tolerance: {rtol: 1e-5}
        checks:
          - jacobian: f
            tolerance: {float32: {rtol: 1e-2}}
          - value: f
    """))
    tight, plain = case.checks
    assert case.tolerance_for("float32", tight).rtol == 1e-2
    assert case.tolerance_for("float64", tight).rtol == 1e-5  # the check says nothing about float64
    assert case.tolerance_for("float32", plain).rtol == 1e-5


@pytest.mark.parametrize(
    ("tolerance", "says"),
    [("{rtol: -1}", "negative"), ("{rtol: .nan}", "finite"), ("{rtol: 1e-6, float32: {rtol: 1}}", "mixes"),
     ("{float16: {rtol: 1}}", "float16"), ("{rtol: '1e-6'}", "number"), ("1e-6", "map"),
     ("{float32: 1e-3}", "map"), ("{rtol: true}", "number")],
)
def test_bad_tolerances_are_rejected(write_case, tolerance, says):
    failure = load_failure(write_case, minimal_with(f"tolerance: {tolerance}\n"))
    assert says in failure.error.render()
    assert failure.error.where.line == 4


# -- checks --------------------------------------------------------------------------------------

def test_checks_are_parsed_with_their_options(write_case):
    case = load_case(write_case, """
        variables: [x, y]
        functions:
          f: x**2 * y
          F: [x * y, x + y]
          H: f(x, y)
        checks:
          - value: F
          - gradient: f
            expect: [2*x*y, x**2]
          - hessian: f
            expect: [[2*y, 2*x], [2*x, 0]]
            xfail: a reason
          - jacobian: F
          - chain_rule: H
            tolerance: {rtol: 1e-4}
    """)
    kinds = [(c.kind, c.target) for c in case.checks]
    assert kinds == [("value", "F"), ("gradient", "f"), ("hessian", "f"), ("jacobian", "F"), ("chain_rule", "H")]
    value, gradient, hessian, jacobian, chain = case.checks
    assert [s.text for s in gradient.expect] == ["2*x*y", "x**2"]
    assert all(isinstance(s, Source) for s in gradient.expect)
    assert [[s.text for s in row] for row in hessian.expect] == [["2*y", "2*x"], ["2*x", "0"]]
    assert hessian.xfail == "a reason" and value.xfail is None
    assert chain.tolerance is not None and chain.tolerance["float64"].rtol == 1e-4
    assert jacobian.expect is None and jacobian.tolerance is None
    assert [c.where.line for c in case.checks] == [7, 8, 10, 13, 14]


def test_expect_may_be_one_string_or_a_bare_number(write_case):
    case = load_case(write_case, """
        variables: [x]
        functions: {f: 3*x}
        checks:
          - gradient: f
            expect: 3
          - value: f
            expect: 3*x
    """)
    assert case.checks[0].expect.text == "3"
    assert case.checks[1].expect.text == "3*x"


@pytest.mark.parametrize(
    ("check", "says"),
    [("{jacobian: f, gradient: f}", "jacobian, gradient"), ("{expect: 2*x}", "none"), ("{}", "none"),
     ("{jacobian: f, hessian: f, value: f}", "exactly one")],
)
def test_a_check_has_exactly_one_kind_key(write_case, check, says):
    failure = load_failure(write_case, minimal_with(f"checks:\n  - {check}\n"))
    assert "exactly one kind" in failure.error.what and says in failure.error.what
    assert failure.error.where.line == 5


@pytest.mark.parametrize(("check", "says"), [("{jacobian: g}", "not a declared function"),
                                             ("{jacobian: [f]}", "string"), ("jacobian", "map"),
                                             ("{jacobian: f, expected: 2*x}", "did you mean 'expect'")])
def test_malformed_checks_are_rejected(write_case, check, says):
    failure = load_failure(write_case, minimal_with(f"checks:\n  - {check}\n"))
    assert says in failure.error.render()
    assert failure.error.where.line == 5


# -- other keys ----------------------------------------------------------------------------------

def test_explicit_top_level_keys(write_case):
    case = load_case(write_case, minimal_with("""
        name: explicit
        description: what it checks
        tags: [seed, chain-rule]
        seed: 7
        dtypes: [float32, float64]
        devices: [cpu]
        modes: [fwd]
        points: {random: 5, at: [{x: 0.5}, {x: -1e-3}]}
        xfail: known bug
    """))
    assert (case.name, case.description, case.tags, case.seed) == ("explicit", "what it checks", ("seed", "chain-rule"), 7)
    assert (case.dtypes, case.devices, case.modes) == (("float32", "float64"), ("cpu",), ("fwd",))
    assert case.points.random == 5
    assert [point["x"][0] for point in case.points.at] == [0.5, -1e-3]
    assert case.xfail == "known bug"


def test_cases_are_frozen(write_case):
    case = load_case(write_case, MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        case.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "line"),
    [("variables: [x]\nfunctions:\n  f: x\nfucntions:\n  g: x\n", 4),
     ("variables: [x]\nfunctions:\n  sin:\n    expr: x\n", 3),
     ("variables: [x]\nfunctions:\n  x:\n    expr: x\n", 3),
     ("variables: [x]\nfunctions: {f: x}\nchecks:\n  - jacobian: f\n    expected:\n      - 1\n", 5)],
    ids=["unknown-top-level-key", "reserved-function-name", "function-named-like-variable", "unknown-check-key"],
)
def test_a_key_error_names_the_line_of_the_key(write_case, text, line):
    failure = load_failure(write_case, text)
    assert failure.error.where.line == line


def test_a_key_error_on_one_line_names_that_line(write_case):
    failure = load_failure(write_case, "variables: [x]\nfunctions: {f: x}\nfucntions: {g: x}\n")
    assert failure.error.where.line == 3
    assert "did you mean 'functions'" in failure.error.hint


# -- discover ------------------------------------------------------------------------------------

def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(MINIMAL)


def test_discover_finds_yaml_and_yml_recursively_in_sorted_order(tmp_path):
    _touch(tmp_path, "b.yaml", "a.yml", "sub/c.yaml", "sub/deeper/d.yml", "sub/a.yaml", "notes.txt", "yaml")
    files, missing = discover([str(tmp_path)])
    relative = [p.relative_to(tmp_path).as_posix() for p in files]
    assert relative == ["a.yml", "b.yaml", "sub/a.yaml", "sub/c.yaml", "sub/deeper/d.yml"]
    assert missing == []


def test_discover_skips_hidden_files_and_folders(tmp_path):
    _touch(tmp_path, "shown.yaml", ".hidden.yaml", ".git/config.yaml", "sub/.cache/x.yaml", "sub/.y.yml", "sub/ok.yaml")
    files, _ = discover([str(tmp_path)])
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["shown.yaml", "sub/ok.yaml"]


def test_discover_searches_a_folder_that_sits_inside_a_hidden_one(tmp_path):
    _touch(tmp_path, ".venv/project/cases/a.yaml")
    files, _ = discover([str(tmp_path / ".venv/project/cases")])
    assert [p.name for p in files] == ["a.yaml"]


def test_discover_takes_named_files_as_they_are_and_reports_missing_paths(tmp_path):
    _touch(tmp_path, "one.yaml", "two.yaml")
    files, missing = discover([str(tmp_path / "two.yaml"), str(tmp_path / "nope.yaml"), str(tmp_path / "one.yaml"),
                               str(tmp_path / "two.yaml")])
    assert [p.name for p in files] == ["two.yaml", "one.yaml"]
    assert missing == [str(tmp_path / "nope.yaml")]


def test_discover_lists_a_file_once_when_named_twice(tmp_path):
    _touch(tmp_path, "a.yaml", "b.yaml")
    files, _ = discover([str(tmp_path), str(tmp_path / "a.yaml")])
    assert sorted(p.name for p in files) == ["a.yaml", "b.yaml"]
    assert len(files) == 2
