"""The sandbox function (AWS Lambda): one ``RunSpec`` against one snapshot, the ``RunResult`` back.

Its event: ``{"snapshot": {"url", "sha256"}, "spec": RunSpec}`` or ``{"describe": true}``. The
archive is fetched from the presigned URL (the function has no AWS data permissions; its subnet
reaches S3 through a gateway endpoint and nothing else), checked against its SHA-256, unpacked
and staged by the backend, run, and removed. Nothing is kept between invocations: a candidate
that ran in this instance before may have written anywhere it could.

Which backend runs the spec is the caller's choice: inside Lambda, ``lambda_backend()``; in
the tests, bubblewrap (the same contract), since the Lambda one refuses to run anywhere else.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from pve.models import RunSpec
from sandbox import snapshot
from sandbox.backend import SandboxBackend

MAX_ARCHIVE = 256 << 20
FETCH_TIMEOUT_S = 10.0


def handle(event: dict[str, Any], backend: SandboxBackend, workdir: Path | None = None) -> dict[str, Any]:
    if event.get("describe"):
        return backend.describe()
    spec = RunSpec.model_validate(event["spec"])
    wanted = str(event["snapshot"]["sha256"])
    archive = fetch(str(event["snapshot"]["url"]))
    if hashlib.sha256(archive).hexdigest() != wanted:
        raise ValueError("the snapshot archive does not match its SHA-256")
    scratch = Path(tempfile.mkdtemp(prefix="pve-snap-", dir=workdir))
    staged = None
    try:
        unpacked = snapshot.unpack(scratch, archive)
        staged = backend.stage(unpacked.root / "orig")
        result = asyncio.run(backend.run(staged, spec))
        return result.model_dump(mode="json")
    finally:
        if staged is not None:
            backend.cleanup(staged)
        shutil.rmtree(scratch, ignore_errors=True)


def fetch(url: str) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise ValueError("the snapshot URL is not an HTTP(S) URL")
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:
        data = response.read(MAX_ARCHIVE + 1)
    if len(data) > MAX_ARCHIVE:
        raise ValueError(f"the snapshot archive is over {MAX_ARCHIVE >> 20} MiB")
    return data


def lambda_backend() -> SandboxBackend:
    """The backend of the sandbox function inside Lambda (``sandbox/lambda_runner.py``: no
    namespaces there, the microVM is the boundary). Refuses anywhere else."""
    from sandbox.lambda_runner import LambdaSandbox

    return LambdaSandbox()
