"""What a report shows when its traceback is incomplete: frames whose exception line was cut
off (the exception then named by the report's title or prose), a piece of pytest's output pasted
without its header, or only the traceback's last lines.

Apart from the readers of whole reports: these are the last resort, read only when nothing
complete was found. Pure: text in, models out.
"""

from __future__ import annotations

import re

from brain.intake.cpython_traceback import (
    CAUSE,
    CONTEXT,
    EXC_LINE,
    FRAME,
    looks_like_exception,
    parse_cpython,
    parse_frames,
)
from brain.intake.project_index import ProjectIndex
from pve.models import ExceptionInfo, Failure, Frame


def fragment_failure(lines: list[str], index: ProjectIndex) -> Failure | None:
    """The failure an incomplete traceback shows, the most complete reading first; None when
    the lines show none."""
    return _cut_traceback(lines, index) or _pytest_fragment(lines, index) or _bare_exception(lines)


# "# AttributeError: 'X' object has no attribute 'y'" (an issue's title), or a line of prose
_NAMED_EXC = re.compile(r"^(?:#+\s*)?(?P<type>[A-Za-z_][\w.]*\w)\s*:\s*(?P<msg>\S.*)$")
# "a `TypeError` in astroid", "`AssertionError: Past end?` on match statement"
_TICKED_EXC = re.compile(r"`(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Warning|Interrupt|Fault))(?::\s*(?P<msg>[^`]*))?`")


def _cut_traceback(lines: list[str], index: ProjectIndex) -> Failure | None:
    """A traceback whose exception line the reporter (or a length limit) cut off: its frames,
    with the exception the rest of the report names (the title "AttributeError: ...", or a
    `TypeError` in the prose). None when there are no frames or no exception is named."""
    frames: list[Frame] = []
    i = 0
    while i < len(lines):
        if FRAME.match(lines[i]):
            found, j = parse_frames(lines, i, index)
            frames = found or frames  # the last block: the one nearest the (missing) exception
            i = max(j, i + 1)
        else:
            i += 1
    last = next((x for x in reversed(lines) if x.strip()), "")
    tail = FRAME.match(last)
    if frames and tail and frames[-1].line == int(tail["line"]) and frames[-1].code is None:
        # the text ends on this frame's own line (a length limit): its name may be halved
        frames = [*frames[:-1], frames[-1].model_copy(update={"cut": True})]
    if not frames:
        return None
    named = _named_exception(lines)
    if named is None:
        if not any(f.project_path for f in frames):
            return None
        # Nothing names the exception (the report was cut before it): a crash in these frames,
        # of any type; the reproduction is held to raising inside the reported frames.
        return Failure(exception=ExceptionInfo(type="", qualified_type="", message="", frames=frames, cut=True,
                                               type_truncated=True))
    qualified, message = named
    marker = max((k for k, x in enumerate(lines) if x.strip() in (CAUSE, CONTEXT)), default=None)
    if marker is not None:
        # A chain cut after its marker ("The above exception was the direct cause..."): when the
        # exception the report names is a complete link before it, that link is the failure.
        earlier = [f for f in parse_cpython(lines[:marker], index)
                   if f.exception.type == qualified.rsplit(".", 1)[-1]]
        if earlier:
            return earlier[-1]
    return Failure(exception=ExceptionInfo(type=qualified.rsplit(".", 1)[-1], qualified_type=qualified,
                                           message=message, frames=frames, cut=True))


_E_LINE = re.compile(r"^E\s+(?P<type>[A-Za-z_][\w.]*)(?::\s*(?P<msg>.*))?$")
_PYTEST_WHERE = re.compile(r"^(?P<file>\S+\.py):(?P<line>\d+): (?P<type>[A-Za-z_][\w.]*)$")


