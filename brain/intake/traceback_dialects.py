"""Tracebacks printed otherwise than CPython's plain way, rewritten as CPython prints them so
one reader handles all: IPython's and Jupyter's (``---->`` markers, ``Cell In[3]``), and an
ExceptionGroup's tree of tracebacks drawn in a box (3.11+).

Apart because it is a rewriting of lines before any reading: nothing here makes a model.
"""

from __future__ import annotations

import re

# IPython's and Jupyter's tracebacks: "----> 12 code" markers, "Cell In[3], line 1" (IPython 8),
# "<ipython-input-8-…> in <module>()" and "~/path.py in func(args)" (IPython 7),
# "File ~/path.py:123, in func(args)" (IPython 8).
_IPY_MARK = re.compile(r"^\s*-*-> ?\d+ |^Cell In ?\[|<ipython-input-|^\S+\s+Traceback \(most recent call last\)$")
_IPY_HEADER = re.compile(r"^(?:(?P<type>[A-Za-z_][\w.]*)\s+)?Traceback \(most recent call last\):?\s*$")
_IPY_CELL = re.compile(r"^Cell In ?\[(?P<n>\d*)\], line (?P<line>\d+)")
_IPY_FILE8 = re.compile(r"^File (?P<file>\S.*?):(?P<line>\d+), in (?P<func>[\w<>.]+)")
_IPY_FILE7 = re.compile(r"^(?P<file>~?[^\s\"]*\.pyw?|<ipython-input-[^>]*>|<stdin>|<string>)\s+in\s+(?P<func>[\w<>.]+)")
_IPY_CODE = re.compile(r"^\s*-*-> ?(?P<line>\d+)\s?(?P<code>.*)$")


# An ExceptionGroup's tree (3.11+): its traceback and each sub-exception's, drawn in a box.
_GROUP_HEADER = re.compile(r"^\s*\+ Exception Group Traceback \(most recent call last\):")
_GROUP_RULE = re.compile(r"^\s*\+?-?\+-+(?: (?:\d+|\.\.\.)(?: -+)?)?\s*$|^\s*\+-+\s*$")
_GROUP_EDGE = re.compile(r"^\s*[|+] ?")


def _ungrouped(lines: list[str]) -> list[str]:
    """The tree as separate tracebacks, the group's first: each line without its box edge."""
    out: list[str] = []
    for line in lines:
        if _GROUP_RULE.match(line):
            out.append("")
            continue
        m = _GROUP_EDGE.match(line)
        if m and (line.lstrip().startswith(("|", "+ Exception Group"))):
            line = line[m.end():].replace("Exception Group Traceback", "Traceback")
        out.append(line)
    return out


def _from_ipython(lines: list[str]) -> list[str]:
    """IPython's traceback as CPython prints it (``File "…", line N, in f`` and the line's code),
    so one reader handles both. A frame's line is the one its ``--->`` marker points at."""
    out: list[str] = []
    pending: tuple[str, str | None, str] | None = None  # file, line (IPython 8 gives it), function
    in_frame = False  # after a frame's marked line, before the blank line that ends its context

    def flush(line: str | None, code: str) -> None:
        nonlocal pending
        if pending is not None:
            file, at, func = pending
            out.append(f'  File "{file}", line {line or at or 0}, in {func}')
            if code:
                out.append(f"    {code.strip()}")
        pending = None

    for raw in lines:
        x = raw.strip()
        header = _IPY_HEADER.match(x)
        if header and "-" * 10 not in x:
            flush(None, "")
            out.append("Traceback (most recent call last):")
            continue
        m = _IPY_CELL.match(x) or _IPY_FILE8.match(x) or _IPY_FILE7.match(x)
        if m:
            flush(None, "")
            d = m.groupdict()
            file = d.get("file") or f"<ipython-input-{d.get('n') or 0}>"
            func = d.get("func") or "<module>"
            # (IPython 8 names methods by their qualified name, "Table.column": the frame's is "column")
            pending = (file, d.get("line"), func if func.startswith("<") else func.split("(")[0].rsplit(".", 1)[-1])
            in_frame = False
            continue
        code = _IPY_CODE.match(raw)
        if code and pending is not None:
            flush(code["line"], code["code"])
            in_frame = True
            continue
        if (pending is not None or in_frame) and re.match(r"^\s*\d+(?:\s|$)", raw):
            continue  # context lines around the marked one
        if re.fullmatch(r"-{10,}", x) or (pending is not None and not x):
            continue
        if in_frame and not x:  # the blank line between two frames: CPython prints none
            in_frame = False
            continue
        in_frame = False
        flush(None, "")
        out.append(raw)
    flush(None, "")
    return out


def as_cpython(lines: list[str]) -> list[str]:
    """The log's lines with IPython's tracebacks and ExceptionGroup trees as CPython's own."""
    if any(_IPY_MARK.search(x) for x in lines):
        lines = _from_ipython(lines)
    if any(_GROUP_HEADER.match(x) for x in lines):
        lines = _ungrouped(lines)
    return lines
