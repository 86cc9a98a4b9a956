"""What a model must answer, and how its text becomes that answer (or a clear reason why not).

Models are untrusted: the text is parsed and validated here, the edits are applied by
``brain.models.edits`` (exactly, or by a unique fuzzy match, never guessed), and everything still runs
in the sandbox before anyone sees it.
"""

from __future__ import annotations

import json
import re
from posixpath import normpath

from pydantic import BaseModel, Field, ValidationError, field_validator

MAX_CANDIDATES = 10
MAX_EDITS = 20
MAX_EDIT_CHARS = 20_000
MAX_SCRIPT_CHARS = 20_000


class SearchReplace(BaseModel):
    """Replace the exact text ``search`` in ``file`` with ``replace``."""

    file: str = Field(description="project-relative path of the file to edit, e.g. 'pkg/mod.py'")
    search: str = Field(description="exact existing text to replace, a few whole lines, copied verbatim")
    replace: str = Field(description="the new text for those lines")

    @field_validator("file")
    @classmethod
    def _relative(cls, v: str) -> str:
        v = v.strip().removeprefix("./")
        norm = normpath(v) if v else ""
        if not norm or norm.startswith(("/", "../")) or norm == ".." or "\\" in norm or "\0" in norm:
            raise ValueError(f"not a project-relative path: {v!r}")
        return norm

    @field_validator("search", "replace")
    @classmethod
    def _size(cls, v: str) -> str:
        if len(v) > MAX_EDIT_CHARS:
            raise ValueError(f"edit text longer than {MAX_EDIT_CHARS} characters")
        return v


class ModelCandidate(BaseModel):
    rationale: str = Field(description="one line: what was wrong and why this edit fixes it")
    edits: list[SearchReplace] = Field(min_length=1, max_length=MAX_EDITS)

    @field_validator("rationale")
    @classmethod
    def _one_line(cls, v: str) -> str:
        flat = " ".join(v.split())
        return flat[:200]


class ModelAnswer(BaseModel):
    """The structured output every generator is asked for (the JSON schema sent to providers)."""

    reproduction: str = Field(description="a standalone Python script that fails now with the reported "
                                          "exception and prints the given marker line when the bug is fixed")
    candidates: list[ModelCandidate] = Field(min_length=1, max_length=MAX_CANDIDATES)

    @field_validator("reproduction")
    @classmethod
    def _script(cls, v: str) -> str:
        if len(v) > MAX_SCRIPT_CHARS:
            raise ValueError(f"reproduction longer than {MAX_SCRIPT_CHARS} characters")
        if not v.strip():
            raise ValueError("reproduction is empty")
        return v


class InvalidAnswer(ValueError):
    """The model's text is not a usable answer; the message says why (fed back on a retry)."""


_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)\n```", re.S)


def parse_answer(text: str) -> ModelAnswer:
    """The answer in ``text``: plain JSON, or JSON in one fenced block (some endpoints wrap it)."""
    body = text.strip()
    if not body.startswith("{"):
        m = _FENCE.search(body)
        if m:
            body = m.group(1).strip()
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidAnswer(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(data, dict):
        raise InvalidAnswer("the JSON is not an object with 'reproduction' and 'candidates'")
    try:
        answer = ModelAnswer.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "answer"
        raise InvalidAnswer(f"{where}: {first['msg']} ({exc.error_count()} problem(s))") from None
    try:
        compile(answer.reproduction, "pve_repro.py", "exec", dont_inherit=True)  # parse only
    except (SyntaxError, ValueError) as exc:
        raise InvalidAnswer(f"the reproduction script does not compile: {exc}") from None
    return answer
