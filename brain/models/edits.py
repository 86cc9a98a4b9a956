"""Search/replace edits from a model, applied to the project's files: exactly, or by one
unambiguous fuzzy match, or not at all.

Models copy code imperfectly: trailing spaces, tabs for spaces, a lost indentation level. A
search text that matches no place exactly is compared line by line with whitespace ignored; if
exactly one window of lines matches, that window is replaced (the replacement re-indented by
the same shift). Zero or several matches reject the edit: PVE never guesses where a fix goes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from brain.candidates import unified_diff
from brain.models.answer import ModelCandidate, SearchReplace
from pve.models import Candidate, FileEdit

Reader = Callable[[str], str]


@dataclass
class Applied:
    """One model candidate after its edits met the files."""

    files: dict[str, str] = field(default_factory=dict)  # path -> new full text
    fuzzy: int = 0  # edits placed by the whitespace-insensitive match
    problem: str | None = None  # why the candidate was dropped


def apply_edit(text: str, edit: SearchReplace) -> tuple[str, bool]:
    """``text`` with the edit applied, and whether the match was fuzzy. Raises ValueError when
    the search text matches nowhere or in several places."""
    if edit.search == "":
        raise ValueError("empty search text (say which lines to replace)")
    count = text.count(edit.search)
    if count == 1:
        return text.replace(edit.search, edit.replace, 1), False
    if count > 1:
        raise ValueError(f"search text occurs {count} times in {edit.file}; include more lines to make it unique")
    return _fuzzy(text, edit), True


def _norm(line: str) -> str:
    return " ".join(line.split())


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())].replace("\t", "    ")


def _fuzzy(text: str, edit: SearchReplace) -> str:
    lines = text.splitlines(keepends=True)
    want = [_norm(x) for x in edit.search.splitlines()]
    while want and not want[0]:
        want.pop(0)
    while want and not want[-1]:
        want.pop()
    if not want:
        raise ValueError("search text is only whitespace")
    have = [_norm(x) for x in lines]
    hits = [i for i in range(len(lines) - len(want) + 1) if have[i:i + len(want)] == want]
    if not hits:
        raise ValueError(f"search text not found in {edit.file}")
    if len(hits) > 1:
        raise ValueError(f"search text matches {len(hits)} places in {edit.file} (ignoring whitespace)")
    start = hits[0]
    found = lines[start:start + len(want)]
    first_search = next(x for x in edit.search.splitlines() if x.strip())
    shift = len(_indent(found[0])) - len(_indent(first_search))
    newline = "\n" if not found[-1].endswith("\r\n") else "\r\n"
    replaced = []
    for line in edit.replace.splitlines():
        if line.strip() and shift > 0:
            line = " " * shift + line
        elif line.strip() and shift < 0:
            cut = min(-shift, len(_indent(line)))
            line = line.replace("\t", "    ")[cut:]
        replaced.append(line + newline)
    if replaced and not found[-1].endswith(("\n", "\r")):
        replaced[-1] = replaced[-1].rstrip("\r\n")
    return "".join(lines[:start] + replaced + lines[start + len(want):])


def apply_candidate(cand: ModelCandidate, read: Reader) -> Applied:
    """All of one candidate's edits, in order, file by file. Any edit that cannot be placed drops
    the whole candidate. (Edits to tests are applied here and rejected by preflight, on the record.)"""
    out = Applied()
    for edit in cand.edits:
        if edit.file not in out.files:
            try:
                out.files[edit.file] = read(edit.file)
            except FileNotFoundError:
                out.problem = f"{edit.file} is not a file of the project"
                return out
        try:
            out.files[edit.file], fuzzy = apply_edit(out.files[edit.file], edit)
        except ValueError as exc:
            out.problem = str(exc)
            return out
        out.fuzzy += fuzzy
    return out


def to_candidates(answer_candidates: list[ModelCandidate], read: Reader, *, source: str,
                  first_id: int) -> tuple[list[Candidate], list[str]]:
    """Candidates ready for preflight, and one line per dropped candidate saying why."""
    out: list[Candidate] = []
    dropped: list[str] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for n, mc in enumerate(answer_candidates, 1):
        applied = apply_candidate(mc, read)
        if applied.problem is None:
            changed = {p: t for p, t in applied.files.items() if t != read(p)}
            if not changed:
                applied.problem = "changes nothing"
            else:
                applied.files = changed
        if applied.problem is None:
            for path, new_text in applied.files.items():
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        compile(new_text, path, "exec", dont_inherit=True)  # parse only; nothing runs
                except (SyntaxError, ValueError) as exc:
                    applied.problem = f"{path} does not compile after the edit: {exc}"
                    break
        key = tuple(sorted(applied.files.items()))
        if applied.problem is None and key in seen:
            applied.problem = "same edit as an earlier candidate"
        if applied.problem is not None:
            dropped.append(f"{source} candidate {n}: {applied.problem}")
            continue
        seen.add(key)
        diff = "".join(unified_diff(p, read(p), t) for p, t in sorted(applied.files.items()))
        rule = "model.edit" + (" (fuzzy match)" if applied.fuzzy else "")
        out.append(Candidate(id=first_id + len(out), source=source, rule=rule, rationale=mc.rationale,
                             edits=[FileEdit(path=p, new_text=t) for p, t in sorted(applied.files.items())],
                             diff=diff, diff_lines=sum(1 for x in diff.splitlines()
                                                       if x[:1] in "+-" and x[:3] not in ("+++", "---"))))
    return out, dropped
