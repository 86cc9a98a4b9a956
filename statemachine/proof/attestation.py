"""The proof as a standard attestation: an in-toto Statement v1 in a DSSE envelope.

A proof says "this process ran these inputs and observed this outcome"; the software
supply-chain ecosystem has a standard for exactly that claim. The Statement's subjects are the
files the verdict is about (the fixed files by the sha256 of their fixed content, and the commit
when PVE knows it); its predicate is PVE's record of the session (``schemas/verification-v1.json``
says what each field means). The envelope is DSSE (``payloadType`` + base64 ``payload`` +
signatures over DSSE's pre-authentication encoding), signed with the instance's Ed25519 key,
``keyid`` the key's fingerprint. Any DSSE implementation verifies it with the public key the web
view serves at ``/.well-known/pve-proof-key``; the readable ``proof.txt`` is rendered from the
same predicate (``statemachine/proof/text.py``), so the two cannot say different things.
"""

from __future__ import annotations

import base64
import hashlib
import json
import platform
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pve import __version__
from pve.errors import ProofInvalid
from pve.models import Analysis, EnvironmentInfo, JudgeTree, Reproduction, RunResult, Session

ATTESTATION = "attestation.intoto.json"  # the envelope's name beside proof.txt
ATTESTATION_DIR = ".pve/attestations"  # where a fix pull request carries it, when the repository asks
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://pve.dev/attestations/verification/v1"
SCHEMA = Path(__file__).with_name("schemas") / "verification-v1.json"  # the predicate's, versioned
_OUTPUT = 8 << 10  # per stream of a run: what a reader needs to see the failure, not a whole log

VERDICTS = {"verified": "VERIFIED FIX", "no fix": "NO FIX", "plausible, not verified": "PLAUSIBLE, NOT VERIFIED",
            "could not reproduce": "COULD NOT REPRODUCE",
            "could not install the dependencies": "COULD NOT INSTALL THE DEPENDENCIES"}


def evidence_level(status: str) -> str:
    """TRUTH.md's three outcomes, as the predicate names them."""
    return {"verified": "verified", "plausible, not verified": "plausible"}.get(status, "none")


def cap(text: str, limit: int = _OUTPUT) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut in the proof ...]\n{text[-half:]}"


# --------------------------------------------------------------------------- the statement


def statement(session: Session, sandbox: dict[str, Any]) -> dict[str, Any]:
    """The in-toto Statement v1 of a finished session."""
    return {"_type": STATEMENT_TYPE, "subject": subjects(session), "predicateType": PREDICATE_TYPE,
            "predicate": predicate(session, sandbox)}


def subjects(session: Session) -> list[dict[str, Any]]:
    """What the claim is about: the fixed files (their fixed content), the commit verified, else
    the inputs read (by the digests the session recorded)."""
    out: list[dict[str, Any]] = []
    winner = session.winning_candidate()
    if winner is not None:
        out += [{"name": e.path, "digest": {"sha256": hashlib.sha256(e.new_text.encode()).hexdigest()}}
                for e in winner.edits]
    judged = session.judged
    commit = (judged.head_commit if judged and judged.head_commit else None) or \
        (session.origin.sha if session.origin and session.origin.sha else None)
    if commit and len(commit) in (40, 64) and all(c in "0123456789abcdef" for c in commit):
        repo = session.origin.repo if session.origin else "repository"
        out.append({"name": f"git+{repo}", "digest": {"gitCommit": commit}})
    if not out:
        out += [{"name": path, "digest": {"sha256": sha}} for path, sha in sorted(session.input_sha256.items())]
    if not out and session.error_log_sha256:
        out.append({"name": "error log", "digest": {"sha256": session.error_log_sha256}})
    return out or [{"name": f"session {session.id}", "digest": {"sha256": hashlib.sha256(session.id.encode()).hexdigest()}}]


def _run(run: RunResult) -> dict[str, Any]:
    return {"command": run.command, "sandbox": run.sandbox_id,
            "exitCode": None if run.exit_code is None else run.exit_code,
            "durationMs": round(run.duration_ms), "nonce": "matched" if run.nonce_ok else "missing",
            "outcome": run.outcome_text(), "stopped": run.killed_reason or None,
            "tests": dict(sorted(run.record.outcomes.items())),
            "stdout": {"bytes": run.stdout_bytes, "text": cap(run.stdout)},
            "stderr": {"bytes": run.stderr_bytes, "text": cap(run.stderr)}}


