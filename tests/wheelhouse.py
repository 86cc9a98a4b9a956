"""A local wheel directory for environment tests: no registry is reached at test time.

Pure-Python distributions installed in PVE's own environment (pytest and its requirements,
setuptools as a build backend) are repackaged as wheels from their RECORD, and small packages
are written from source here. Builds then run with ``PVE_FIND_LINKS`` and no network.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from importlib import metadata
from pathlib import Path

# What every environment needs (pytest is always installed) and what builds need (a backend).
REPACKAGED = ("pytest", "iniconfig", "packaging", "pluggy", "pygments", "setuptools")


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(folder: Path, name: str, version: str, files: dict[str, bytes | str], *,
                requires: list[str] = (), entry_points: str = "") -> Path:
    """A minimal valid wheel (py3-none-any) with ``files`` at the root of site-packages."""
    norm = re.sub(r"[-_.]+", "_", name).lower()
    info = f"{norm}-{version}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *(f"Requires-Dist: {r}" for r in requires)]
    content: dict[str, bytes] = {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}
    content[f"{info}/METADATA"] = ("\n".join(meta) + "\n").encode()
    content[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: pve-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    if entry_points:
        content[f"{info}/entry_points.txt"] = entry_points.encode()
    record = [_record_line(k, v) for k, v in content.items()] + [f"{info}/RECORD,,"]
    content[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = folder / f"{norm}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, v in content.items():
            zf.writestr(k, v)
    return path


def repackage(folder: Path, dist_name: str) -> Path:
    """An installed pure-Python distribution as a wheel again (files from its RECORD)."""
    dist = metadata.distribution(dist_name)
    files: dict[str, bytes] = {}
    entry_points = ""
    requires = list(dist.requires or [])
    for f in dist.files or []:
        rel = str(f)
        if rel.startswith("..") or "__pycache__" in rel or rel.endswith((".pyc", "RECORD", "INSTALLER", "REQUESTED",
                                                                          "direct_url.json")):
            continue
        path = Path(str(dist.locate_file(f)))
        if not path.is_file():
            continue
        own_info = rel.split("/", 1)[0].endswith(".dist-info")  # not a vendored package's
        if own_info and rel.endswith("/entry_points.txt"):
            entry_points = path.read_text()
            continue
        if own_info:
            if "/licenses/" not in rel:
                continue  # METADATA and WHEEL are written fresh
            # the installed folder's spelling may differ from the normalized one the wheel uses
            norm = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
            rel = f"{norm}-{dist.version}.dist-info/" + rel.split(".dist-info/", 1)[1]
        files[rel] = path.read_bytes()
    return write_wheel(folder, dist.metadata["Name"], dist.version, files, requires=requires,
                       entry_points=entry_points)


def wheelhouse(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in REPACKAGED:
        repackage(folder, name)
    # Small libraries of our own, in two versions, one with a console script.
    for version, word in (("1.0", "red"), ("2.0", "crimson")):
        write_wheel(folder, "colorlib", version,
                    {"colorlib/__init__.py": f"def favourite():\n    return {word!r}\n\n"
                                             "def main():\n    print('colorlib says ' + favourite())\n"},
                    entry_points="[console_scripts]\ncolorlib-say = colorlib:main\n")
    return folder
