"""Ingest problems: a bad row (file, row, column, problem) and the error that rejects a whole file."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RowProblem:
    """One bad value: row is the 1-based line number in the file (header = line 1), or 0 for the file."""

    row: int
    column: str | None
    problem: str
    raw: str | None = None

    def describe(self, file_name: str) -> str:
        where = f"{file_name}, row {self.row}" if self.row else file_name
        if self.column:
            where += f", column '{self.column}'"
        return f"{where}: {self.problem}"


@dataclass
class IngestError(Exception):
    """A file that cannot be loaded; nothing of it is stored."""

    file_name: str
    message: str
    problems: list[RowProblem] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{self.file_name}: {self.message}"]
        shown = self.problems[:20]
        lines += ["  " + p.describe(self.file_name) for p in shown]
        if len(self.problems) > len(shown):
            lines.append(f"  ... and {len(self.problems) - len(shown)} more problems")
        return "\n".join(lines)
