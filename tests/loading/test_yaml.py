"""verify._yaml: safe loading with locations, YAML 1.2 floats, duplicate keys rejected, helpful hints."""

from __future__ import annotations

import math
import textwrap
import time

import pytest

from verify._yaml import Y, load_documents
from verify.errors import CaseError, Location


def load_one(text: str) -> Y:
    documents = load_documents("case.yaml", textwrap.dedent(text).lstrip("\n"))
    assert len(documents) == 1
    (document,) = documents
    assert isinstance(document, Y), document
    return document


def value_of(scalar_text: str) -> object:
    return load_one(f"key: {scalar_text}\n").value["key"].value


def position(text: str, line: int, token: str) -> Location:
    """Where `token` first appears on `line` (1-based) of the dedented `text`."""
    line_text = textwrap.dedent(text).lstrip("\n").splitlines()[line - 1]
    return Location("case.yaml", line, line_text.index(token) + 1)


def load_error(text: str) -> CaseError:
    """The CaseError of a one-document text, whether the stream or the document raises it."""
    try:
        documents = load_documents("case.yaml", textwrap.dedent(text).lstrip("\n"))
    except CaseError as exc:
        return exc
    errors = [d for d in documents if isinstance(d, CaseError)]
    assert errors, f"no error for {text!r}"
    return errors[0]


# -- YAML 1.2 numbers ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "number"),
    [("1e-6", 1e-6), ("1E6", 1e6), ("-2.5e+3", -2500.0), ("+1e3", 1000.0), ("2e0", 2.0), (".5", 0.5),
     ("1.", 1.0), ("3.25", 3.25), ("-0.0", 0.0), ("1.5e-300", 1.5e-300)],
)
def test_floats_follow_yaml_1_2(text, number):
    value = value_of(text)
    assert type(value) is float
    assert value == number


def test_infinities_and_nan_are_floats():
    assert value_of(".inf") == math.inf
    assert value_of("-.inf") == -math.inf
    assert math.isnan(value_of(".nan"))


@pytest.mark.parametrize(("text", "number"), [("0", 0), ("42", 42), ("-7", -7)])
def test_integers_stay_integers(text, number):
    value = value_of(text)
    assert type(value) is int and value == number


@pytest.mark.parametrize("text", ["'1e-6'", '"1e-6"', "1e", "e5", "1e-6x", "x1e5", "1e-6*x", "2*x**2"])
def test_strings_that_look_like_numbers_stay_strings(text):
    value = value_of(text)
    assert isinstance(value, str)
    assert value == text.strip("'\"")


def test_floats_inside_flow_collections():
    document = load_one("tolerance: {rtol: 1e-6, atol: 1e-9}\nat: [1e-3, 2]\n")
    assert document.plain() == {"tolerance": {"rtol": 1e-6, "atol": 1e-9}, "at": [1e-3, 2]}


# -- duplicate keys ------------------------------------------------------------------------------

def test_duplicate_top_level_key_is_rejected_where_it_repeats():
    text = """
        name: a
        variables: [x]
        name: b
    """
    error = load_error(text)
    assert error.where == position(text, 3, "name")
    assert "duplicate key 'name'" in error.what and "line 1" in error.what
    assert error.hint


def test_duplicate_nested_key_is_rejected():
    text = """
        variables:
          x: {low: -1, high: 1, low: 0}
    """
    error = load_error(text)
    assert error.where == Location("case.yaml", 2, textwrap.dedent(text).splitlines()[2].rindex("low") + 1)
    assert "duplicate key 'low'" in error.what


def test_same_key_in_different_maps_is_fine():
    document = load_one("a: {x: 1}\nb: {x: 2}\n")
    assert document.plain() == {"a": {"x": 1}, "b": {"x": 2}}


# -- locations -----------------------------------------------------------------------------------

LOCATED = """
    name: demo
    variables:
      x: {low: -2, high: 2}
    functions:
      f: x**2
      G: [x + 1, "x * 2"]
      H: |
        F(G(x))
"""


def test_every_value_knows_its_line_and_column():
    document = load_one(LOCATED)
    keys = document.value
    assert document.where == Location("case.yaml", 1, 1)
    assert keys["name"].where == position(LOCATED, 1, "demo")
    assert keys["variables"].where == position(LOCATED, 3, "x:")  # a block map starts at its first key
    spec = keys["variables"].value["x"]
    assert spec.where == position(LOCATED, 3, "{low")
    assert spec.value["high"].where == position(LOCATED, 3, "2}")
    functions = keys["functions"].value
    assert functions["f"].where == position(LOCATED, 5, "x**2")
    assert functions["G"].where == position(LOCATED, 6, "[")
    assert functions["G"].value[0].where == position(LOCATED, 6, "x + 1")
    assert functions["G"].value[1].where == position(LOCATED, 6, '"x * 2"')


