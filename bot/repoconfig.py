"""A repository's ``.github/pve.yml``: validated, with every problem in words a maintainer can act on.

```yaml
triggers:
  comment: true        # /pve verify on issues and pull requests
  ci: true             # failing workflow runs on pull requests
  pull_request: true   # a pull request that says it fixes an issue ("Fixes #12"): does it?
allow:
  associations: [OWNER, MEMBER, COLLABORATOR]   # who may run /pve verify by association
  permission: write    # or anyone with at least this permission (none: associations only)
tests: [tests/]        # pytest arguments for the regression suite (default: the whole suite)
ignore: ["docs/**"]    # paths a fix may never touch (globs)
candidates: 400        # candidates tried at most
timeout: 10            # seconds per sandboxed run
max_failures: 3        # distinct CI failures verified per workflow run (and linked issues per pull request)
install:               # how the project's environment is built (default: detected from its files)
  files: [requirements/ci.txt]   # requirement files (-r/-c inside them are followed)
  extras: [test]       # the project's extras, installed with it
  groups: [test]       # dependency groups (PEP 735)
  packages: [numpy]    # more requirements
  editable: true       # the project itself, editable (default: when it has a build configuration)
  commands: ["make generated"]   # run after the install, in the build sandbox, with the venv active
```

Installs never run in the run sandbox: they run once per declaration in a build sandbox that may
fetch packages, and every run sees the result read-only (sandbox/environments.py).
"""

from __future__ import annotations

import re
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PATH = ".github/pve.yml"
Association = Literal["OWNER", "MEMBER", "COLLABORATOR", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "NONE"]
Permission = Literal["admin", "maintain", "write", "triage", "read", "none"]
PERMISSION_RANK = {"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}


_MEMBERS: list[Association] = ["OWNER", "MEMBER", "COLLABORATOR"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Triggers(_Strict):
    comment: bool = True
    ci: bool = True
    pull_request: bool = True


class Allow(_Strict):
    associations: list[Association] = Field(default_factory=lambda: _MEMBERS.copy())
    permission: Permission = "write"

    def by_association(self, association: str | None) -> bool:
        return (association or "NONE") in self.associations

    def by_permission(self, role: str) -> bool:
        """Does a user's role (from the API) reach the required permission? ``none`` lets nobody in."""
        if self.permission == "none":
            return False
        return PERMISSION_RANK.get(role, 0) >= PERMISSION_RANK[self.permission]


def _inside_repo(values: list[str]) -> list[str]:
    for v in values:
        if not v or v.startswith(("/", "-")) or ".." in v.replace("\\", "/").split("/"):
            raise ValueError(f"{v!r} must be a path inside the repository")
    return values


class Install(_Strict):
    files: list[str] = Field(default_factory=list, max_length=20)
    extras: list[str] = Field(default_factory=list, max_length=20)
    groups: list[str] = Field(default_factory=list, max_length=20)
    packages: list[str] = Field(default_factory=list, max_length=200)
    editable: bool | None = None
    commands: list[str] = Field(default_factory=list, max_length=10)

    @field_validator("files")
    @classmethod
    def _files_inside_repo(cls, values: list[str]) -> list[str]:
        return _inside_repo(values)

    @field_validator("extras", "groups")
    @classmethod
    def _names(cls, values: list[str]) -> list[str]:
        for v in values:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", v):
                raise ValueError(f"{v!r} is not an extra or group name")
        return values

    @field_validator("packages")
    @classmethod
    def _requirements(cls, values: list[str]) -> list[str]:
        for v in values:
            if not v.strip() or v.strip().startswith("-"):
                raise ValueError(f"{v!r} is not a requirement (options belong in a requirements file)")
        return values


class RepoConfig(_Strict):
    triggers: Triggers = Field(default_factory=Triggers)
    allow: Allow = Field(default_factory=Allow)
    tests: list[str] = Field(default_factory=list, max_length=50)
    ignore: list[str] = Field(default_factory=list, max_length=100)
    candidates: int = Field(default=400, ge=1, le=1000)
    timeout: float = Field(default=10, gt=0, le=600)
    max_failures: int = Field(default=3, ge=1, le=10)
    install: Install | None = None
    # A fix that is plausible, not verified (it passed the reproduction only) gets no pull request
    # unless the repository asks for one: then a draft, titled as what it is.
    plausible_pull_request: bool = False
    # A fix pull request also commits its proof, the in-toto attestation, under .pve/attestations/.
    attestations: bool = False

    @field_validator("tests", "ignore")
    @classmethod
    def _paths_inside_repo(cls, values: list[str]) -> list[str]:
        return _inside_repo(values)


class ConfigError(ValueError):
    """The file exists but is not a valid configuration; the message says what to change."""


def parse(text: str | None) -> RepoConfig:
    """The repository's configuration (defaults when the file is absent)."""
    if text is None or not text.strip():
        return RepoConfig()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{PATH} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        return RepoConfig()
    if not isinstance(data, dict):
        raise ConfigError(f"{PATH} must be a mapping of settings, not a {type(data).__name__}")
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err["loc"]) or "(file)"
            msg = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"`{where}`: {msg}")
        raise ConfigError(f"{PATH} has {len(exc.errors())} problem(s): " + "; ".join(problems)) from None
