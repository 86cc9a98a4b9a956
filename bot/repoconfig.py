"""A repository's ``.github/pve.yml``: validated, with every problem in words a maintainer can act on.

```yaml
triggers:
  comment: true        # /pve verify on issues and pull requests
  ci: true             # failing workflow runs on pull requests
allow:
  associations: [OWNER, MEMBER, COLLABORATOR]   # who may run /pve verify by association
  permission: write    # or anyone with at least this permission (none: associations only)
tests: [tests/]        # pytest arguments for the regression suite (default: the whole suite)
ignore: ["docs/**"]    # paths a fix may never touch (globs)
candidates: 150        # candidates tried at most
timeout: 10            # seconds per sandboxed run
max_failures: 3        # distinct CI failures verified per workflow run
```

``install`` is refused with a reason, not ignored: sandboxes have no network, so an install
command could not fetch anything; PVE runs the code with its own runtime (Python's standard
library and pytest) plus what the repository contains.
"""

from __future__ import annotations

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


class RepoConfig(_Strict):
    triggers: Triggers = Field(default_factory=Triggers)
    allow: Allow = Field(default_factory=Allow)
    tests: list[str] = Field(default_factory=list, max_length=50)
    ignore: list[str] = Field(default_factory=list, max_length=100)
    candidates: int = Field(default=150, ge=1, le=1000)
    timeout: float = Field(default=10, gt=0, le=600)
    max_failures: int = Field(default=3, ge=1, le=10)

    @field_validator("tests", "ignore")
    @classmethod
    def _inside_repo(cls, values: list[str]) -> list[str]:
        for v in values:
            if not v or v.startswith(("/", "-")) or ".." in v.replace("\\", "/").split("/"):
                raise ValueError(f"{v!r} must be a path inside the repository")
        return values


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
    if "install" in data:
        raise ConfigError(f"{PATH}: `install` is not supported: sandboxes have no network, so an install command "
                          "could not fetch anything. PVE runs your code with Python's standard library, pytest and "
                          "what the repository contains; remove `install`.")
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err["loc"]) or "(file)"
            msg = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"`{where}`: {msg}")
        raise ConfigError(f"{PATH} has {len(exc.errors())} problem(s): " + "; ".join(problems)) from None
