"""The sandbox backend of the AWS engine: every run happens in the sandbox function.

The trusted step that holds this backend (controller, validate) stages the project on its own
``/tmp``, keeps the snapshot in a ``Depot`` (S3) under the archive's SHA-256, and invokes the
sandbox function synchronously with a presigned GET of that archive and the ``RunSpec`` in the
payload (a spec is a few KiB: patches are a candidate's edited files; the 6 MB invoke limit is
checked). The sandbox function holds no data permissions: the presigned URL is all it can read,
and its answer, the ``RunResult``, comes back in the invoke response, judged here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pve.errors import SandboxUnavailable
from pve.models import EnvironmentInfo, InstallPlan, RunResult, RunSpec
from sandbox import snapshot
from sandbox.backend import StagedProject

MAX_PAYLOAD = 6 * 1024 * 1024 - 64 * 1024  # Lambda's synchronous payload limit, less the envelope
Invoke = Callable[[dict[str, Any]], dict[str, Any]]


class Depot(Protocol):
    """Where snapshots wait for the sandbox function (S3, ``store.dynamo.Snapshots``)."""

    def put_snapshot(self, sha256: str, archive: bytes) -> None: ...

    def get_snapshot(self, sha256: str) -> bytes | None: ...

    def snapshot_url(self, sha256: str) -> str:
        """A short-lived presigned GET of the archive."""
        ...


class RemoteSandbox:
    name = "aws-lambda"

    def __init__(self, invoke: Invoke, depot: Depot, root: Path) -> None:
        self.invoke = invoke
        self.depot = depot
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._archives: dict[str, str] = {}  # staged key -> its archive's sha256
        self._described: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        """The sandbox function's own account of its isolation, asked once (for the proof)."""
        if self._described is None:
            self._described = {**self.invoke({"describe": True}), "invoked as": "AWS Lambda (sandbox function)"}
        return self._described

    def stage(self, source: Path, *, single_file: bool = False) -> StagedProject:
        staged = snapshot.stage(self.root, source, single_file=single_file)
        archive = snapshot.pack(staged)
        sha = _sha256(archive)
        self.depot.put_snapshot(sha, archive)
        self._archives[staged.key] = sha
        return staged

    def restore(self, sha256: str, files: dict[str, str]) -> StagedProject:
        """The snapshot another step staged, from the depot (a validate step's starting point)."""
        archive = self.depot.get_snapshot(sha256)
        if archive is None or _sha256(archive) != sha256:
            raise SandboxUnavailable(f"the project snapshot {sha256[:12]} is missing or changed in the depot")
        staged = snapshot.unpack(self.root, archive, expected=files)
        self._archives[staged.key] = sha256
        return staged

    def archive_of(self, staged: StagedProject) -> str:
        return self._archives[staged.key]

    async def environment(self, staged: StagedProject, plan: InstallPlan) -> EnvironmentInfo | None:
        from sandbox.environments import DependencyError

        if not plan.needed():
            return None
        # The sandbox function has no network and no build step: only what its image holds.
        raise DependencyError("", f"the AWS sandbox installs nothing (no network; its image holds pytest, pandas, "
                                  f"numpy, scipy and scikit-learn) and this project declares {plan.kind} dependencies: "
                                  "verify it with `pve serve` or `pve verify`, which build its environment")

    async def run(self, staged: StagedProject, spec: RunSpec) -> RunResult:
        payload = {"snapshot": {"sha256": self._archives[staged.key], "url": self.depot.snapshot_url(self._archives[staged.key])},
                   "spec": spec.model_dump(mode="json")}
        if len(json.dumps(payload)) > MAX_PAYLOAD:
            raise SandboxUnavailable(f"{spec.label or 'a run'}: its patches exceed the sandbox function's 6 MB payload")
        answer = await asyncio.to_thread(self.invoke, payload)
        return RunResult.model_validate(answer)

    async def screen(self, staged: StagedProject, spec: RunSpec) -> RunResult | None:
        return None  # every run is a fresh function invocation

    async def release(self, staged: StagedProject) -> None:
        return None

    def hurry(self, staged: StagedProject) -> None:
        return None  # no priorities: each run has a function instance of its own

    def cleanup(self, staged: StagedProject) -> None:
        self._archives.pop(staged.key, None)
        shutil.rmtree(staged.root, ignore_errors=True)


def lambda_invoker(client: Any, function_name: str) -> Invoke:
    """``Invoke`` over boto3's Lambda client: a function error becomes ``SandboxUnavailable``
    (the step fails, and Step Functions retries it); throttling is retried by boto3 first."""

    def invoke(payload: dict[str, Any]) -> dict[str, Any]:
        response = client.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                 Payload=json.dumps(payload).encode())
        body = response["Payload"].read()
        if response.get("FunctionError"):
            try:
                error = json.loads(body)
                said = f"{error.get('errorType')}: {error.get('errorMessage')}"
            except ValueError:
                said = body[:300].decode("utf-8", "replace")
            raise SandboxUnavailable(f"the sandbox function failed: {said}")
        answer = json.loads(body)
        if not isinstance(answer, dict):
            raise SandboxUnavailable("the sandbox function answered with something other than a JSON object")
        return answer

    return invoke


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
