"""Search (``Verification.search``), the semantic cache: the last verified fix for the same error signature, tried
first and re-verified like any candidate (zero trust).

An entry whose files changed since, or whose fix no longer passes, is dropped; a new verified
fix replaces it (``remember``, after the conclude step).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pve.models import Candidate, Found, Solution
from sandbox.backend import StagedProject
from statemachine.search.context import SearchContext
from statemachine.validate import short, validate
from store.base import SolutionCache


async def cache_search(ctx: SearchContext, store: SolutionCache, signature: str, first_id: int) -> tuple[Found, str]:
    """The cached fix, re-verified (or nothing), and what the cache said."""
    cached, note = _lookup(store, signature, ctx.staged, first_id)
    if cached is None:
        return Found(), note
    ctx.events.emit("cache", "Found a fix verified before for this error; re-verifying it in the sandbox")
    verdict = await validate(cached, ctx.sandbox, ctx.staged, ctx.checks, ctx.events, ctx.pending)
    if verdict.verified:
        note = "hit, re-verified"
    else:
        note = f"hit, no longer passes ({short(verdict.reason)}): entry dropped"
        store.delete_solution(signature)
    return Found(candidates=[cached], verdicts=[verdict]), note


def _lookup(store: SolutionCache, signature: str, staged: StagedProject, next_id: int) -> tuple[Candidate | None, str]:
    solution = store.get_solution(signature)
    if solution is None:
        return None, "miss"
    for path, sha in sorted(solution.file_sha256.items()):
        if staged.files.get(path) != sha:
            store.delete_solution(signature)
            return None, f"stale: {path} changed since the fix was verified (entry dropped)"
    source = solution.candidate.source
    return solution.candidate.model_copy(update={"id": next_id, "source": f"cache ({source})"}), "hit"


def remember(store: SolutionCache, signature: str, winner: Candidate, staged: StagedProject, session_id: str) -> None:
    hashes = {e.path: staged.files[e.path] for e in winner.edits if e.path in staged.files}
    base = winner.source.removeprefix("cache (").removesuffix(")")
    store.put_solution(Solution(signature=signature, candidate=winner.model_copy(update={"source": base}),
                                file_sha256=hashes, session_id=session_id,
                                created_at=datetime.now(UTC).isoformat(timespec="seconds")))