def predicate(session: Session, sandbox: dict[str, Any]) -> dict[str, Any]:
    """PVE's record of the session: every fact the readable proof shows, as data. Its keys come
    in the order the session ran (the signed JSON and the schema's readers see that order)."""
    p = _header(session, sandbox)
    if session.origin:
        p["origin"] = {"repo": session.origin.repo, "commit": session.origin.sha, "pull": session.origin.pull,
                       "issue": session.origin.issue}
    if session.analysis:
        p["reportedFailure"] = _reported_failure(session.analysis)
    if session.reproduction:
        p["reproduction"] = _reproduction(session.reproduction)
    p["notes"] = list(session.notes)
    if session.environment:
        p["environment"] = _environment(session.environment)
    p["oracle"] = {"note": session.oracle_note, "files": list(session.oracle_files),
                   "leftOut": list(session.oracle_left_out)} if session.oracle_note else None
    if session.judged:
        p["judged"] = _judged(session, session.judged)
    fix, after = _fix(session)
    p["fix"] = fix
    p["judgedRuns"] = _judged_runs(session)
    p["runs"] = _original_runs(session) + after
    p["search"] = _search(session)
    p["brains"] = session.brain.model_dump(mode="json") if session.brain else None
    p["candidates"] = _candidates(session)
    return p


def _header(session: Session, sandbox: dict[str, Any]) -> dict[str, Any]:
    """Which session, its verdict, where it ran and on which inputs."""
    return {
        "format": "pve-proof/1", "pve": __version__, "session": session.id, "created": session.created_at,
        "verdict": {"status": session.status.value, "evidence": evidence_level(session.status.value),
                    "words": VERDICTS.get(session.status.value, session.status.value.upper()),
                    "oracle": session.oracle.value if session.oracle else None, "message": session.message},
        "host": f"Python {platform.python_version()} on {platform.system()} {platform.machine()}",
        "inputs": dict(sorted(session.input_sha256.items())), "errorLog": session.error_log_sha256,
        "sandbox": dict(sandbox),
    }


def _reported_failure(a: Analysis) -> dict[str, Any]:
    return {"exception": a.exception.qualified_type,
            "message": a.exception.message.splitlines()[0] if a.exception.message else "",
            "category": a.category.value, "failingFrame": a.headline()}


def _reproduction(r: Reproduction) -> dict[str, Any]:
    return {"kind": r.kind.value, "derivedFrom": r.derived_from, "command": r.display(),
            "targets": r.test_ids, "importableFrom": r.pythonpath, "pytestOptions": r.pytest_options,
            "script": ({"path": r.target, "text": r.script} if r.script is not None else None)}


def _environment(e: EnvironmentInfo) -> dict[str, Any]:
    return {"key": e.key, "declaredBy": e.kind, "python": e.python, "reused": e.reused,
            "buildMs": round(e.build_ms), "sizeBytes": e.size_bytes, "packages": list(e.packages)}


def _judged(session: Session, j: JudgeTree) -> dict[str, Any]:
    """Someone else's fix: its commits, and the files its head changes by their content."""
    changed = next((c for c in session.candidates if c.rule == "pull-request"), None)
    return {"label": j.label, "baseCommit": j.base_commit, "headCommit": j.head_commit,
            "files": {e.path: hashlib.sha256(e.new_text.encode()).hexdigest()
                      for e in (changed.edits if changed else [])}}


def _original_runs(session: Session) -> list[dict[str, Any]]:
    """The runs on the original code: the reproduction, and the regression suite's baseline."""
    runs: list[dict[str, Any]] = []
    if session.before:
        runs.append({"label": "before: original code", **_run(session.before)})
    if session.baseline:
        runs.append({"label": "baseline: regression suite on the original code", **_run(session.baseline)})
    return runs


