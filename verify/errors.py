"""The error hierarchy: every error a user can cause says where, what, and what is valid."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CaseError", "EngineError", "Location", "UsageError", "VerifyError"]


@dataclass(frozen=True)
class Location:
    """A place in a case file: 1-based line and column (0 means unknown)."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line and self.col:
            return f"{self.file}:{self.line}:{self.col}"
        if self.line:
            return f"{self.file}:{self.line}"
        return self.file

    def shifted(self, line_offset: int, col: int) -> Location:
        """The location `line_offset` lines below this one, at column `col` (1-based)."""
        return Location(self.file, self.line + line_offset, col)


class VerifyError(Exception):
    """Base of every error verify raises on purpose; anything else is a bug in verify."""


class UsageError(VerifyError):
    """Raised for a bad command line; the CLI exits with status 2."""


class CaseError(VerifyError):
    """Raised when a case file is malformed: the message names file:line:col and a fix.

    You will see it for YAML that does not parse, unknown or duplicate keys, wrong types,
    expressions outside the expression language, and shapes or arities that do not fit.
    """

    def __init__(self, where: Location | None, what: str, hint: str = "") -> None:
        self.where = where
        self.what = what
        self.hint = hint
        super().__init__(self.render())

    def __reduce__(self) -> tuple[type, tuple[Location | None, str, str]]:
        # the constructor's arguments, not the rendered text: CaseErrors cross process boundaries (--jobs)
        return (type(self), (self.where, self.what, self.hint))

    def render(self) -> str:
        head = f"{self.where}: {self.what}" if self.where else self.what
        return f"{head}\n  hint: {self.hint}" if self.hint else head


class EngineError(VerifyError):
    """Raised when an engine cannot compute what a check asks (an impl that raised, a budget run out)."""
