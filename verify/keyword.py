"""Selection expressions as pytest's -k takes them: words joined by and, or, not and parentheses."""

from __future__ import annotations

import re
from collections.abc import Sequence

from verify.errors import UsageError

__all__ = ["matches", "validate"]

_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


def _tokens(expression: str) -> list[str]:
    tokens, position = [], 0
    expression = expression.strip()
    while position < len(expression):
        found = _TOKEN.match(expression, position)
        if found is None:
            break
        tokens.append(found.group(1))
        position = found.end()
    return tokens


class _Parser:
    def __init__(self, expression: str, haystack: Sequence[str]) -> None:
        self.expression = expression
        self.tokens = _tokens(expression)
        self.position = 0
        self.haystack = [h.lower() for h in haystack]

    def fail(self, what: str) -> UsageError:
        return UsageError(f"-k {self.expression!r}: {what}; write words joined by and, or, not and parentheses")

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise self.fail("the expression ends too early")
        self.position += 1
        return token

    def parse(self) -> bool:
        if not self.tokens:
            raise self.fail("empty expression")
        value = self.either()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()!r}")
        return value

    def either(self) -> bool:
        value = self.both()
        while self.peek() == "or":
            self.take()
            value = self.both() or value
        return value

    def both(self) -> bool:
        value = self.negation()
        while self.peek() == "and":
            self.take()
            value = self.negation() and value
        return value

    def negation(self) -> bool:
        if self.peek() == "not":
            self.take()
            return not self.negation()
        token = self.take()
        if token == "(":
            value = self.either()
            if self.take() != ")":
                raise self.fail("missing )")
            return value
        if token in (")", "and", "or"):
            raise self.fail(f"unexpected {token!r}")
        return any(token.lower() in h for h in self.haystack)


def matches(expression: str, haystack: Sequence[str]) -> bool:
    """Whether `expression` selects an item described by the strings of `haystack` (substring, any case)."""
    return _Parser(expression, haystack).parse()


def validate(expression: str) -> None:
    """Raises UsageError when `expression` is not a valid selection expression."""
    _Parser(expression, []).parse()
