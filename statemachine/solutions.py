"""The semantic cache: the last verified fix per error signature, tried first and re-verified.

A hit is only a candidate: it runs through preflight and the sandbox like any other (zero
trust). An entry whose files changed since, or whose fix no longer passes, is dropped; a new
verified fix replaces it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pve.models import Candidate, Solution
from sandbox.backend import StagedProject
from store.base import Store


def lookup(store: Store, signature: str, staged: StagedProject, next_id: int) -> tuple[Candidate | None, str]:
    """The cached fix as a candidate (or None), and what the cache said."""
    solution = store.get_solution(signature)
    if solution is None:
        return None, "miss"
    for path, sha in sorted(solution.file_sha256.items()):
        if staged.files.get(path) != sha:
            store.delete_solution(signature)
            return None, f"stale: {path} changed since the fix was verified (entry dropped)"
    source = solution.candidate.source
    cand = solution.candidate.model_copy(update={"id": next_id, "source": f"cache ({source})"})
    return cand, "hit"


def forget(store: Store, signature: str) -> None:
    store.delete_solution(signature)


def remember(store: Store, signature: str, winner: Candidate, staged: StagedProject, session_id: str) -> None:
    hashes = {e.path: staged.files[e.path] for e in winner.edits if e.path in staged.files}
    base = winner.source.removeprefix("cache (").removesuffix(")")
    store.put_solution(Solution(signature=signature, candidate=winner.model_copy(update={"source": base}),
                                file_sha256=hashes, session_id=session_id,
                                created_at=datetime.now(UTC).isoformat(timespec="seconds")))