def _pytest_fragment(lines: list[str], index: ProjectIndex) -> Failure | None:
    """A piece of pytest's failure output pasted without its header: the failing function's
    source, its ``>`` line and the ``E   Type: message`` lines (and, when kept, pytest's
    ``path.py:123: Type`` line, the failing frame)."""
    hits = [(k, m) for k, x in enumerate(lines) if (m := _E_LINE.match(x)) and looks_like_exception(m["type"])]
    if not hits:
        return None
    at, m = hits[0]
    code = next((x[1:].strip() for x in reversed(lines[:at]) if x.startswith(">")), None)
    function = next((d["name"] for x in reversed(lines[:at])
                     if (d := re.match(r"^\s*(?:async\s+)?def (?P<name>\w+)\(", x))), None)
    frames: list[Frame] = []
    where = next((w for x in lines[at + 1:at + 30] if (w := _PYTEST_WHERE.match(x.strip()))), None)
    if where is not None:
        frames.append(Frame(file=where["file"], line=int(where["line"]), function=function, code=code,
                            project_path=index.locate(where["file"])))
    qualified = m["type"]
    return Failure(exception=ExceptionInfo(type=qualified.rsplit(".", 1)[-1], qualified_type=qualified,
                                           message=(m["msg"] or "").strip(), frames=frames, cut=True))


def _bare_exception(lines: list[str]) -> Failure | None:
    """Only the end of a traceback: the failing line's code (and its ``^^^`` marks), then
    ``Type: message`` at the start of a line. The exception, without frames: the reproduction is
    held to its type."""
    for k in range(len(lines) - 1, 0, -1):
        m = EXC_LINE.match(lines[k])
        if not m or not m["msg"] or not looks_like_exception(m["type"]) or lines[k][:1].isspace():
            continue
        before = next((x for x in reversed(lines[:k]) if x.strip()), "")
        if before[:1].isspace() and not FRAME.match(before):
            qualified = m["type"]
            return Failure(exception=ExceptionInfo(type=qualified.rsplit(".", 1)[-1], qualified_type=qualified,
                                                   message=m["msg"].strip(), frames=[], cut=True))
    return None


_EXC_WORD = r"[A-Za-z_][\w.]*(?:Error|Exception|Exit|Warning|Interrupt|Fault)"
# A title that starts "InvalidOperation: …": a class name (two capitalised words or more) and a
# message, as a traceback's last line reads, even without an exception-like suffix.
_CAMEL = re.compile(r"(?:[\w]+\.)*[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+")
_TITLE_NAMED = re.compile(rf"\b(?P<type>{_EXC_WORD})\s*:\s*(?P<msg>[^`]+)")
_TITLE_WORD = re.compile(rf"\b(?P<type>{_EXC_WORD})\b")
# CPython's own messages, for a title that quotes the message without its type
_MESSAGE_TYPES = (
    (re.compile(r"object has no attribute|has no attribute '"), "AttributeError"),
    (re.compile(r"index out of range"), "IndexError"),
    (re.compile(r"division by zero|division or modulo by zero"), "ZeroDivisionError"),
    (re.compile(r"object is not (?:subscriptable|callable|iterable)|unsupported operand type|takes \d+ positional argument|"
                r"got an unexpected keyword argument|missing \d+ required positional argument|can only concatenate"),
     "TypeError"),
    (re.compile(r"No such file or directory"), "FileNotFoundError"),
    (re.compile(r"maximum recursion depth exceeded"), "RecursionError"),
)


def _named_exception(lines: list[str]) -> tuple[str, str] | None:
    """(type, message) of the exception a report names where its traceback does not: the
    issue's title (the "# " line PVE's input starts with) first, then a ticked `XxxError` in the
    prose. None when nothing names one."""
    title = next((x.strip()[1:].strip() for x in lines if x.strip().startswith("# ")), "")
    for candidate in (title, *(x.strip() for x in lines)):
        m = _NAMED_EXC.match(candidate)
        if m and (looks_like_exception(m.group("type")) or (candidate is title and _CAMEL.fullmatch(m.group("type")))):
            return m.group("type"), m.group("msg").strip()
        if candidate is not title:
            continue
        m = _TICKED_EXC.search(candidate) or _TITLE_NAMED.search(candidate) or _TITLE_WORD.search(candidate)
        if m and looks_like_exception(m.group("type")):
            return m.group("type"), (m.groupdict().get("msg") or "").strip().strip("`")
        for pattern, kind in _MESSAGE_TYPES:
            if pattern.search(candidate):
                return kind, candidate
    for line in lines:
        m = _TICKED_EXC.search(line)
        if m and looks_like_exception(m.group("type")):
            return m.group("type"), (m.group("msg") or "").strip()
    return None
