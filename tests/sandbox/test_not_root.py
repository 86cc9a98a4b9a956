"""PVE started by an ordinary user (docs/sandbox.md documents that mode): no per-slot uids, no cgroups,
the sandbox as the calling user. CI runs as root, so the test drops to ``nobody`` for the whole
PVE process, as a user's shell would start it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pve", "brain", "sandbox", "store", "bot", "statemachine", "webhooks", "web", "entrypoints")
NOBODY = 65534


def _copy(src: Path, dst: Path) -> None:
    try:  # hard links when the temp folder shares the file system: the packages are 600+ MB
        subprocess.run(["cp", "-al", str(src), str(dst)], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        shutil.copytree(src, dst, symlinks=True)


@pytest.fixture(scope="module")
def as_a_user(tmp_path_factory):
    """(argv prefix, environment, folder) to start PVE as an unprivileged user."""
    if os.geteuid() != 0:  # already an ordinary user: the mode itself
        home = tmp_path_factory.mktemp("user")
        yield [sys.executable], {"PYTHONPATH": str(ROOT)}, home
        return
    # The checkout and the venv's interpreter may sit in root's private home: a user's copy of
    # PVE is what that user can read, so give nobody a readable copy and the system's Python of
    # the same version (the one the venv was made from on a fresh machine).
    python = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    assert python.exists(), f"{python} is missing: the sandbox's interpreter (scripts/install.sh installs python3)"
    home = Path(tempfile.mkdtemp(prefix="pve-user-"))
    try:
        os.chmod(home, 0o755)
        (home / "src").mkdir()
        for name in PACKAGES:
            _copy(ROOT / name, home / "src" / name)
        _copy(Path(sysconfig.get_paths()["purelib"]), home / "site")
        shutil.copytree(ROOT / "examples" / "stats", home / "stats")
        (home / "run").mkdir()
        subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(home / "run"), str(home / "stats")], check=True)
        prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", str(python)]
        yield prefix, {"PYTHONPATH": f"{home / 'src'}:{home / 'site'}"}, home / "run"
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_pve_verify_works_when_not_root(as_a_user):
    prefix, env, run = as_a_user
    example = run.parent / "stats" if os.geteuid() == 0 else ROOT / "examples" / "stats"
    out = run / "out"
    code = "import sys; from entrypoints.cli import main; sys.exit(main())"
    proc = subprocess.run(
        [*prefix, "-c", code, "verify", str(example), "--error-log", str(example / "ci.log"), "--out", str(out), "--json"],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(run), "PVE_HOME": str(run / "pve"), "LANG": "C.UTF-8", **env},
        cwd=run, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proof = (out / "proof.txt").read_text()
    assert "verified" in proc.stdout.lower()
    # the proof states the mode: the calling user's uid, slots share it, no cgroups
    assert f"uid {os.geteuid() if os.geteuid() else NOBODY} (PVE not started as root; slots share it)" in proof, proof
