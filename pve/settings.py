"""Settings from the environment. One place that knows every knob and its default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pve import config
from pve.errors import BadInput


def _default_home() -> Path:
    return config.home(os.environ)


# The one rule for each knob that a setting and a command-line flag can both set: the same
# bounds whichever way it comes in.
SLOTS = (1, 64)
MAX_CANDIDATES = (1, 5000)
SEARCH_SECONDS = (1.0, 3600.0)
SANDBOX_TIMEOUT = (0.5, 3600.0)


def within(name: str, value: float, bounds: tuple[float, float], unit: str = "") -> None:
    """One clear line when ``value`` is out of ``bounds``; ``name`` is how the user set it."""
    lo, hi = bounds
    if not lo <= value <= hi:
        raise BadInput(f"{name} must be between {_num(lo)} and {_num(hi)}{unit}, got {_num(value)}", code="bad-setting")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def env_switch(env: Mapping[str, str], name: str, default: bool = True) -> bool:
    """An on/off setting: 0, false, no or off turn it off; 1, true, yes or on turn it on."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise BadInput(f"{name} must be on or off (1/0, true/false, yes/no), got {raw!r}")


def env_int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number setting within bounds; a bad value is one clear line."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadInput(f"{name} must be a whole number, got {raw!r}") from None
    within(name, value, (lo, hi))
    return value


