"""What an import did, per file and in total: the `tgpipe import --json` shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COUNTS = (
    "parsed", "new", "duplicates", "same_source", "same_content", "near_duplicates", "rejected",
    "skipped",
)  # fmt: skip


@dataclass(slots=True)
class FileReport:
    """One input's outcome. ``rejected`` is 1 when the whole file was refused (nothing of it
    was written); ``parsed`` then says how far the parser got before the error.

    ``duplicates`` counts posts already stored as the same message (``same_source``) or the
    same text in the same channel (``same_content``); ``near_duplicates`` similar posts and
    re-posts by another channel; ``new`` the rest."""

    path: str
    format: str | None = None
    parsed: int = 0
    new: int = 0
    duplicates: int = 0
    same_source: int = 0
    same_content: int = 0
    near_duplicates: int = 0
    rejected: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            **{name: getattr(self, name) for name in COUNTS},
            "errors": list(self.errors),
            "notes": list(self.notes),
        }


@dataclass(slots=True)
class ImportReport:
    files: list[FileReport] = field(default_factory=list)
    run_id: int | None = None
    notes: list[str] = field(default_factory=list)  # about the run as a whole

    @property
    def ok(self) -> bool:
        return not any(report.rejected for report in self.files)

    def totals(self) -> dict[str, int]:
        return {name: sum(getattr(f, name) for f in self.files) for name in COUNTS}

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "notes": list(self.notes),
            "files": [report.to_json() for report in self.files],
            "totals": {"files": len(self.files), **self.totals()},
        }
