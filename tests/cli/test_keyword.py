"""-k selection expressions, as pytest takes them: substrings joined by and, or, not and parentheses."""

from __future__ import annotations

import pytest

from verify.errors import UsageError
from verify.keyword import matches, validate

CASE = ["cases/seed/vector_chain_rule.yaml::vector-chain-rule", "seed", "chain-rule"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("seed", True),
        ("chain", True),  # a substring of a tag
        ("vector_chain_rule.yaml::", True),  # a substring of the id
        ("SEED", True),  # case-insensitive
        ("norm", False),
        ("not norm", True),
        ("not seed", False),
        ("not not seed", True),
        ("seed and chain-rule", True),
        ("seed and norm", False),
        ("norm and seed", False),
        ("norm or seed", True),
        ("seed or norm", True),
        ("norm or jacobian", False),
        ("seed and not norm", True),
        ("not (seed or norm)", False),
        ("(norm or seed) and chain", True),
        ("((seed))", True),
    ],
)
def test_matches(expression: str, expected: bool) -> None:
    assert matches(expression, CASE) is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # and binds tighter than or: a or (b and c)
        ("seed or norm and jacobian", True),
        ("norm and jacobian or seed", True),
        ("(seed or norm) and jacobian", False),
        # not binds tighter than and: (not a) and b
        ("not norm and seed", True),
        ("not seed and seed", False),
    ],
)
def test_precedence(expression: str, expected: bool) -> None:
    assert matches(expression, CASE) is expected


def test_every_haystack_entry_counts() -> None:
    assert matches("alpha", ["file.yaml::one", "beta", "alpha"])
    assert not matches("alpha", ["file.yaml::one", "beta"])
    assert not matches("anything", [])


@pytest.mark.parametrize(
    "expression",
    ["", "   ", "and", "seed and", "seed or", "not", "(seed", "seed)", "seed norm", "()", "or seed"],
)
def test_invalid_expressions_raise_usage_error(expression: str) -> None:
    with pytest.raises(UsageError) as info:
        validate(expression)
    message = str(info.value)
    assert f"-k {expression!r}" in message
    assert "and, or, not" in message
    with pytest.raises(UsageError):
        matches(expression, CASE)


@pytest.mark.parametrize("expression", ["seed", "not seed", "a and (b or not c)", "x-y.yaml::z"])
def test_valid_expressions_validate(expression: str) -> None:
    validate(expression)
