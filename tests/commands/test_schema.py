"""`python -m verify schema`: a JSON Schema that accepts every shipped case and rejects structurally wrong ones.

The schema checks structure only (keys, types, names, vocabularies, sizes). The files of
tests/bad_cases fall in three groups, and every file must be listed in exactly one:
YAML_LEVEL (verify's YAML reader refuses the file before there is data to validate),
STRUCTURAL (the schema must reject it) and SEMANTIC (structurally fine, so the schema must
accept it; verify rejects it for its expressions, cross-references or shapes). A property test
checks the one-way promise an editor user relies on: whatever the schema rejects, verify rejects.
"""

from __future__ import annotations

import functools
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verify._yaml import load_documents
from verify.case import CHECK_OPTIONS, TOP_KEYS, LoadFailure, load_file
from verify.cli import main
from verify.errors import CaseError
from verify.vocabulary import CHECK_KINDS, DEVICES, DTYPES, MODES

REPO = Path(__file__).resolve().parents[2]
BAD_DIR = REPO / "tests" / "bad_cases"
SHIPPED = sorted([*REPO.glob("cases/**/*.yaml"), *REPO.glob("benchmarks/mutants/cases/*.yaml")])

YAML_LEVEL = {
    "alias_bomb.yaml", "duplicate_function_name.yaml", "duplicate_top_level_key.yaml", "empty_file.yaml",
    "invalid_utf8.yaml", "merge_key.yaml", "multi_document_yaml_error_in_second.yaml", "non_string_key.yaml",
    "python_object_tag.yaml", "python_object_tag_on_list.yaml", "tab_indentation.yaml",
    "unquoted_colon_space_in_expression.yaml", "unquoted_flow_list_with_brackets.yaml",
    "value_starting_with_star.yaml",
}
STRUCTURAL = {
    "case_name_with_double_colon.yaml", "check_is_just_a_name.yaml", "check_with_two_kinds.yaml",
    "check_without_kind.yaml", "checks_empty.yaml", "description_not_string.yaml", "document_is_a_list.yaml",
    "dtypes_not_a_list.yaml", "expression_empty.yaml", "expression_over_20000_chars.yaml",
    "function_without_expr.yaml", "impl_not_module_callable.yaml", "missing_functions.yaml",
    "missing_variables.yaml", "points_random_not_integer.yaml", "random_zero_without_at.yaml",
    "seed_not_integer.yaml", "shape_five_dimensions.yaml", "shape_zero_dimension.yaml", "tags_not_strings.yaml",
    "tolerance_mixed_forms.yaml", "tolerance_negative.yaml", "tolerance_not_a_number.yaml",
    "unknown_check_key.yaml", "unknown_device.yaml", "unknown_dtype.yaml", "unknown_mode.yaml",
    "unknown_top_level_key_near_miss.yaml", "variable_declared_twice.yaml", "variable_named_dunder_class.yaml",
    "variable_named_sin.yaml", "variable_spec_unknown_key.yaml", "variables_empty.yaml", "xfail_not_string.yaml",
}


