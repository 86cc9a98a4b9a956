"""The size of a Lambda function's artifact as Lambda counts it: the files unzipped (its 250 MiB
limit) and the zip ``sam package`` uploads (deflated, as ``samcli.lib.package.utils.make_zip``).
Apart from ``functions.py`` (which writes the folders and runs sam) because measuring needs nothing
of the template or the lock."""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Size:
    unzipped: int  # bytes, what Lambda counts against 250 MB (the files, unzipped)
    zipped: int  # bytes, the zip sam package uploads (deflated, as samcli.lib.package.utils.make_zip)


def size(folder: Path) -> Size:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    unzipped = sum(p.stat().st_size for p in files)
    with tempfile.TemporaryFile() as out:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in files:
                zf.write(path, path.relative_to(folder).as_posix())
        zipped = out.tell()
    return Size(unzipped, zipped)


def sizes(folders: dict[str, Path]) -> dict[str, Size]:
    """``size`` of each folder; folders holding the same files are zipped once."""
    measured: dict[str, Size] = {}
    found: dict[str, Size] = {}
    for name, folder in folders.items():
        digest = hashlib.sha256()
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
        key = digest.hexdigest()
        if key not in found:
            found[key] = size(folder)
        measured[name] = found[key]
    return measured


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def sizes_table(sizes: dict[str, Size]) -> str:
    rows = ["| function | unzipped (limit 250 MiB) | zipped (limit 50 MiB) |", "|---|---|---|"]
    rows += [f"| {name} | {mib(s.unzipped)} | {mib(s.zipped)} |" for name, s in sizes.items()]
    return "\n".join(rows)
