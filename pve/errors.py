"""Errors a user can cause. Each carries a message meant for a person and an exit code.

The CLI prints ``str(error)`` and exits with ``error.exit_code``; it never shows a traceback
for these. Anything else escaping is a bug in PVE.
"""

from __future__ import annotations


class PVEError(Exception):
    """Base for errors with a clear message for the user."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\n  hint: {self.hint}" if self.hint else base


class BadInput(PVEError):
    """The user gave us something we cannot work with (exit 2)."""


class SandboxUnavailable(PVEError):
    """bubblewrap is missing or cannot create namespaces. We never run unsandboxed."""


class ProofInvalid(PVEError):
    """A proof file was altered, is malformed, or was signed by another key (exit 1)."""

    exit_code = 1
