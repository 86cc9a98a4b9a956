"""Proofs: signed once, any change to any byte is detected, other keys are not trusted."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pve.errors import ProofInvalid
from pve.models import Session, SessionStatus
from statemachine.proof.signing import ProofSigner, verify_proof
from statemachine.proof.text import render


@pytest.fixture
def signer(tmp_path):
    return ProofSigner(tmp_path)


def proof(signer):
    s = Session(id="ab" * 16, created_at="2026-11-21T07:00:00+00:00", project="/p", status=SessionStatus.VERIFIED,
                input_sha256={"a.py": "0" * 64})
    return signer.sign(render(s, {"backend": "bubblewrap"}))


def test_key_created_once_and_private(signer, tmp_path):
    first = proof(signer)
    assert stat.S_IMODE(os.stat(signer.key_path).st_mode) == 0o600
    again = ProofSigner(tmp_path)
    check = verify_proof(first.encode(), again.public_key())
    assert check.verdict == "VERIFIED FIX" and check.session == "ab" * 16


@pytest.mark.parametrize("mutate", [
    lambda t: t.replace("VERIFIED FIX", "NO VERIFIED FIX"),
    lambda t: t.replace("a.py", "b.py"),
    lambda t: t.replace("\n", "\r\n", 1),
    lambda t: t + "extra\n",
    lambda t: " " + t,
])
def test_any_change_is_detected(signer, mutate):
    text = proof(signer)
    with pytest.raises(ProofInvalid):
        verify_proof(mutate(text).encode(), signer.public_key())


def test_resigned_by_another_key_is_rejected(signer, tmp_path):
    other = ProofSigner(tmp_path / "other")
    forged = other.sign(proof(signer).split("-----BEGIN PVE SIGNATURE-----")[0].replace("VERIFIED FIX", "X"))
    with pytest.raises(ProofInvalid, match="another key"):
        verify_proof(forged.encode(), signer.public_key())
    with pytest.raises(ProofInvalid):
        verify_proof(proof(signer).encode(), Ed25519PrivateKey.generate().public_key())


def test_garbage_is_not_a_proof(signer):
    for data in (b"", b"\xff\xfe", b"hello\n", b"x-----BEGIN PVE SIGNATURE-----\nsignature: !!\n-----END PVE SIGNATURE-----\n"):
        with pytest.raises(ProofInvalid):
            verify_proof(data, signer.public_key())
