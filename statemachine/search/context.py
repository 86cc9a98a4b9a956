"""What every search (the cache, the offline engine, the models) works with: one shape, so the
runner can call them side by side and a Step Functions state can call any one alone."""

from __future__ import annotations

from dataclasses import dataclass

from brain.models.providers import BrainConfig
from pve.events import Fanout
from pve.layout import is_test_path
from pve.models import Checks, Spectrum, VerifyRequest
from pve.settings import Settings
from sandbox.backend import SandboxBackend, StagedProject
from statemachine.pending import PendingOracle
from statemachine.preflight import is_protected


@dataclass(frozen=True)
class SearchContext:
    req: VerifyRequest
    checks: Checks  # what every candidate is held to (from the reproduce step)
    spectrum: Spectrum  # coverage for localization (from the reproduce step)
    py_files: list[str]
    sandbox: SandboxBackend
    staged: StagedProject
    events: Fanout
    settings: Settings
    models: BrainConfig
    started: float  # the session's start (time.monotonic()), for time-to-fix figures
    pending: PendingOracle | None = None  # the regression baseline, while it still runs

    def editable(self, path: str) -> bool:
        """May a fix touch ``path``? Never a protected path, a test, or the reproduction itself
        (a snippet's or a project script's functions are fair game: preflight guards their
        top-level code instead)."""
        if is_protected(path, self.req.protected):
            return False
        repro = self.checks.repro
        if path in repro.files:
            return repro.defs_editable()
        return not is_test_path(path)
