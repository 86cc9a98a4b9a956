"""The error signature: the semantic cache's key (``ERROR_HASH#<hash>``).

Two failures share a signature when they are the same error in the same code: the exception
type, its message with the run-specific parts blanked out (addresses, numbers), the innermost
project frames (file, function, code line) and the content hash of the files those frames are
in. A cached fix is still re-verified in the sandbox before it is reused (zero trust); the key
only decides which fix is worth trying first.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable

from pve.models import Analysis

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_NUMBER = re.compile(r"(?<![A-Za-z_])\d+(?:\.\d+)?")
_FRAMES = 3


def normalized_message(message: str) -> str:
    text = _ADDRESS.sub("<addr>", message)
    text = _NUMBER.sub("N", text)
    return " ".join(text.split())[:500]


def error_signature(analysis: Analysis, read: Callable[[str], str]) -> str | None:
    """The signature's hash, or None when the error has no place in the project to anchor it."""
    exc = analysis.exception
    frames = [f for f in analysis.project_frames if f.project_path][-_FRAMES:]
    places = [(f.project_path or "", f.function or "", (f.code or "").strip()) for f in frames]
    if exc.syntax_file:
        places.append((exc.syntax_file, "<syntax>", str(exc.syntax_line or "")))
    if not places:
        return None
    contents = {}
    for path, _function, _code in places:
        try:
            contents[path] = hashlib.sha256(read(path).encode("utf-8")).hexdigest()
        except FileNotFoundError:
            return None
    key = {"type": exc.type, "message": normalized_message(exc.message), "frames": places, "files": contents}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()
