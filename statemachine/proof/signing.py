"""Step 7, proof: a plain-text execution record, signed with Ed25519.

Anyone can read it; ``pve proof verify FILE`` checks that it is byte-for-byte what this PVE
instance signed. The key is created on first use under PVE's data dir (private key 0600). Here
are the key, the signature and its check; the text itself is rendered by ``text.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pve.errors import ProofInvalid
from statemachine.proof import attestation

BEGIN = "-----BEGIN PVE SIGNATURE-----\n"
END = "-----END PVE SIGNATURE-----\n"


class ProofSigner:
    """The instance's signing key, created on first use, and the public keys it has signed with
    (``keys/proof-keys.json``: each with the window it signed in), published for readers."""

    def __init__(self, home: Path) -> None:
        self.key_path = home / "keys" / "proof-ed25519.pem"
        self.pub_path = home / "keys" / "proof-ed25519.pub"
        self.keys_path = home / "keys" / "proof-keys.json"
        self._key: Ed25519PrivateKey | None = None

    def private_key(self) -> Ed25519PrivateKey:
        if self._key is None:
            if self.key_path.exists():
                loaded = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
                if not isinstance(loaded, Ed25519PrivateKey):
                    raise ProofInvalid(f"{self.key_path} is not an Ed25519 key")
                self._key = loaded
            else:
                self._key = Ed25519PrivateKey.generate()
                self.key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                pem = self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
                fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(pem)
                self.pub_path.write_bytes(public_pem(self._key.public_key()))
            self._publish(self._key.public_key())
        return self._key

    def install(self, pem: bytes) -> None:
        """Use this key (PEM, Ed25519) from now on: written beside where a new one would be."""
        loaded = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ProofInvalid("PVE_PROOF_KEY is not an Ed25519 private key in PEM")
        self.key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        self.pub_path.write_bytes(public_pem(loaded.public_key()))
        self._key = loaded
        self._publish(loaded.public_key())

    def public_key(self) -> Ed25519PublicKey:
        return self.private_key().public_key()

    def fingerprint(self) -> str:
        return attestation.fingerprint(self.public_key())

    def _publish(self, current: Ed25519PublicKey) -> None:
        """Record ``current`` as the signing key from now on; the one before it keeps its entry,
        closed now (a key rotated out still verifies what it signed in its window)."""
        keys = self.published()
        kid = attestation.fingerprint(current)
        if keys and keys[-1]["keyid"] == kid:
            return
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for entry in keys:
            if entry["not_after"] is None:
                entry["not_after"] = now
        keys = [k for k in keys if k["keyid"] != kid]
        keys.append({"keyid": kid, "pem": public_pem(current).decode(), "not_before": now, "not_after": None})
        self.keys_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.keys_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(keys, indent=1) + "\n")
        os.replace(tmp, self.keys_path)

    def published(self) -> list[dict[str, Any]]:
        """Every key this instance has signed with, oldest first: keyid, PEM, validity window."""
        try:
            return list(json.loads(self.keys_path.read_text()))
        except (OSError, ValueError):
            return []

    def trusted(self) -> list[Ed25519PublicKey]:
        """The published keys, for checking proofs signed before a rotation too."""
        self.private_key()
        keys = []
        for entry in self.published():
            loaded = serialization.load_pem_public_key(entry["pem"].encode())
            if isinstance(loaded, Ed25519PublicKey):
                keys.append(loaded)
        return keys

    def check_window(self, keyid: str, created: str) -> None:
        """Raise ProofInvalid when ``keyid`` had been retired before the proof was created (a
        rotated-out key verifies only what it signed while it was the signing key)."""
        entry = next((k for k in self.published() if k["keyid"] == keyid), None)
        if entry is None or entry.get("not_after") is None:
            return
        try:
            retired, made = datetime.fromisoformat(entry["not_after"]), datetime.fromisoformat(created)
        except ValueError:
            raise ProofInvalid(f"the proof's creation time {created!r} is not a date") from None
        if made > retired:
            raise ProofInvalid(f"signed with key {keyid}, retired at {entry['not_after']}, for a proof created "
                               f"later ({created})")

    def attest(self, stmt: dict[str, Any]) -> bytes:
        """The in-toto statement in a DSSE envelope signed with this key."""
        return attestation.envelope(stmt, self.private_key())

    def sign(self, body: str) -> str:
        key = self.private_key()
        raw_pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        signature = key.sign(body.encode("utf-8"))
        return (body + BEGIN + "algorithm: ed25519\n"
                f"key-id: {key_id(raw_pub)}\n"
                f"public-key: {base64.b64encode(raw_pub).decode()}\n"
                f"signature: {base64.b64encode(signature).decode()}\n" + END)


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(raw_pub: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw_pub).hexdigest()[:32]


@dataclass
class ProofCheck:
    key_id: str
    session: str
    verdict: str


def verify_proof(data: bytes, trusted: Ed25519PublicKey | list[Ed25519PublicKey]) -> ProofCheck:
    """Raise ProofInvalid unless ``data`` is untouched and signed by ``trusted`` (one of them)."""
    keys = trusted if isinstance(trusted, list) else [trusted]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProofInvalid("not a PVE proof (not UTF-8 text)") from None
    if text.count(BEGIN) != 1 or not text.endswith(END):
        raise ProofInvalid("not a PVE proof, or its signature block was altered")
    body, block = text.split(BEGIN)
    fields = dict(line.split(": ", 1) for line in block[: -len(END)].splitlines() if ": " in line)
    if fields.get("algorithm") != "ed25519":
        raise ProofInvalid("unsupported signature algorithm")
    try:
        raw_pub = base64.b64decode(fields["public-key"], validate=True)
        signature = base64.b64decode(fields["signature"], validate=True)
        embedded = Ed25519PublicKey.from_public_bytes(raw_pub)
    except (KeyError, ValueError):
        raise ProofInvalid("the signature block is malformed") from None
    trusted_raw = [k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) for k in keys]
    if raw_pub not in trusted_raw:
        raise ProofInvalid(f"signed by another key ({key_id(raw_pub)}), not the trusted one "
                           f"({', '.join(key_id(r) for r in trusted_raw) or 'none'})")
    try:
        embedded.verify(signature, body.encode("utf-8"))
    except InvalidSignature:
        raise ProofInvalid("the proof was modified after it was signed (signature does not match)") from None
    head = dict(line.split(": ", 1) for line in body.splitlines()[:12] if ": " in line)
    return ProofCheck(key_id=key_id(raw_pub), session=head.get("session", "?"), verdict=head.get("verdict", "?"))


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ProofInvalid(f"cannot read public key {path}: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ProofInvalid(f"{path} is not an Ed25519 public key")
    return key
