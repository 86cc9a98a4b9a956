"""Step 7, proof: a plain-text execution record, signed with Ed25519.

Anyone can read it; ``pve proof verify FILE`` checks that it is byte-for-byte what this PVE
instance signed. The key is created on first use under PVE's data dir (private key 0600).
"""

from __future__ import annotations

import base64
import hashlib
import os
import platform
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pve import __version__
from pve.errors import ProofInvalid
from pve.models import BrainReport, Candidate, RunResult, Session, Verdict

BEGIN = "-----BEGIN PVE SIGNATURE-----\n"
END = "-----END PVE SIGNATURE-----\n"
_OUTPUT_IN_PROOF = 8 << 10


class ProofSigner:
    """The instance's signing key, created on first use."""

    def __init__(self, home: Path) -> None:
        self.key_path = home / "keys" / "proof-ed25519.pem"
        self.pub_path = home / "keys" / "proof-ed25519.pub"
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

    def public_key(self) -> Ed25519PublicKey:
        return self.private_key().public_key()

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


def verify_proof(data: bytes, trusted: Ed25519PublicKey) -> ProofCheck:
    """Raise ProofInvalid unless ``data`` is untouched and signed by ``trusted``."""
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
    trusted_raw = trusted.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if raw_pub != trusted_raw:
        raise ProofInvalid(f"signed by another key ({key_id(raw_pub)}), not the trusted one ({key_id(trusted_raw)})")
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


def _cap(text: str, limit: int = _OUTPUT_IN_PROOF) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut in the proof ...]\n{text[-half:]}"


