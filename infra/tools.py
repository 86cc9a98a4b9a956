"""The machine's tools the functions' build needs: aws-sam-cli (a uv tool of its own,
``scripts/install.sh``) and a real Python of the functions' runtime for sam's pip."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path


def find_sam() -> str:
    """aws-sam-cli: on PATH, else where ``uv tool install`` put it (scripts/install.sh)."""
    found = shutil.which("sam")
    if found:
        return found
    uv = shutil.which("uv")
    if uv:
        bin_dir = subprocess.run([uv, "tool", "dir", "--bin"], capture_output=True, text=True).stdout.strip()
        if bin_dir and os.access(Path(bin_dir) / "sam", os.X_OK):
            return str(Path(bin_dir) / "sam")
    raise SystemExit("sam (aws-sam-cli) is missing: run scripts/install.sh")


def _works(python: str, version: str) -> bool:
    try:
        out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30)
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.strip() == version


def find_python(version: str) -> str:
    """A real ``python<version>`` (not a pyenv shim that refuses): PATH, uv's discovery, pyenv."""
    candidates = [shutil.which(f"python{version}") or ""]
    uv = shutil.which("uv")
    if uv:
        candidates.append(subprocess.run([uv, "python", "find", "--no-project", version], capture_output=True,
                                         text=True, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"}).stdout.strip())
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(glob.glob(str(pyenv / f"{version}.*" / "bin" / f"python{version}")), reverse=True)
    candidates += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    for candidate in filter(None, candidates):
        if _works(candidate, version):
            return candidate
    raise SystemExit(f"python{version} is missing: sam builds the functions' dependencies with the runtime's "
                     f"Python (install python{version}, e.g. apt-get install python{version} or pyenv)")
