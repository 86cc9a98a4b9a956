"""Errors a user can cause. Each carries a code, the facts, a message and an exit code.

The message and hint are written for the command line (they may name local paths and flags);
the CLI prints them and exits with ``exit_code``, never with a traceback. Other channels (a
GitHub comment, a check run, a web page) render their own words from ``code`` and ``facts``,
so no host path or CLI flag ever reaches them (``bot.render.problem``). Anything else escaping
is a bug in PVE.
"""

from __future__ import annotations


class PVEError(Exception):
    """Base for errors with a clear message for the user."""

    exit_code = 2
    code = "error"

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None, **facts: str) -> None:
        super().__init__(message)
        self.hint = hint
        self.code = code or type(self).code
        self.facts = facts  # public facts only: repository paths, test ids, sizes; never a host path

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\n  hint: {self.hint}" if self.hint else base


class BadInput(PVEError):
    """The user gave us something we cannot work with (exit 2)."""

    code = "bad-input"


class SandboxUnavailable(PVEError):
    """bubblewrap is missing or cannot create namespaces. We never run unsandboxed."""

    code = "sandbox-unavailable"


class ProofInvalid(PVEError):
    """A proof file was altered, is malformed, or was signed by another key (exit 1)."""

    exit_code = 1
    code = "proof-invalid"
