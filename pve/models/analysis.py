"""What a report says failed: the exception, its frames, and the coarse class that strategies
are picked by. Apart because reading a report (brain/intake) needs these and nothing of a run."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class Category(StrEnum):
    """Coarse error classes; the offline engine and the model prompts pick strategies by them."""

    SYNTAX = "syntax"
    IMPORT = "import"
    NAME = "name"
    ATTRIBUTE = "attribute"
    TYPE = "type"
    INDEX = "index"
    KEY = "key"
    VALUE = "value"
    ARITHMETIC = "arithmetic"
    ASSERTION = "assertion"
    RECURSION = "recursion"
    TIMEOUT = "timeout"
    ENVIRONMENT = "environment"
    RUNTIME = "runtime"


class Frame(BaseModel):
    """One traceback frame as reported, plus where it lives in the project (if it does)."""

    file: str  # as written in the log
    line: int | None = None
    function: str | None = None
    code: str | None = None
    project_path: str | None = None  # POSIX path relative to the project root, when it exists there
    cut: bool = False  # the report ends on this frame's line: its function's name may be cut short


class ExceptionInfo(BaseModel):
    type: str  # short name, e.g. "JSONDecodeError"
    qualified_type: str  # as written, e.g. "json.decoder.JSONDecodeError"
    message: str = ""
    type_truncated: bool = False  # pytest's summary cut the name ("ZeroDivisionEr..."): match by prefix
    frames: list[Frame] = Field(default_factory=list)
    # SyntaxError family: where the compiler stopped
    syntax_file: str | None = None
    syntax_line: int | None = None
    # the traceback ended before its exception line (cut by the reporter, or by a length limit):
    # the type is the one the rest of the report names (its title, its prose)
    cut: bool = False


# The compiler's errors: they point at a location (``syntax_file``/``syntax_line``), not a frame.
SYNTAX_ERRORS = frozenset({"SyntaxError", "IndentationError", "TabError"})


def same_exception_type(reported: ExceptionInfo, actual_type: str) -> bool:
    """Does an observed exception type match what the log reported?"""
    if reported.type_truncated:
        return actual_type.startswith(reported.type)
    return actual_type == reported.type


class Failure(BaseModel):
    """One failure found in a log: a final exception, what led to it, and the test if any."""

    exception: ExceptionInfo
    chain: list[ExceptionInfo] = Field(default_factory=list)  # earlier exceptions, oldest first
    test_id: str | None = None  # pytest node id when the log is pytest output
    origin: str = "traceback"  # "traceback" | "pytest" | "pytest-summary"


class ParsedLog(BaseModel):
    failures: list[Failure] = Field(default_factory=list)
    failing_tests: list[str] = Field(default_factory=list)
    is_pytest: bool = False


class Analysis(BaseModel):
    exception: ExceptionInfo
    category: Category
    failing_frame: Frame | None = None  # innermost frame inside the project (not a test file, if any)
    project_frames: list[Frame] = Field(default_factory=list)
    test_id: str | None = None

    def headline(self) -> str:
        where = ""
        if self.failing_frame and self.failing_frame.project_path:
            where = f" in {self.failing_frame.project_path}:{self.failing_frame.line}"
            if self.failing_frame.function and self.failing_frame.function != "<module>":
                where += f" {self.failing_frame.function}()"
        return f"{self.exception.type or 'an exception (the report does not name it)'}{where}"
