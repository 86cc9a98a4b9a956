"""The proof as an in-toto Statement v1 in a DSSE envelope: verified by an independent DSSE
implementation (securesystemslib, the in-toto and TUF reference implementations' library) with
nothing but the published public key; any changed byte fails; the readable proof is a rendering
of the same predicate; a rotated key keeps verifying what it signed."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

from pve.errors import ProofInvalid
from pve.models import (
    Candidate,
    FileEdit,
    HarnessRecord,
    Preflight,
    RunResult,
    Session,
    SessionStatus,
    Verdict,
)
from statemachine.proof import attestation
from statemachine.proof.signing import ProofSigner
from statemachine.proof.text import render, render_predicate

SANDBOX = {"backend": "bubblewrap", "network": "none"}


def session() -> Session:
    fixed = "def mean(xs):\n    return sum(xs) / len(xs) if xs else 0.0\n"
    cand = Candidate(id=3, source="offline", rule="guard.empty", rationale="guard the empty case",
                     diff="--- a/stats.py\n+++ b/stats.py\n", edits=[FileEdit(path="stats.py", new_text=fixed)], diff_lines=2)
    run = RunResult(command="pytest tests/test_stats.py", sandbox_id="sbx-1", exit_code=0, duration_ms=812.4,
                    nonce_ok=True, record=HarnessRecord(outcomes={"tests/test_stats.py::test_mean_of_empty": "passed"}))
    verdict = Verdict(candidate_id=3, verified=True, reason="verified", run=run, covered="stats.py: mean (4 tests)",
                      duration_ms=812.4, preflight=Preflight(ok=True))
    return Session(id="cd" * 16, created_at="2026-12-06T07:00:00+00:00", project="/p", status=SessionStatus.VERIFIED,
                   message="verified fix", input_sha256={"stats.py": "1" * 64}, candidates=[cand], verdicts=[verdict],
                   winner=3)


def independent_key(signer: ProofSigner) -> SSlibKey:
    """The verifier's key, built from nothing but the published PEM (as a reader would)."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    (entry,) = signer.published()
    return SSlibKey.from_crypto(load_pem_public_key(entry["pem"].encode()), keyid=entry["keyid"])


def test_an_independent_dsse_implementation_verifies_the_envelope_and_any_changed_byte_fails(tmp_path):
    signer = ProofSigner(tmp_path)
    data = signer.attest(attestation.statement(session(), SANDBOX))
    env = Envelope.from_dict(json.loads(data))
    verified = env.verify([independent_key(signer)], 1)
    assert list(verified) == [signer.fingerprint()]
    stmt = json.loads(env.pae().split(b" ", 4)[4])  # the payload the signature covers
    assert stmt["_type"] == "https://in-toto.io/Statement/v1"
    assert stmt["predicateType"] == attestation.PREDICATE_TYPE
    assert stmt["subject"] == [{"name": "stats.py", "digest": {"sha256": __import__("hashlib").sha256(
        session().candidates[0].edits[0].new_text.encode()).hexdigest()}}]
    assert stmt["predicate"]["verdict"]["evidence"] == "verified"
    # one byte of the payload changed (the verdict), re-encoded: no longer verifies, with either implementation
    forged = json.loads(data)
    payload = base64.b64decode(forged["payload"]).replace(b'"evidence":"verified"', b'"evidence":"plausible"')
    forged["payload"] = base64.b64encode(payload).decode()
    with pytest.raises(VerificationError):
        Envelope.from_dict(json.loads(json.dumps(forged))).verify([independent_key(signer)], 1)  # (from_dict consumes)
    with pytest.raises(ProofInvalid, match="modified after it was signed"):
        attestation.verify_envelope(json.dumps(forged).encode(), signer.trusted())
    assert attestation.verify_envelope(data, signer.trusted())["predicate"]["session"] == "cd" * 16


def test_the_readable_proof_is_a_rendering_of_the_signed_predicate(tmp_path):
    s = session()
    stmt = attestation.statement(s, SANDBOX)
    assert render(s, SANDBOX) == render_predicate(stmt["predicate"])
    text = render_predicate(stmt["predicate"])
    assert "verdict: VERIFIED FIX" in text and "evidence: stats.py: mean (4 tests)" in text
    assert "  3  VERIFIED     812 ms  guard.empty: verified" in text


def test_a_rotated_key_still_verifies_what_it_signed_and_is_listed_with_its_window(tmp_path):
    signer = ProofSigner(tmp_path)
    old = signer.attest(attestation.statement(session(), SANDBOX))
    first = signer.fingerprint()
    from cryptography.hazmat.primitives import serialization
    signer.install(Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                              serialization.NoEncryption()))
    keys = ProofSigner(tmp_path).published()
    assert [k["keyid"] for k in keys] == [first, signer.fingerprint()] and first != signer.fingerprint()
    assert keys[0]["not_after"] is not None and keys[1]["not_after"] is None
    assert attestation.verify_envelope(old, ProofSigner(tmp_path).trusted())["predicate"]["session"] == "cd" * 16
    with pytest.raises(ProofInvalid, match="another key"):
        attestation.verify_envelope(old, [ProofSigner(tmp_path).public_key()])  # the new key alone: not it
    # the retired key verifies what it signed in its window, not a proof dated after it
    ProofSigner(tmp_path).check_window(first, "2026-12-06T07:00:00+00:00")
    with pytest.raises(ProofInvalid, match=f"signed with key {first}, retired at"):
        ProofSigner(tmp_path).check_window(first, "2999-01-01T00:00:00+00:00")


def test_what_is_not_an_attestation_is_said(tmp_path):
    signer = ProofSigner(tmp_path)
    for data, words in ((b"{}", "not a DSSE envelope"), (b'{"payloadType": "text/plain", "payload": "", "signatures": []}',
                                                         "not an in-toto attestation")):
        with pytest.raises(ProofInvalid, match=words):
            attestation.verify_envelope(data, signer.trusted())


def test_the_predicate_follows_its_versioned_schema():
    import jsonschema

    from statemachine.proof.attestation import SCHEMA
    schema = json.loads(SCHEMA.read_text())
    assert schema["$id"] == attestation.PREDICATE_TYPE
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(attestation.predicate(session(), SANDBOX), schema)
    broken = attestation.predicate(session(), SANDBOX)
    broken["verdict"]["evidence"] = "probably"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