def test_quoted_and_block_scalars_are_marked():
    functions = load_one(LOCATED).value["functions"].value
    assert functions["G"].value[1].quoted and not functions["G"].value[0].quoted
    assert functions["H"].block and not functions["H"].quoted
    assert functions["H"].value == "F(G(x))\n"
    assert not functions["f"].block and not functions["f"].quoted
    assert load_one("a: 'x'\n").value["a"].quoted


def test_plain_strips_locations_recursively():
    assert load_one(LOCATED).plain() == {
        "name": "demo",
        "variables": {"x": {"low": -2, "high": 2}},
        "functions": {"f": "x**2", "G": ["x + 1", "x * 2"], "H": "F(G(x))\n"},
    }


def test_locations_in_later_documents_count_from_the_top_of_the_file():
    documents = load_documents("case.yaml", "a: 1\n---\nb: 2\n---\n\nc: 3\n")
    assert [d.where.line for d in documents] == [1, 3, 6]
    assert documents[2].value["c"].where == Location("case.yaml", 6, 4)


# -- documents -----------------------------------------------------------------------------------

def test_each_document_is_loaded_on_its_own():
    documents = load_documents("case.yaml", "a: 1\n---\nb: 1\nb: 2\n---\nc: 3\n")
    assert isinstance(documents[0], Y) and documents[0].plain() == {"a": 1}
    assert isinstance(documents[1], CaseError) and documents[1].where.line == 4
    assert isinstance(documents[2], Y) and documents[2].plain() == {"c": 3}


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "# one\n\n# two\n"])
def test_a_stream_without_content_has_no_document(text):
    assert load_documents("case.yaml", text) == []


@pytest.mark.parametrize("text", ["a: 1\n---\n", "---\na: 1\n---\n# nothing\n", "---\n---\na: 1\n"],
                         ids=["trailing-marker", "commented-out-document", "leading-empty-document"])
def test_an_explicitly_empty_document_is_skipped(text):
    documents = load_documents("case.yaml", text)
    assert [d.plain() for d in documents if isinstance(d, Y)] == [{"a": 1}]
    assert len(documents) == 1


# -- errors and hints ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "line", "token", "hint"),
    [
        ("variables: [x]\nfunctions:\n\tf: x\n", 3, "\t", "tab"),
        ("f: x + y: 2\n", 1, ": 2", "quote"),
        ('F: [v[0]/norm(v), v[1]]\n', 1, "[0]", "quoted"),
        ("f: *x + 1\n", 1, "*x", "quoted"),
        ("f: 'x\n", 2, None, ""),
    ],
    ids=["tab", "colon-space", "brackets-in-flow-list", "star", "unclosed-quote"],
)
def test_syntax_errors_name_the_place_and_a_fix(text, line, token, hint):
    documents = load_documents("case.yaml", text)
    error = documents[-1]
    assert isinstance(error, CaseError)
    assert error.what.startswith("invalid YAML")
    assert error.where.file == "case.yaml" and error.where.line == line
    if token is not None:
        assert error.where.col == text.splitlines()[line - 1].index(token) + 1
    assert hint in error.hint
    assert error.hint


@pytest.mark.parametrize(
    "scalar",
    ['!!python/object/apply:os.system "echo hacked"', "!!python/name:os.system ''",
     "!!python/module:os ''", "!custom x"],
)
def test_object_tags_are_rejected(scalar):
    error = load_error(f"name: {scalar}\n")
    assert "tag" in error.what + error.hint
    assert error.where.line == 1


@pytest.mark.parametrize(
    "text",
    ["variables: !!python/object/apply:os.system [x]\n", "functions: !!python/object/new:os.system {f: x}\n"],
    ids=["on-a-list", "on-a-map"],
)
def test_object_tags_on_collections_are_rejected(text):
    error = load_error(text)
    assert "tag" in error.what + error.hint


@pytest.mark.parametrize("key", ["1", "null", "[a, b]", "{a: 1}"])
def test_keys_must_be_names(key):
    error = load_error(f"{key}: value\n")
    assert "key" in error.what
    assert error.where.line == 1


def test_small_aliases_expand():
    document = load_one("a: &v [1, 2]\nb: *v\n")
    assert document.plain() == {"a": [1, 2], "b": [1, 2]}


def test_an_alias_bomb_is_rejected_not_expanded():
    levels = ["&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 12)]
    text = "bomb: [" + ", ".join(levels) + "]\n"  # 9**12 values if expanded
    start = time.perf_counter()
    error = load_error(text)
    assert time.perf_counter() - start < 10  # a full expansion would never finish
    assert "expands" in error.what and error.where.line == 1
    assert "alias" in error.hint
