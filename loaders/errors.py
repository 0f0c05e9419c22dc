"""Errors a person can act on: which file, where in it, what was expected, what was found."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RejectedFile(Exception):
    """The file cannot be landed as it is; nothing of it reaches the database."""

    file_name: str
    problem: str
    location: str | None = None  # "line 12", "sheet 'Octobre', row 7", "record 3"
    expected: str | None = None
    found: str | None = None

    def __str__(self) -> str:
        where = f" ({self.location})" if self.location else ""
        text = f"{self.file_name}{where}: {self.problem}"
        if self.expected is not None:
            text += f"; expected {self.expected}"
        if self.found is not None:
            text += f", found {self.found}"
        return text

    def as_dict(self) -> dict[str, str | None]:
        return {
            "file": self.file_name,
            "location": self.location,
            "problem": self.problem,
            "expected": self.expected,
            "found": self.found,
            "message": str(self),
        }