def _fix(session: Session) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The winning candidate (None: none won) and the runs made with it."""
    winner, verdict = session.winning_candidate(), session.winning_verdict()
    if not (winner and verdict):
        return None, []
    fix = {"candidate": winner.id, "source": winner.source, "rule": winner.rule, "rationale": winner.rationale,
           "verified": verdict.verified, "evidence": verdict.covered or None, "outcome": verdict.outcome or None,
           "notVerified": verdict.reason.removeprefix("plausible, not verified: ") if verdict.plausible else None,
           "scope": session.message.split("; scope: ", 1)[1] if "; scope: " in session.message else None,
           "regressionScope": verdict.regression_scope or None, "diff": winner.diff}
    runs = []
    for label, run in (("after: candidate applied", verdict.run), ("after: the model's reproduction", verdict.model_repro),
                       ("after: regression suite", verdict.regression)):
        if run:
            runs.append({"label": label, **_run(run)})
    return fix, runs


def _judged_runs(session: Session) -> dict[str, Any] | None:
    """Someone else's fix: how it failed (when it did), and its own tests' run."""
    judged = session.verdicts[0] if session.judged and session.verdicts else None
    if judged is None:
        return None
    label = session.judged.label if session.judged else "head"
    return {
        "failed": None if judged.verified else {
            "applied": {"label": f"after: {label} applied", **_run(judged.run)} if judged.run else None,
            "regressionScope": judged.regression_scope or None,
            "regression": {"label": "after: regression suite", **_run(judged.regression)} if judged.regression else None},
        "ownTests": {"label": "after: the pull request's own tests", **_run(judged.own_tests)} if judged.own_tests else None}


def _search(session: Session) -> dict[str, Any] | None:
    if not session.search or session.judged:
        return None
    sr = session.search
    return {"localization": sr.spectra, "suspects": sr.suspects[:10], "proposed": sr.proposed,
            "ranked": sr.ranked, "tried": sr.tried, "rejected": sr.rejected, "plausible": sr.plausible,
            "stopped": sr.stop, "oraclePassed": sr.oracle or None}


def _candidates(session: Session) -> list[dict[str, Any]]:
    """Every candidate judged, in the order it was: its standing and why."""
    candidates = []
    for v in session.verdicts:
        cand = next((c for c in session.candidates if c.id == v.candidate_id), None)
        candidates.append({"id": v.candidate_id, "standing": "verified" if v.verified else "plausible" if v.plausible
                           else "rejected", "durationMs": round(v.duration_ms) if v.run else None,
                           "origin": (f"{cand.source}/{cand.rule}" if cand and cand.source != "offline" else
                                      (cand.rule if cand else "?")), "reason": v.reason})
    return candidates


# --------------------------------------------------------------------------- DSSE


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def fingerprint(key: Ed25519PublicKey) -> str:
    """The key's id: sha256 of its raw bytes, as in the text proofs' ``key-id``."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:32]


def envelope(stmt: dict[str, Any], key: Ed25519PrivateKey) -> bytes:
    """The Statement signed as a DSSE envelope (JSON, one object)."""
    payload = json.dumps(stmt, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    return (json.dumps({"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(),
                        "signatures": [{"keyid": fingerprint(key.public_key()),
                                        "sig": base64.b64encode(signature).decode()}]}, indent=1) + "\n").encode()


def is_envelope(data: bytes) -> bool:
    return data.lstrip()[:1] == b"{"


def verify_envelope(data: bytes, trusted: list[Ed25519PublicKey]) -> dict[str, Any]:
    """The Statement of an envelope signed by one of ``trusted``; raise ProofInvalid otherwise."""
    try:
        env = json.loads(data)
        payload = base64.b64decode(env["payload"], validate=True)
        kind = env["payloadType"]
        signatures = [(s.get("keyid", ""), base64.b64decode(s["sig"], validate=True)) for s in env["signatures"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ProofInvalid("not a DSSE envelope (payloadType, payload and signatures expected)") from None
    if kind != PAYLOAD_TYPE:
        raise ProofInvalid(f"not an in-toto attestation (payloadType {str(kind)[:60]!r})")
    by_id = {fingerprint(k): k for k in trusted}
    for keyid, sig in signatures:
        key = by_id.get(keyid)
        if key is None:
            continue
        try:
            key.verify(sig, pae(kind, payload))
        except InvalidSignature:
            raise ProofInvalid("the attestation was modified after it was signed (signature does not match)") from None
        try:
            stmt = json.loads(payload)
        except ValueError:
            raise ProofInvalid("the signed payload is not JSON") from None
        if stmt.get("_type") != STATEMENT_TYPE or stmt.get("predicateType") != PREDICATE_TYPE:
            raise ProofInvalid("the signed payload is not a PVE verification statement")
        return dict(stmt)
    named = ", ".join(k for k, _ in signatures) or "none"
    raise ProofInvalid(f"signed by another key ({named}), not a trusted one ({', '.join(by_id) or 'none'})")
