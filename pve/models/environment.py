"""A project's environment: the plan it is built from, and the built environment as a session
and its proof record it. Apart because the sandbox's environment builder reads only these."""

from __future__ import annotations

from pydantic import BaseModel, Field


class InstallPlan(BaseModel):
    """What a project's environment is built from (sandbox/declarations.py reads it; the
    environment's key hashes it with the declaration files' contents)."""

    kind: str  # "uv.lock" | "pylock.toml" | "poetry.lock" | "pdm.lock" | "Pipfile.lock" | "requirements" | "project" | "pve.yml" | "none"
    files: list[str] = Field(default_factory=list)  # declaration files (and what they include), keyed by content
    requirements: list[str] = Field(default_factory=list)  # requirement files installed with -r
    constraints: list[str] = Field(default_factory=list)  # exact pins from a lock file
    # The project's own distribution names, over any dependency's pin of them (written as the
    # source's path): a tool among its dev requirements that depends on a release of the project
    # (pylint in astroid's) is installed beside the project's source instead of failing the
    # resolution.
    overrides: list[str] = Field(default_factory=list)
    packages: list[str] = Field(default_factory=list)  # requirement strings (pytest, always)
    editable: bool = False  # the project itself, editable
    extras: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    commands: list[str] = Field(default_factory=list)  # .github/pve.yml's own commands, in the build sandbox
    requires_python: str | None = None

    def needed(self) -> bool:
        return self.kind != "none"


class EnvironmentInfo(BaseModel):
    """A built environment, as a session and its proof record it."""

    key: str
    kind: str  # the plan's kind
    python: str  # "3.11.2 (/usr/bin/python3.11)"
    packages: list[str] = Field(default_factory=list)  # frozen: name==version
    reused: bool = False  # built before (by key), not now
    build_ms: float = 0.0
    size_bytes: int = 0