def env_number(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    """A numeric setting within bounds; a bad value is one clear line."""
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{name} must be a number, got {raw!r}") from None
    within(name, value, (lo, hi))
    return value


@dataclass(frozen=True)
class EnvironmentSettings:
    """Project environments (sandbox/environments.py): where they live, what a build may take."""

    root: Path | None = None  # None: beside the sandbox's staging folder (world-traversable, not private)
    build_seconds: float = 300.0  # one build, source builds included
    max_bytes: int = 2 << 30  # one environment
    store_bytes: int = 10 << 30  # all environments: least recently used go past this
    failed_ttl_s: float = 600.0  # a failed build is answered from its record this long
    network: bool = True  # builds fetch packages (an index or PyPI)
    index_url: str | None = None  # PVE_INDEX_URL: a mirror or a private index
    find_links: str | None = None  # PVE_FIND_LINKS: a folder of wheels (then no network is used)
    # PVE_ENV_FROM: a virtualenv the caller already built for this project (the GitHub Action: the
    # job's own), used read-only instead of building one
    given: Path | None = None


@dataclass(frozen=True)
class SandboxSettings:
    """Limits for one sandboxed run. Defaults follow ../shared/SANDBOX.md."""

    timeout_s: float = 10.0
    memory_bytes: int = 1 << 30  # address space per process
    cgroup_memory_bytes: int = 3 << 29  # all processes of one sandbox together, tmpfs included (1.5 GiB)
    max_procs: int = 64
    max_file_bytes: int = 64 << 20
    tmpfs_bytes: int = 256 << 20  # /tmp, /dev/shm and the writable project copy, each
    output_cap_bytes: int = 64 << 10  # head + tail kept per stream
    output_kill_bytes: int = 16 << 20  # a stream past this is a flood: the run is stopped
    uid_base: int = 61000  # slot n runs as uid/gid uid_base + n
    python: str | None = None  # interpreter inside the sandbox; None = auto-detect
    screening: bool = True  # reject failing candidates in a warm sandbox per slot (PVE_SCREENING=0: off)
    # screened runs of plain tests call them without pytest's session where that was checked to
    # agree with pytest (sandbox/inside/direct.py; PVE_DIRECT_SCREENING=0: always pytest)
    direct_screening: bool = True
    background: bool = True  # the baseline in slots of its own at low CPU priority until awaited (PVE_BACKGROUND=0: off)
    # A project's first candidates run fresh: starting a server per slot costs about two fresh runs,
    # so a search that ends within a few candidates is faster without (None: 2 per slot).
    screen_after: int | None = None
    environments: EnvironmentSettings = field(default_factory=EnvironmentSettings)


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=_default_home)
    slots: int = 3
    max_candidates: int = 400  # search budget: candidates tried at most (see benchmarks/repair)
    search_seconds: float = 60.0  # search budget: no new candidate starts after this
    search_window: int = 3  # ranks tried after the first verified fix, for the ranking
    # past this many candidates, none starts after search_extend_seconds (statemachine/search/budget.py)
    search_extend_after: int = 150
    search_extend_seconds: float = 20.0
    oracle_seconds: float = 60.0  # the regression oracle's own wall clock (baseline and each fix)
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """From the environment, the config file and (on AWS) the secret stores: see pve.config."""
        return cls.from_config(config.load(env))

    @classmethod
    def from_config(cls, env: Mapping[str, str]) -> Settings:
        """From an already merged configuration (``pve.config.load``): read the sources once."""
        home = config.home(env)
        sandbox = SandboxSettings(
            timeout_s=env_number(env, "PVE_SANDBOX_TIMEOUT", 10.0, *SANDBOX_TIMEOUT),
            memory_bytes=env_int(env, "PVE_SANDBOX_MEMORY_MB", 1024, 64, 65536) << 20,
            cgroup_memory_bytes=env_int(env, "PVE_SANDBOX_CGROUP_MEMORY_MB", 1536, 64, 262144) << 20,
            uid_base=env_int(env, "PVE_SANDBOX_UID_BASE", 61000, 1000, 4_000_000_000),
            python=env.get("PVE_SANDBOX_PYTHON") or None,
            screening=env_switch(env, "PVE_SCREENING"),
            direct_screening=env_switch(env, "PVE_DIRECT_SCREENING"),
            background=env_switch(env, "PVE_BACKGROUND"),
            environments=EnvironmentSettings(
                root=Path(env["PVE_ENV_DIR"]).expanduser() if env.get("PVE_ENV_DIR") else None,
                build_seconds=env_number(env, "PVE_ENV_BUILD_SECONDS", 300.0, 10, 7200),
                max_bytes=env_int(env, "PVE_ENV_MAX_MB", 2048, 16, 1 << 20) << 20,
                store_bytes=env_int(env, "PVE_ENV_STORE_MB", 10240, 64, 1 << 24) << 20,
                failed_ttl_s=env_number(env, "PVE_ENV_FAILED_TTL", 600.0, 0, 86400),
                network=env_switch(env, "PVE_ENV_NETWORK"),
                index_url=env.get("PVE_INDEX_URL") or None,
                find_links=env.get("PVE_FIND_LINKS") or None,
                given=Path(env["PVE_ENV_FROM"]).expanduser() if env.get("PVE_ENV_FROM") else None,
            ),
        )
        return cls(
            home=home,
            slots=env_int(env, "PVE_SLOTS", 3, *SLOTS),
            max_candidates=env_int(env, "PVE_MAX_CANDIDATES", 400, *MAX_CANDIDATES),
            search_seconds=env_number(env, "PVE_SEARCH_SECONDS", 60.0, *SEARCH_SECONDS),
            search_window=env_int(env, "PVE_SEARCH_WINDOW", 3, 0, 100),
            search_extend_after=env_int(env, "PVE_SEARCH_EXTEND_AFTER", 150, *MAX_CANDIDATES),
            search_extend_seconds=env_number(env, "PVE_SEARCH_EXTEND_SECONDS", 20.0, *SEARCH_SECONDS),
            oracle_seconds=env_number(env, "PVE_ORACLE_SECONDS", 60.0, 1, 3600),
            sandbox=sandbox,
        )


    def with_limits(self, *, slots: int | None = None, max_candidates: int | None = None,
                    search_seconds: float | None = None, timeout_s: float | None = None,
                    names: Mapping[str, str] | None = None) -> Settings:
        """These settings with some knobs set another way (command-line flags, a repository's
        config), checked by the same bounds as the settings; ``names`` says how each was given."""
        said = dict(names or {})
        changes: dict[str, object] = {}
        if slots is not None:
            within(said.get("slots", "slots"), slots, SLOTS)
            changes["slots"] = slots
        if max_candidates is not None:
            within(said.get("max_candidates", "max_candidates"), max_candidates, MAX_CANDIDATES)
            changes["max_candidates"] = max_candidates
        if search_seconds is not None:
            within(said.get("search_seconds", "search_seconds"), search_seconds, SEARCH_SECONDS, " seconds")
            changes["search_seconds"] = search_seconds
        if timeout_s is not None:
            within(said.get("timeout_s", "timeout_s"), timeout_s, SANDBOX_TIMEOUT, " seconds")
            changes["sandbox"] = replace(self.sandbox, timeout_s=timeout_s)
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class GitHubAppSettings:
    """What ``pve serve`` needs to act as the GitHub App. Every problem is one clear line."""

    app_id: int
    private_key_pem: str = field(repr=False)
    webhook_secret: bytes = field(repr=False)
    api_url: str = "https://api.github.com"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> GitHubAppSettings:
        return cls.from_config(config.load(env))

    @classmethod
    def from_config(cls, env: Mapping[str, str]) -> GitHubAppSettings:
        missing = [k for k in ("PVE_GITHUB_APP_ID", "PVE_GITHUB_PRIVATE_KEY", "PVE_GITHUB_WEBHOOK_SECRET") if not env.get(k)]
        if missing:
            raise BadInput(f"{missing[0]} is not set (the GitHub App's settings; `pve app manifest` creates an app)")
        raw_id = env["PVE_GITHUB_APP_ID"].strip()
        if not raw_id.isdigit() or int(raw_id) <= 0:
            raise BadInput(f"PVE_GITHUB_APP_ID must be the app's numeric id, got {raw_id!r}")
        api_url = env.get("PVE_GITHUB_API_URL", "https://api.github.com").rstrip("/")
        if not api_url.startswith(("https://", "http://")):
            raise BadInput(f"PVE_GITHUB_API_URL must be an http(s) URL, got {api_url!r}")
        return cls(app_id=int(raw_id), private_key_pem=_private_key(env["PVE_GITHUB_PRIVATE_KEY"]),
                   webhook_secret=env["PVE_GITHUB_WEBHOOK_SECRET"].encode("utf-8"), api_url=api_url)


def _private_key(value: str) -> str:
    """PEM text, or a path to a PEM file; checked to be an RSA private key (GitHub App JWTs are RS256)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    text = value
    if "-----BEGIN" not in value:
        path = Path(value).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"PVE_GITHUB_PRIVATE_KEY: cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        key = serialization.load_pem_private_key(text.encode("utf-8"), password=None)
    except (ValueError, TypeError):
        raise BadInput("PVE_GITHUB_PRIVATE_KEY is not a PEM private key (download it from the app's settings page)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise BadInput("PVE_GITHUB_PRIVATE_KEY must be an RSA key (GitHub App keys are RSA)")
    return text
