"""What a ``/pve`` comment asks for, and the text PVE reads as its input. Pure functions.

Input for ``/pve verify``: the traceback(s) and code blocks in the comment, then the issue body,
then earlier comments (newest first), skipping bots and PVE's own replies. The pipeline's log
parser picks the failure from that text; the same text, marked untrusted, is what a model sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.triggers import COMMAND
from pve.text import strip_ansi

VERBS = ("verify", "help")
# "Traceback (most recent call last):" starts a CPython traceback; pytest's "___ test_x ___"
# sections and "FAILED tests/x.py::t" lines are failures too.
# Lines may carry CI timestamps and colour codes (a pasted Actions log).
_FAILURE = re.compile(r"Traceback \(most recent call last\):|_{3,} \S.* _{3,}\s*$|(FAILED|ERROR) \S+::\S+", re.M)
# A fenced block or a REPL transcript: code a report may reproduce the failure with.
_CODE = re.compile(r"^ {0,3}(?:`{3,}|~{3,})|^\s*>>> ", re.M)
_ARG = re.compile(r"^[\w./\-\[\]:=,+]+$")
MAX_INPUT_CHARS = 200_000  # a comment thread is not a CI log: cap what the parser and the models read


@dataclass(frozen=True)
class Command:
    verb: str  # "verify" | "help" | the unknown word
    arg: str | None = None  # /pve verify tests/test_x.py::test_y
    problem: str | None = None  # why the command cannot run as written


def parse_command(body: str) -> Command:
    """``/pve verify [path or test id]`` or ``/pve help``, from the comment's first line."""
    words = body.strip().splitlines()[0].split() if body.strip() else []
    if not words or words[0].lower() != COMMAND:
        return Command("", problem="not a /pve command")
    if len(words) == 1:
        return Command("help")
    verb = words[1].lower()
    if verb not in VERBS:
        return Command(verb, problem=f"unknown command `/pve {words[1][:40]}`")
    if verb == "help":
        return Command("help")
    rest = words[2:]
    if len(rest) > 1:
        return Command("verify", problem="`/pve verify` takes at most one path or test id")
    if rest and (not _ARG.match(rest[0]) or rest[0].startswith("-") or ".." in rest[0].split("/")):
        return Command("verify", problem=f"`{rest[0][:80]}` is not a path or test id inside the repository")
    return Command("verify", rest[0] if rest else None)


def has_failure(text: str) -> bool:
    return bool(_FAILURE.search(strip_ansi(text or "")))


def has_code(text: str) -> bool:
    return bool(_CODE.search(text or ""))


def input_text(comment: str, issue_body: str | None, earlier: list[str], title: str | None = None,
               failure: Callable[[str], bool] = has_failure) -> str:
    """The text with the failure: the comment first, then the issue, then earlier comments
    (newest first). Parts that hold a traceback or pytest failure come first, so the parser
    picks the failure the user pointed at; parts with only a code block follow (the code that
    reproduces it may sit in the issue while the traceback came in a comment); the issue's title
    heads it all. ``failure``: does a part (headed by the title) hold a failure? (The log reader's
    answer, where the caller has it: an IPython traceback, pytest's E lines, a cut traceback.)"""
    parts = [comment, issue_body or "", *reversed(earlier)]
    head = f"# {title.strip()}\n\n" if title and title.strip() else ""
    kept = [p for p in parts if p.strip() and (has_failure(p) or failure(head + p))]
    if not kept:
        return ""
    kept += [p for p in parts if p not in kept and has_code(p)]
    text = "\n\n".join(([f"# {title.strip()}"] if title and title.strip() else []) + kept)
    return text[:MAX_INPUT_CHARS]
