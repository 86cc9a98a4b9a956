"""Proposals to candidates in time proportional to the edit, not to the file.

Every proposal is a whole-file text that differs from the original in one place. Checking it
(does it compile, is it new, what is its diff) used to parse, dump and diff the whole file per
proposal: on a 3,000-line module that was most of a session's budget. Here the changed lines are
found once (common prefix and suffix), and the check runs on the smallest function around them;
only an edit outside any function is checked against the whole file. The result is the same:
the same proposals are kept, deduplicated the same way, with the same diff.
"""

from __future__ import annotations

import ast
import difflib
import re
import textwrap
import warnings
from dataclasses import dataclass

from brain.source import SourceFile, normalized

_HUNK = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")


@dataclass(frozen=True)
class Region:
    """Lines ``start..end_old`` (0-based, end exclusive) of the original became
    ``start..end_new`` of the proposal."""

    start: int
    end_old: int
    end_new: int


def changed_region(old: list[str], new: list[str]) -> Region | None:
    """None when nothing changed."""
    n = min(len(old), len(new))
    start = 0
    while start < n and old[start] == new[start]:
        start += 1
    if start == len(old) == len(new):
        return None
    tail = 0
    while tail < n - start and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return Region(start, len(old) - tail, len(new) - tail)


class Checker:
    """Compiles, fingerprints and diffs proposals against one original file."""

    def __init__(self, path: str, original: str) -> None:
        self.path = path
        self.original = original
        self.src = SourceFile(path, original)
        self.lines = self.src.lines
        self._whole_form: str | None = None
        self._old_forms: dict[tuple[int, int], str | None] = {}  # per function: most proposals share a few

    def whole_form(self) -> str:
        if self._whole_form is None:
            self._whole_form = normalized(self.original)
        return self._whole_form

    def check(self, new_text: str) -> tuple[str, str] | None:
        """(dedup key, diff) for a proposal that compiles and changes the code; else None."""
        new_lines = new_text.splitlines(keepends=True)
        region = changed_region(self.lines, new_lines)
        if region is None:
            return None
        func = self._function_around(region)
        if func is not None:
            first, last = func
            delta = len(new_lines) - len(self.lines)
            new_block = "".join(new_lines[first:last + delta])
            if (first, last) not in self._old_forms:
                self._old_forms[(first, last)] = _form("".join(self.lines[first:last]))
            old_form = self._old_forms[(first, last)]
            if old_form is not None:  # the function stands alone: judge the edit there
                new_form = _form(new_block)
                if new_form is None or new_form == old_form:
                    return None  # does not compile, or changes formatting and comments only
                return f"{first}:{new_form}", self.diff(new_lines, region)
        # outside any function, or a block that does not stand alone (nonlocal, ...): the whole file
        if not _compiles(new_text, self.path):
            return None
        form = normalized(new_text)
        if form == self.whole_form():
            return None
        return f"*:{form}", self.diff(new_lines, region)

    def _function_around(self, region: Region) -> tuple[int, int] | None:
        """0-based [first, last) lines of the smallest function holding the whole change."""
        lo, hi = region.start + 1, max(region.end_old, region.start + 1)  # 1-based, inclusive
        best = None
        for f in self.src._nodes[1]:
            start = min([f.lineno, *(d.lineno for d in f.decorator_list)])
            end = f.end_lineno or f.lineno
            if start <= lo and hi <= end and (best is None or end - start < best[1] - best[0]):
                best = (start, end)
        return (best[0] - 1, best[1]) if best else None

    def diff(self, new_lines: list[str], region: Region) -> str:
        """``difflib.unified_diff`` of the whole files (n=3), computed on the changed lines and
        their context only."""
        lo = max(0, region.start - 3)
        hi_old = min(len(self.lines), region.end_old + 3)
        hi_new = min(len(new_lines), region.end_new + 3)
        out = []
        for line in difflib.unified_diff(self.lines[lo:hi_old], new_lines[lo:hi_new], fromfile=f"a/{self.path}",
                                         tofile=f"b/{self.path}", n=3):
            m = _HUNK.match(line)
            if m:
                line = (f"@@ -{int(m.group(1)) + lo}{m.group(2) or ''} +{int(m.group(3)) + lo}{m.group(4) or ''} @@"
                        + line[m.end():])
            out.append(line)
        return "".join(out)


def _form(block: str) -> str | None:
    """The normalised AST of a function's source cut from its file, or None if it does not
    compile on its own."""
    try:
        code = textwrap.dedent(block)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. `x is 0` from a mutation: the sandbox judges it
            tree = ast.parse(code)
            compile(tree, "<candidate>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    return ast.dump(tree, include_attributes=False)


def _compiles(text: str, path: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, path, "exec", dont_inherit=True)  # parse only; nothing runs
    except (SyntaxError, ValueError):
        return False
    return True


def unified_diff(path: str, before: str, after: str) -> str:
    """A file's change as git shows it (``a/`` and ``b/`` paths, three lines of context)."""
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"a/{path}", tofile=f"b/{path}", n=3))
