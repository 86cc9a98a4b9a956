"""Turn a raw error log (bytes from a file, stdin or a CI job) into clean lines.

CI logs arrive with a UTF-8 BOM, ANSI colours, GitHub Actions timestamps and ``##[group]``
markers; none of that is part of the traceback.
"""

from __future__ import annotations

import re

from pve.errors import BadInput
from pve.text import strip_ansi

MAX_LOG_BYTES = 64 << 20

# 2026-07-28T16:19:59.9385068Z  (GitHub Actions job logs)
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?")
_GHA_MARKER = re.compile(r"^##\[(group|endgroup|section|command|debug|notice|warning|error)\]")


def decode_log(raw: bytes, *, source: str = "error log") -> str:
    """Decode log bytes as UTF-8; refuse empty or binary input with a clear message."""
    if len(raw) > MAX_LOG_BYTES:
        # Keep the tail: the traceback that matters is at the end of a long log.
        raw = raw[-MAX_LOG_BYTES:]
    if not raw.strip():
        raise BadInput(f"the {source} is empty", code="log-empty", source=source)
    sample = raw[:8192]
    if b"\x00" in sample:
        raise BadInput(f"the {source} looks binary (it contains NUL bytes); give a text log", code="log-binary",
                       source=source)
    text = raw.decode("utf-8", errors="replace")
    bad = sum(1 for ch in text[:8192] if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\t\n\r\x1b\f"))
    if bad > max(16, len(text[:8192]) // 10):
        raise BadInput(f"the {source} does not look like text (not UTF-8?)", code="log-not-text", source=source)
    return text


def clean_lines(text: str) -> list[str]:
    """Strip BOM, ANSI escapes, CI timestamps and ``##[...]`` markers; keep indentation."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    for line in text.split("\n"):
        line = strip_ansi(line).replace("\ufeff", "")
        line = _TIMESTAMP.sub("", line)
        marker = _GHA_MARKER.match(line)
        if marker:
            if marker.group(1) in ("group", "endgroup", "section", "command", "debug"):
                continue
            line = line[marker.end():]
        out.append(line.rstrip())
    return out
