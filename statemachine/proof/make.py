"""Step 5, prove: render the session's execution record, sign it, store it with the fix, and
close the console with the verdict. (The record's text: ``statemachine.proof.text``; the
signer: ``statemachine.proof.signing``.)"""

from __future__ import annotations

import time
from typing import Any

from pve.events import Fanout
from pve.models import Session, SessionStatus
from statemachine.proof import attestation
from statemachine.proof.attestation import ATTESTATION
from statemachine.proof.signing import ProofSigner
from statemachine.proof.text import render_predicate
from statemachine.services import SessionStore


def prove(session: Session, *, signer: ProofSigner, store: SessionStore, sandbox: dict[str, Any],
          events: Fanout, started: float) -> Session:
    """``sandbox``: the backend's description for the record; ``started``: the session's
    start (``time.monotonic()``), for its total time."""
    t = time.monotonic()
    session.sandbox_busy_ms = busy_ms(session)
    # One record, two renderings: the readable proof and the in-toto statement (DSSE-signed).
    session.proof_key = signer.fingerprint()
    stmt = attestation.statement(session, sandbox)
    proof = signer.sign(render_predicate(stmt["predicate"]))
    session.proof_path = store.put_blob(session.id, "proof.txt", proof.encode("utf-8"))
    session.attestation_path = store.put_blob(session.id, ATTESTATION, signer.attest(stmt))
    winner = session.winning_candidate()
    if winner is not None:
        session.diff_path = store.put_blob(session.id, "fix.diff", winner.diff.encode("utf-8"))
    session.timings_ms["proof"] = (time.monotonic() - t) * 1000
    session.timings_ms["total"] = (time.monotonic() - started) * 1000
    if session.status is SessionStatus.VERIFIED and winner is not None:
        oracle = session.oracle.value if session.oracle else "?"
        events.emit("verified", f"Verified: candidate {winner.id} (oracle: {oracle}).",
                    proof=session.proof_path, diff=session.diff_path)
    else:
        events.emit("result", session.message[:1].upper() + session.message[1:] + ".")
    store.put_session(session)
    return session


def busy_ms(session: Session) -> float:
    """Wall time during which at least one sandboxed program was running."""
    spans = []
    runs = [session.before, session.baseline, *session.localization_runs]
    for run in runs + [r for v in session.verdicts for r in (v.run, v.regression, v.model_repro, v.own_tests)]:
        if run is not None and run.started_at:
            spans.append((run.started_at, run.started_at + run.duration_ms / 1000))
    spans += [span for v in session.verdicts for span in v.side_runs]
    spans.sort()
    total, end = 0.0, 0.0
    for s, e in spans:
        if e <= end:
            continue
        total += e - max(s, end)
        end = e
    return total * 1000
