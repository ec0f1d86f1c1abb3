"""Expression text with its place in a case file, so every error can say file:line:col."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from verify.errors import Location

__all__ = ["Source"]


@dataclass(frozen=True)
class Source:
    """An expression's text and where it sits in its file (`quoted`: the YAML scalar had quotes)."""

    text: str
    where: Location
    quoted: bool = False
    block: bool = False  # a | block scalar: `where` is its first content line, every line indented alike
    segments: tuple[tuple[int, int, int], ...] = ()  # a folded scalar: (offset in text, line, column) per line

    def at(self, node: ast.AST | None) -> Location:
        """The file location of `node` (positioned in the stripped text, as it is parsed) in the file."""
        if node is None or not hasattr(node, "lineno") or not self.where.line:
            return self.where
        stripped = self.text.strip()
        prefix = self.text[: self.text.index(stripped)] if stripped else ""
        lineno, col_offset = getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
        line_offset = prefix.count("\n") + lineno - 1
        column = col_offset + (len(prefix) - (prefix.rfind("\n") + 1) if lineno == 1 else 0)
        if self.block:
            return self.where.shifted(line_offset, self.where.col + column)
        if self.segments and line_offset == 0:
            offset = len(prefix) + column - (len(prefix) - (prefix.rfind("\n") + 1))
            start, line, col = max((s for s in self.segments if s[0] <= offset), default=self.segments[0])
            return Location(self.where.file, line, col + offset - start)
        if line_offset == 0:
            return self.where.shifted(0, self.where.col + (1 if self.quoted else 0) + column)
        return self.where.shifted(line_offset, column + 1)  # a folded multi-line scalar: best effort
