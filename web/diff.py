"""A unified diff as side-by-side rows: what the permalink shows of a fix."""

from __future__ import annotations

from dataclasses import dataclass

from unidiff import PatchSet
from unidiff.errors import UnidiffParseError


@dataclass(frozen=True)
class Row:
    kind: str  # "same", "changed", "removed", "added", "gap" (lines the hunks skip)
    old_no: int | None = None
    old: str = ""
    new_no: int | None = None
    new: str = ""


@dataclass(frozen=True)
class FileDiff:
    path: str
    rows: list[Row]


def side_by_side(diff: str) -> list[FileDiff]:
    """Removed lines face the added lines of the same run ("changed"); what is left over of
    either side stands alone. An unparsable diff gives nothing (the page shows it raw)."""
    try:
        patch = PatchSet(diff)
    except UnidiffParseError:
        return []
    out = []
    for f in patch:
        rows: list[Row] = []
        for n, hunk in enumerate(f):
            if n:
                rows.append(Row("gap"))
            removed: list[tuple[int | None, str]] = []
            added: list[tuple[int | None, str]] = []

            for line in hunk:
                text = line.value.rstrip("\n")
                if line.is_removed:
                    removed.append((line.source_line_no, text))
                elif line.is_added:
                    added.append((line.target_line_no, text))
                else:
                    _pair(removed, added, rows)
                    rows.append(Row("same", line.source_line_no, text, line.target_line_no, text))
            _pair(removed, added, rows)
        out.append(FileDiff(f.path, rows))
    return out


def _pair(removed: list[tuple[int | None, str]], added: list[tuple[int | None, str]], rows: list[Row]) -> None:
    """A run of removed and added lines as rows, side by side; both lists are emptied."""
    for i in range(max(len(removed), len(added))):
        o = removed[i] if i < len(removed) else (None, "")
        a = added[i] if i < len(added) else (None, "")
        kind = "changed" if i < len(removed) and i < len(added) else ("removed" if i < len(removed) else "added")
        rows.append(Row(kind, o[0], o[1], a[0], a[1]))
    removed.clear()
    added.clear()