def _run_block(title: str, run: RunResult) -> list[str]:
    lines = [f"== {title}",
             f"command: {run.command}",
             f"sandbox: {run.sandbox_id}",
             f"exit code: {'killed' if run.exit_code is None else run.exit_code}",
             f"duration: {run.duration_ms:.0f} ms",
             f"completion nonce: {'matched' if run.nonce_ok else 'MISSING'}",
             f"outcome: {run.outcome_text()}"]
    if run.killed_reason:
        lines.append(f"stopped: {run.killed_reason}")
    if run.record.outcomes:
        lines.append("tests:")
        lines += [f"  {o:8} {t}" for t, o in sorted(run.record.outcomes.items())]
    for name, text, total in (("stdout", run.stdout, run.stdout_bytes), ("stderr", run.stderr, run.stderr_bytes)):
        lines.append(f"--- {name} ({total} bytes)")
        body = _cap(text).rstrip("\n")
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
    """The proof body (unsigned). Deterministic for a given session."""
    verdict = {"verified": "VERIFIED FIX", "no fix": "NO FIX", "plausible, not verified": "PLAUSIBLE, NOT VERIFIED",
               "could not reproduce": "COULD NOT REPRODUCE",
               "could not install the dependencies": "COULD NOT INSTALL THE DEPENDENCIES"}.get(session.status.value, session.status.value.upper())
    lines = ["PVE EXECUTION PROOF", "format: pve-proof/1", f"session: {session.id}", f"created: {session.created_at}",
             f"verdict: {verdict}", f"oracle: {session.oracle.value if session.oracle else 'none'}",
             f"pve: {__version__}",
             f"host: Python {platform.python_version()} on {platform.system()} {platform.machine()}", ""]
    lines.append("== inputs (sha256)")
    lines += [f"{sha}  {path}" for path, sha in sorted(session.input_sha256.items())]
    if session.error_log_sha256:
        lines.append(f"{session.error_log_sha256}  <error log>")
    lines.append("")
    lines.append("== sandbox")
    lines += [f"{k}: {v}" for k, v in sandbox.items()]
    lines.append("")
    if session.analysis:
        a = session.analysis
        lines += ["== reported failure", f"exception: {a.exception.qualified_type}: {a.exception.message.splitlines()[0] if a.exception.message else ''}",
                  f"category: {a.category.value}", f"failing frame: {a.headline()}", ""]
    if session.reproduction:
        r = session.reproduction
        lines += ["== reproduction", f"kind: {r.kind.value}", f"derived from: {r.derived_from}", f"command: {r.display()}"]
        if r.test_ids:
            lines.append("targets: " + ", ".join(r.test_ids))
        if r.pythonpath:
            lines.append("importable from: " + ", ".join(r.pythonpath))
        if r.pytest_options:
            lines.append("pytest options for every run: " + shlex.join(r.pytest_options))
        if r.script is not None:  # written by PVE from the report: anyone can rerun exactly this
            lines += [f"--- {r.target} (written from the report)", *r.script.rstrip("\n").split("\n")]
        lines.append("")
    if session.notes:
        lines += ["== intake notes", *(f"- {n}" for n in session.notes), ""]
    if session.environment:
        e = session.environment
        lines += ["== environment (the project's dependencies, read-only in every run)", f"key: {e.key}",
                  f"declared by: {e.kind}", f"python: {e.python}",
                  f"{'reused' if e.reused else f'built in {e.build_ms:.0f} ms'}, {e.size_bytes >> 20} MiB",
                  "frozen packages:", *(f"  {p}" for p in e.packages), ""]
    if session.status.value == "could not install the dependencies":
        lines += ["== outcome", session.message, ""]
    if session.oracle_note:
        lines += ["== regression oracle", session.oracle_note]
        if session.oracle_files:
            lines += ["tests chosen:", *(f"  {f}" for f in session.oracle_files)]
        if session.oracle_left_out:
            lines += [f"left out ({len(session.oracle_left_out)}):", *(f"  {f}" for f in session.oracle_left_out[:200])]
        lines.append("")
    if session.judged:
        j = session.judged
        changed = next((c for c in session.candidates if c.rule == "pull-request"), None)
        lines += [f"== judged: {j.label} (someone else's fix, run as the one candidate)",
                  *([f"base commit: {j.base_commit}"] if j.base_commit else []),
                  *([f"head commit: {j.head_commit}"] if j.head_commit else []),
                  "files the head changes (sha256 of the head's version):",
                  *(f"  {hashlib.sha256(e.new_text.encode()).hexdigest()}  {e.path}" for e in (changed.edits if changed else [])),
                  ""]
    if session.before:
        lines += _run_block("before: original code", session.before)
    if session.baseline:
        lines += _run_block("baseline: regression suite on the original code", session.baseline)
    winner: Candidate | None = session.winning_candidate()
    verdict_w: Verdict | None = session.winning_verdict()
    if winner and verdict_w:
        title = "fix" if verdict_w.verified else "plausible, not verified (passed the reproduction only)"
        lines += [f"== {title}: candidate {winner.id} ({winner.source}: {winner.rule})", f"rationale: {winner.rationale}",
                  *([f"evidence: {verdict_w.covered}"] if verdict_w.covered else []),
                  *([f"instead of the crash, the reproduction now {verdict_w.outcome}"] if verdict_w.outcome else []),
                  *([f"not verified: {verdict_w.reason.removeprefix('plausible, not verified: ')}"] if verdict_w.plausible else []),
                  *([f"scope: {session.message.split('; scope: ', 1)[1]}"] if "; scope: " in session.message else []),
                  "--- diff", *winner.diff.rstrip("\n").split("\n"), ""]
        if verdict_w.run:
            lines += _run_block("after: candidate applied", verdict_w.run)
        if verdict_w.model_repro:
            lines += _run_block("after: the model's reproduction", verdict_w.model_repro)
        if verdict_w.regression_scope:
            lines += ["== regression scope", verdict_w.regression_scope, ""]
        if verdict_w.regression:
            lines += _run_block("after: regression suite", verdict_w.regression)
    judged = session.verdicts[0] if session.judged and session.verdicts else None
    if judged is not None and not judged.verified:  # how the head failed: both runs are the proof
        if judged.run:
            lines += _run_block(f"after: {session.judged.label if session.judged else 'head'} applied", judged.run)
        if judged.regression_scope:
            lines += ["== regression scope", judged.regression_scope, ""]
        if judged.regression:
            lines += _run_block("after: regression suite", judged.regression)
    if judged is not None and judged.own_tests:
        lines += _run_block("after: the pull request's own tests", judged.own_tests)
    if session.search and not session.judged:
        sr = session.search
        lines += ["== search (offline repair engine)",
                  f"localization: {sr.spectra}",
                  *(["suspicious lines:"] + [f"  {x}" for x in sr.suspects[:10]] if sr.suspects else []),
                  f"candidates: {sr.proposed} edits proposed, {sr.ranked} distinct in the ranking, {sr.tried} tried "
                  f"({sr.rejected} rejected by preflight, {sr.plausible} passed the reproduction)",
                  f"stopped: {sr.stop}"]
        if sr.oracle:
            lines.append(f"oracle passed: {sr.oracle}")
        lines.append("")
    if session.brain:
        lines += _brain_block(session.brain)
    lines.append(f"== candidates tried ({len(session.verdicts)})")
    for v in session.verdicts:
        cand = next((c for c in session.candidates if c.id == v.candidate_id), None)
        ms = f"{v.duration_ms:.0f} ms" if v.run else "-"
        origin = f"{cand.source}/{cand.rule}" if cand and cand.source != "offline" else (cand.rule if cand else "?")
        standing = "VERIFIED" if v.verified else "PLAUSIBLE" if v.plausible else "rejected"
        lines.append(f"{v.candidate_id:>3}  {standing:9}  {ms:>8}  "
                     f"{origin}: {v.reason}")
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
