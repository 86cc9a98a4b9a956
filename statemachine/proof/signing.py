"""Step 7, proof: a plain-text execution record, signed with Ed25519.

Anyone can read it; ``pve proof verify FILE`` checks that it is byte-for-byte what this PVE
instance signed. The key is created on first use under PVE's data dir (private key 0600).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pve.errors import ProofInvalid
from pve.models import BrainReport, Session
from statemachine.proof import attestation

BEGIN = "-----BEGIN PVE SIGNATURE-----\n"
END = "-----END PVE SIGNATURE-----\n"
_OUTPUT_IN_PROOF = 8 << 10


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


# --------------------------------------------------------------------------- rendering


def _run_block(run: dict[str, Any]) -> list[str]:
    lines = [f"== {run['label']}",
             f"command: {run['command']}",
             f"sandbox: {run['sandbox']}",
             f"exit code: {'killed' if run['exitCode'] is None else run['exitCode']}",
             f"duration: {run['durationMs']} ms",
             f"completion nonce: {'matched' if run['nonce'] == 'matched' else 'MISSING'}",
             f"outcome: {run['outcome']}"]
    if run["stopped"]:
        lines.append(f"stopped: {run['stopped']}")
    if run["tests"]:
        lines.append("tests:")
        lines += [f"  {o:8} {t}" for t, o in run["tests"].items()]
    for name in ("stdout", "stderr"):
        lines.append(f"--- {name} ({run[name]['bytes']} bytes)")
        body = run[name]["text"].rstrip("\n")
        if body:
            lines += body.split("\n")
    lines.append("")
    return lines


def _brain_block(b: BrainReport) -> list[str]:
    lines = ["== brains", f"mode: {b.mode}", f"models: {b.models}"]
    if b.signature:
        lines.append(f"error signature: {b.signature[:16]}… cache: {b.cache or 'not used'}")
    if b.error_class:
        lines.append(f"error class: {b.error_class} ({b.classified_by})")
    for c in b.calls:
        cost = "cost unknown" if c.cost_usd is None else f"${c.cost_usd:.5f}"
        lines.append(f"  {c.purpose:10} {c.provider}:{c.model}  {c.outcome}  {c.tokens_in} in / {c.tokens_out} out  "
                     f"{c.latency_ms:.0f} ms  {cost}")
    if b.calls:
        tin, tout = b.tokens()
        total = b.cost_usd()
        lines.append(f"model total: {tin} tokens in / {tout} out, "
                     f"{'cost unknown' if total is None else f'${total:.5f}'}")
    lines += [f"  {n}" for n in b.notes]
    lines.append("")
    return lines


def render(session: Session, sandbox: dict[str, Any]) -> str:
    """The proof body (unsigned), rendered from the attestation's predicate: the readable proof
    and the in-toto statement are two renderings of one record. Deterministic for a session."""
    return render_predicate(attestation.predicate(session, sandbox))


def render_predicate(p: dict[str, Any]) -> str:
    v = p["verdict"]
    lines = ["PVE EXECUTION PROOF", f"format: {p['format']}", f"session: {p['session']}", f"created: {p['created']}",
             f"verdict: {v['words']}", f"oracle: {v['oracle'] or 'none'}", f"pve: {p['pve']}", f"host: {p['host']}", ""]
    lines.append("== inputs (sha256)")
    lines += [f"{sha}  {path}" for path, sha in p["inputs"].items()]
    if p["errorLog"]:
        lines.append(f"{p['errorLog']}  <error log>")
    lines.append("")
    lines.append("== sandbox")
    lines += [f"{k}: {val}" for k, val in p["sandbox"].items()]
    lines.append("")
    if p.get("reportedFailure"):
        f = p["reportedFailure"]
        lines += ["== reported failure", f"exception: {f['exception']}: {f['message']}", f"category: {f['category']}",
                  f"failing frame: {f['failingFrame']}", ""]
    if p.get("reproduction"):
        r = p["reproduction"]
        lines += ["== reproduction", f"kind: {r['kind']}", f"derived from: {r['derivedFrom']}", f"command: {r['command']}"]
        if r["targets"]:
            lines.append("targets: " + ", ".join(r["targets"]))
        if r["importableFrom"]:
            lines.append("importable from: " + ", ".join(r["importableFrom"]))
        if r["pytestOptions"]:
            lines.append("pytest options for every run: " + shlex.join(r["pytestOptions"]))
        if r["script"] is not None:  # written by PVE from the report: anyone can rerun exactly this
            lines += [f"--- {r['script']['path']} (written from the report)", *r["script"]["text"].rstrip("\n").split("\n")]
        lines.append("")
    if p["notes"]:
        lines += ["== intake notes", *(f"- {n}" for n in p["notes"]), ""]
    if p.get("environment"):
        e = p["environment"]
        built = "reused" if e["reused"] else f"built in {e['buildMs']} ms"
        lines += ["== environment (the project's dependencies, read-only in every run)", f"key: {e['key']}",
                  f"declared by: {e['declaredBy']}", f"python: {e['python']}", f"{built}, {e['sizeBytes'] >> 20} MiB",
                  "frozen packages:", *(f"  {pkg}" for pkg in e["packages"]), ""]
    if v["status"] == "could not install the dependencies":
        lines += ["== outcome", v["message"], ""]
    if p["oracle"]:
        o = p["oracle"]
        lines += ["== regression oracle", o["note"]]
        if o["files"]:
            lines += ["tests chosen:", *(f"  {f}" for f in o["files"])]
        if o["leftOut"]:
            lines += [f"left out ({len(o['leftOut'])}):", *(f"  {f}" for f in o["leftOut"][:200])]
        lines.append("")
    if p.get("judged"):
        j = p["judged"]
        lines += [f"== judged: {j['label']} (someone else's fix, run as the one candidate)",
                  *([f"base commit: {j['baseCommit']}"] if j["baseCommit"] else []),
                  *([f"head commit: {j['headCommit']}"] if j["headCommit"] else []),
                  "files the head changes (sha256 of the head's version):",
                  *(f"  {sha}  {path}" for path, sha in j["files"].items()), ""]
    runs = list(p["runs"])
    while runs and not runs[0]["label"].startswith("after:"):
        lines += _run_block(runs.pop(0))
    fix = p["fix"]
    if fix:
        title = "fix" if fix["verified"] else "plausible, not verified (passed the reproduction only)"
        lines += [f"== {title}: candidate {fix['candidate']} ({fix['source']}: {fix['rule']})",
                  f"rationale: {fix['rationale']}",
                  *([f"evidence: {fix['evidence']}"] if fix["evidence"] else []),
                  *([f"instead of the crash, the reproduction now {fix['outcome']}"] if fix["outcome"] else []),
                  *([f"not verified: {fix['notVerified']}"] if fix["notVerified"] else []),
                  *([f"scope: {fix['scope']}"] if fix["scope"] else []),
                  "--- diff", *fix["diff"].rstrip("\n").split("\n"), ""]
        scoped = False
        for run in runs:
            if run["label"] == "after: regression suite" and fix["regressionScope"]:
                lines += ["== regression scope", fix["regressionScope"], ""]
                scoped = True
            lines += _run_block(run)
        if fix["regressionScope"] and not scoped:
            lines += ["== regression scope", fix["regressionScope"], ""]
    judged = p["judgedRuns"]
    if judged is not None and judged["failed"] is not None:  # how the head failed: both runs are the proof
        failed = judged["failed"]
        if failed["applied"]:
            lines += _run_block(failed["applied"])
        if failed["regressionScope"]:
            lines += ["== regression scope", failed["regressionScope"], ""]
        if failed["regression"]:
            lines += _run_block(failed["regression"])
    if judged is not None and judged["ownTests"]:
        lines += _run_block(judged["ownTests"])
    if p["search"]:
        sr = p["search"]
        lines += ["== search (offline repair engine)",
                  f"localization: {sr['localization']}",
                  *(["suspicious lines:"] + [f"  {x}" for x in sr["suspects"]] if sr["suspects"] else []),
                  f"candidates: {sr['proposed']} edits proposed, {sr['ranked']} distinct in the ranking, {sr['tried']} tried "
                  f"({sr['rejected']} rejected by preflight, {sr['plausible']} passed the reproduction)",
                  f"stopped: {sr['stopped']}"]
        if sr["oraclePassed"]:
            lines.append(f"oracle passed: {sr['oraclePassed']}")
        lines.append("")
    if p["brains"]:
        lines += _brain_block(BrainReport.model_validate(p["brains"]))
    lines.append(f"== candidates tried ({len(p['candidates'])})")
    for c in p["candidates"]:
        ms = f"{c['durationMs']} ms" if c["durationMs"] is not None else "-"
        standing = {"verified": "VERIFIED", "plausible": "PLAUSIBLE"}.get(c["standing"], "rejected")
        lines.append(f"{c['id']:>3}  {standing:9}  {ms:>8}  {c['origin']}: {c['reason']}")
    lines += ["", "== what this proves",
              "Each run happened in the sandbox above; the harness returned the per-run nonce over a pipe only when",
              "the reproduction ran to its end. Verified means: the reproduction failed as reported and passes with",
              "the fix, tests that run the edited code passed before and after, and no shortcut was taken (edits to",
              "tests, asserts, fixtures or test configuration; constants fitted to an expected value; deleted exits",
              "or control statements, early exits, always-true or -false conditions, swallowed exceptions; a crash",
              "skipped instead of fixed). Plausible, not verified: the reproduction passes, the rest is missing.",
              "What is still trusted: the test process itself. The nonce reaches the harness on a descriptor it reads",
              "and closes before project code is imported (never argv, environment, files or module globals); a",
              "test reported passed that raised is counted failed; code that reaches into the judging process",
              "(frames, gc, ctypes, /proc/self, pytest's or the harness's objects) is refused before it runs. Code",
              "in the test's own process that evades that check can still read that process's memory.",
              "Inputs are identified by the hashes above.", ""]
    text = "\n".join(lines)
    return text if text.endswith("\n") else text + "\n"