@functools.cache
def _schema() -> dict[str, Any]:
    out = io.StringIO()
    assert main(["schema"], out) == 0
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = _schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _documents(path: Path) -> list[Any] | None:
    """The file's documents as plain data, read as verify reads them; None when YAML reading fails."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None
    documents = load_documents(path.name, text)
    if not documents or any(isinstance(d, CaseError) for d in documents):
        return None
    return [d.plain() for d in documents]  # type: ignore[union-attr]


def test_the_command_prints_a_draft_2020_12_schema_and_output_writes_the_same(tmp_path: Path) -> None:
    schema = _schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    target = tmp_path / "sub" / "case.schema.json"
    out = io.StringIO()
    assert main(["schema", "--output", str(target)], out) == 0
    assert str(target) in out.getvalue()
    assert json.loads(target.read_text(encoding="utf-8")) == schema


def test_the_schema_names_every_key_and_vocabulary_verify_accepts() -> None:
    schema = _schema()
    assert set(schema["properties"]) == set(TOP_KEYS)
    assert schema["additionalProperties"] is False and set(schema["required"]) == {"variables", "functions"}
    assert all(schema["properties"][key].get("description") for key in TOP_KEYS)
    check = schema["$defs"]["check"]
    assert set(check["properties"]) == {*CHECK_KINDS, *CHECK_OPTIONS}
    assert check["additionalProperties"] is False
    for key, vocabulary in (("dtypes", DTYPES), ("devices", DEVICES), ("modes", MODES)):
        assert schema["properties"][key]["anyOf"][0]["enum"] == list(vocabulary)


def test_the_schema_limits_match_verify() -> None:
    from verify import case, schema
    from verify.expr import LIMITS

    assert schema.MAX_DIMENSIONS == case.MAX_DIMENSIONS
    assert schema.MAX_DIMENSION == case.MAX_ENTRIES
    assert schema.MAX_RANDOM_POINTS == case.MAX_RANDOM_POINTS
    assert LIMITS.max_chars == schema.MAX_EXPRESSION_CHARS


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_case_is_valid(path: Path, validator: jsonschema.Draft202012Validator) -> None:
    documents = _documents(path)
    assert documents
    for document in documents:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
        assert not errors, errors


def test_shipped_cases_were_found() -> None:
    assert len(SHIPPED) >= 20
    assert any(p.name == "vector_chain_rule.yaml" for p in SHIPPED)


def test_every_bad_case_is_classified_once() -> None:
    files = {p.name for p in BAD_DIR.glob("*.yaml")}
    assert not YAML_LEVEL & STRUCTURAL
    assert files >= YAML_LEVEL | STRUCTURAL
    assert len(files - YAML_LEVEL - STRUCTURAL) >= 30  # the semantic ones: the schema must accept them


@pytest.mark.parametrize("name", sorted(p.name for p in BAD_DIR.glob("*.yaml")))
def test_bad_case(name: str, validator: jsonschema.Draft202012Validator) -> None:
    documents = _documents(BAD_DIR / name)
    if name in YAML_LEVEL:
        assert documents is None, "verify's YAML reader should refuse this file"
        return
    assert documents is not None
    rejected = [e.message for d in documents for e in validator.iter_errors(d)]
    if name in STRUCTURAL:
        assert rejected, "a structural error the schema must catch"
    else:
        assert not rejected, f"structurally valid (verify rejects it for other reasons): {rejected}"


def test_hand_written_structural_errors_are_rejected(validator: jsonschema.Draft202012Validator) -> None:
    base = {"variables": ["x"], "functions": {"f": "x**2"}}
    assert validator.is_valid(base)
    for bad in (
        {**base, "checks": [{"jacobian": "f", "at": {"x": 1}}]},  # at without expect
        {**base, "points": {"random": 0, "at": []}},
        {**base, "tolerance": {"atol": -1}},
        {**base, "variables": {"x": {"shape": [2], "low": "a"}}},
        {**base, "functions": {"f": {"expr": "x", "impl": "pkg.mod:fn", "grad": "x"}}},
        {**base, "functions": {"if": "x"}},
        {**base, "name": "   "},
        {**base, "seed": -1},
        {**base, "checks": [{"gradient": "f", "expect": True}]},
    ):
        assert not validator.is_valid(bad), bad
    for good in (
        {**base, "dtypes": "float32", "tags": "one", "tolerance": {}},
        {**base, "variables": {"x": None, "v": {"shape": [3]}}, "points": {"random": 0, "at": [{"x": 1}]}},
        {**base, "checks": [{"value": "f", "at": [{"x": 1}], "expect": 1, "tolerance": {"float32": {"rtol": 0}}}]},
    ):
        assert validator.is_valid(good), list(validator.iter_errors(good))


# -- the promise an editor user relies on: what the schema rejects, verify rejects --------------

BASE = {
    "name": "base",
    "tags": ["t"],
    "variables": {"x": {"low": -2, "high": 2}, "y": None},
    "functions": {"G": {"args": ["x", "y"], "expr": ["x + y", "x*y"]}, "F": {"args": ["u", "v"], "expr": "u*v"},
                  "H": "F(G(x, y))"},
    "checks": [{"jacobian": "H", "expect": [["2*x*y + y**2", "x**2 + 2*x*y"]]}, {"chain_rule": "H"},
               {"value": "F", "at": {"u": 1, "v": 2}, "expect": 2, "tolerance": {"rtol": 1e-6}}],
    "points": {"random": 4, "at": [{"x": 1, "y": 2}]},
    "seed": 1,
    "dtypes": ["float64"],
    "devices": ["cpu"],
    "modes": ["rev"],
    "tolerance": {"float32": {"atol": 1e-5}},
}
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.5, -1.5, 1e-6]),
    st.sampled_from(["x", "y", "u", "H", "", " ", "a::b", "sin", "float16", "cpu", "fwd", "x +", "m.o:f", "lo"]),
)
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["low", "high", "shape", "rtol", "atol", "random", "at", "expr", "args",
                                     "expect", "jacobian", "value", "x", "float64", "extra"]), inner, max_size=2)),
    max_leaves=6)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


def _mutated(data: st.DataObject) -> Any:
    document = json.loads(json.dumps(BASE))
    for _ in range(data.draw(st.integers(1, 2))):
        path = data.draw(st.sampled_from(_paths(document)))
        if not path:
            continue
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent[path[-1]], dict):
            parent[path[-1]][data.draw(st.sampled_from(["extra", "low", "shape", "at", "z", "hessian"]))] = \
                data.draw(_VALUES)
        else:
            parent[path[-1]] = data.draw(_VALUES)
    return document


def _verify_accepts(text: str) -> bool:
    from verify.model import build_model

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "case.yaml"
        path.write_text(text, encoding="utf-8")
        items = load_file(path)
    try:
        return all(not isinstance(i, LoadFailure) and build_model(i) is not None for i in items)
    except CaseError:
        return False


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_whatever_the_schema_rejects_verify_rejects(data: st.DataObject) -> None:
    validator = jsonschema.Draft202012Validator(_schema())
    text = yaml.safe_dump(_mutated(data), sort_keys=False)
    documents = load_documents("case.yaml", text)
    if not documents or isinstance(documents[0], CaseError):
        return  # verify's YAML reader refuses it (a duplicate key, say): nothing to validate
    plain = documents[0].plain()
    if not validator.is_valid(plain):
        errors = [e.message for e in validator.iter_errors(plain)]
        assert not _verify_accepts(text), f"the schema rejects what verify accepts: {errors}\n{text}"

