"""The contract every sandbox backend meets: bubblewrap on one machine (``bwrap.py``), the AWS
stack's sandbox function behind ``remote.py``, and the Lambda runner inside it (``lambda_runner.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pve.models import EnvironmentInfo, InstallPlan, RunResult, RunSpec

if TYPE_CHECKING:
    from sandbox.environments import Environment


@dataclass
class StagedProject:
    """A snapshot of the user's project that every run starts from (the runs never change it)."""

    key: str  # unguessable
    root: Path  # where the snapshot lives on the host
    source: Path  # what the user pointed us at
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256 (regular files)
    env: Environment | None = None  # the project's own dependencies, when it declares any
    # Whose environments and build cache it may share (sandbox/environments.py): one GitHub
    # installation's public or private repositories, or this machine's own runs ("local").
    tenant: str = "local"

    def read_text(self, rel: str) -> str:
        """Host-side read of a staged file; never follows a link out of the snapshot."""
        path = (self.root / "orig" / rel)
        if rel not in self.files or path.is_symlink():
            raise FileNotFoundError(rel)
        return path.read_text(encoding="utf-8", errors="replace")


class SandboxBackend(Protocol):
    name: str

    def describe(self) -> dict[str, Any]:
        """Settings that go into the proof (isolation, limits, interpreter)."""
        ...

    def stage(self, source: Path, *, single_file: bool = False) -> StagedProject: ...

    async def environment(self, staged: StagedProject, plan: InstallPlan) -> EnvironmentInfo | None:
        """Make the project's dependencies available to every run of ``staged`` (built once per
        key, or found); None when the plan needs nothing. Raises DependencyError."""
        ...

    async def run(self, staged: StagedProject, spec: RunSpec) -> RunResult: ...

    async def screen(self, staged: StagedProject, spec: RunSpec) -> RunResult | None:
        """The same run in a warm sandbox, cheaper, to reject a candidate with (``screened``);
        None when this backend or this run cannot be screened. A pass decides nothing."""
        ...

    async def release(self, staged: StagedProject) -> None:
        """Stop what is kept warm for ``staged`` (screening servers) and wait for it to end."""
        ...

    def hurry(self, staged: StagedProject) -> None:
        """Someone waits for ``staged``'s background runs now: they go first, running and to
        come. A backend without priorities has nothing to do."""
        ...

    def cleanup(self, staged: StagedProject) -> None: ...
