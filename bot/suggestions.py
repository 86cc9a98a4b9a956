"""Map a verified fix onto a pull request: suggestion comments where GitHub allows them, a plain
diff in the review body where it does not. Pure functions over diff text (unidiff).

The fix was verified on the PR's head, so its old-side line numbers are the PR diff's RIGHT side.
A review comment must have both ends inside one hunk of the PR diff (else GitHub answers 422),
and cannot sit on deleted lines. A fix hunk becomes suggestions only if every change block in it
fits; otherwise the whole hunk goes into the body, so no part of a fix is shown twice or lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from unidiff import PatchSet

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.M)


@dataclass(frozen=True)
class Block:
    """One run of changed lines: old lines ``start..end`` (of the PR head) become ``new_lines``.

    A pure insertion is anchored on a neighbouring old line, which is repeated in ``new_lines``.
    """

    path: str
    start: int
    end: int
    new_lines: tuple[str, ...]
    hunk: int  # index of the fix hunk it came from
    old_lines: tuple[str, ...] = ()


@dataclass
class ReviewPlan:
    comments: list[dict[str, Any]] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)  # fix hunks (diff text) that cannot be suggestions


def _path(name: str) -> str:
    return name[2:] if name.startswith(("a/", "b/")) else name


def change_blocks(fix_diff: str) -> list[Block]:
    """The fix's change blocks, with old-side line numbers."""
    blocks: list[Block] = []
    hunk_no = 0
    for pf in PatchSet(fix_diff):
        path = _path(pf.target_file if pf.target_file != "/dev/null" else pf.source_file)
        for hunk in pf:
            lines = list(hunk)
            i = 0
            while i < len(lines):
                if lines[i].is_context:
                    i += 1
                    continue
                j = i
                while j < len(lines) and not lines[j].is_context:
                    j += 1
                run = lines[i:j]
                removed = [ln for ln in run if ln.is_removed]
                added = tuple(ln.value for ln in run if ln.is_added)
                if removed:
                    blocks.append(Block(path, removed[0].source_line_no, removed[-1].source_line_no, added, hunk_no,
                                        tuple(ln.value for ln in removed)))
                elif i > 0:  # insertion after a context line: anchor on it
                    prev = lines[i - 1]
                    blocks.append(Block(path, prev.source_line_no, prev.source_line_no, (prev.value, *added), hunk_no,
                                        (prev.value,)))
                elif j < len(lines):  # insertion at the top of a hunk: anchor on the next line
                    nxt = lines[j]
                    blocks.append(Block(path, nxt.source_line_no, nxt.source_line_no, (*added, nxt.value), hunk_no,
                                        (nxt.value,)))
                i = j
            hunk_no += 1
    return blocks


def hunk_ranges(patch: str) -> list[tuple[int, int]]:
    """New-side (RIGHT) line ranges of a GitHub ``patch`` (pulls/{n}/files)."""
    out = []
    for m in _HUNK.finditer(patch or ""):
        start, count = int(m.group(1)), int(m.group(2) if m.group(2) is not None else 1)
        if count:
            out.append((start, start + count - 1))
    return out


def suggestion_body(block: Block, note: str = "") -> str:
    text = "".join(block.new_lines)
    if text and not text.endswith("\n"):
        text += "\n"
    fence = "```"
    while fence in text:
        fence += "`"
    lead = f"{note}\n\n" if note else ""
    return f"{lead}{fence}suggestion\n{text}{fence}"


def plan_review(fix_diff: str, pr_patches: dict[str, str], note: str = "") -> ReviewPlan:
    """Suggestion comments for the fix hunks inside the PR diff; the other hunks as diff text."""
    blocks = change_blocks(fix_diff)
    ranges = {path: hunk_ranges(patch) for path, patch in pr_patches.items()}

    def fits(b: Block) -> bool:
        return any(lo <= b.start <= b.end <= hi for lo, hi in ranges.get(b.path, []))

    by_hunk: dict[int, list[Block]] = {}
    for b in blocks:
        by_hunk.setdefault(b.hunk, []).append(b)
    hunk_text = _hunk_texts(fix_diff)
    plan = ReviewPlan()
    for n, members in by_hunk.items():
        if all(fits(b) for b in members):
            for b in members:
                comment: dict[str, Any] = {"path": b.path, "line": b.end, "side": "RIGHT", "body": suggestion_body(b, note)}
                if b.end > b.start:
                    comment.update(start_line=b.start, start_side="RIGHT")
                plan.comments.append(comment)
        else:
            plan.outside.append(hunk_text[n])
    return plan


def _hunk_texts(fix_diff: str) -> list[str]:
    out: list[str] = []
    for pf in PatchSet(fix_diff):
        header = f"--- {pf.source_file}\n+++ {pf.target_file}\n"
        out.extend(header + str(h) for h in pf)
    return out
