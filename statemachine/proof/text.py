"""The readable proof: plain text rendered from the attestation's predicate.

Apart from the signer (``signing.py``) because the two change for different reasons: this is
what a reader sees, section by section, in the order the session ran; that is keys and bytes.
The text is rendered from the in-toto predicate (``attestation.py``), never from the session
itself, so the readable proof and the statement cannot say different things. Byte-stable: a
proof is signed as it is rendered here.
"""

from __future__ import annotations

import shlex
from typing import Any

from pve.models import BrainReport, Session
from statemachine.proof import attestation

# The closing section: what a verified verdict rests on, and what is still trusted.
_WHAT_THIS_PROVES = [
    "== what this proves",
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


def render(session: Session, sandbox: dict[str, Any]) -> str:
    """The proof body (unsigned), rendered from the attestation's predicate: the readable proof
    and the in-toto statement are two renderings of one record. Deterministic for a session."""
    return render_predicate(attestation.predicate(session, sandbox))


def render_predicate(p: dict[str, Any]) -> str:
    """The proof body (unsigned) of a predicate: its sections in the order the session ran."""
    runs = list(p["runs"])
    before: list[dict[str, Any]] = []  # the runs on the original code; the rest ran with the fix
    while runs and not runs[0]["label"].startswith("after:"):
        before.append(runs.pop(0))
    sections = [_head(p), _inputs(p), _sandbox(p), _reported_failure(p), _reproduction(p), _intake_notes(p),
                _environment(p), _outcome(p), _oracle(p), _judged(p), *(_run_block(run) for run in before),
                _fix(p["fix"], runs), _judged_runs(p["judgedRuns"]), _search(p["search"]),
                _brain_block(BrainReport.model_validate(p["brains"])) if p["brains"] else [],
                _candidates(p["candidates"]), _WHAT_THIS_PROVES]
    text = "\n".join(line for section in sections for line in section)
    return text if text.endswith("\n") else text + "\n"


def _head(p: dict[str, Any]) -> list[str]:
    v = p["verdict"]
    return ["PVE EXECUTION PROOF", f"format: {p['format']}", f"session: {p['session']}", f"created: {p['created']}",
            f"verdict: {v['words']}", f"oracle: {v['oracle'] or 'none'}", f"pve: {p['pve']}", f"host: {p['host']}", ""]


def _inputs(p: dict[str, Any]) -> list[str]:
    lines = ["== inputs (sha256)", *(f"{sha}  {path}" for path, sha in p["inputs"].items())]
    if p["errorLog"]:
        lines.append(f"{p['errorLog']}  <error log>")
    lines.append("")
    return lines


def _sandbox(p: dict[str, Any]) -> list[str]:
    return ["== sandbox", *(f"{k}: {val}" for k, val in p["sandbox"].items()), ""]


def _reported_failure(p: dict[str, Any]) -> list[str]:
    if not p.get("reportedFailure"):
        return []
    f = p["reportedFailure"]
    return ["== reported failure", f"exception: {f['exception']}: {f['message']}", f"category: {f['category']}",
            f"failing frame: {f['failingFrame']}", ""]


def _reproduction(p: dict[str, Any]) -> list[str]:
    if not p.get("reproduction"):
        return []
    r = p["reproduction"]
    lines = ["== reproduction", f"kind: {r['kind']}", f"derived from: {r['derivedFrom']}", f"command: {r['command']}"]
    if r["targets"]:
        lines.append("targets: " + ", ".join(r["targets"]))
    if r["importableFrom"]:
        lines.append("importable from: " + ", ".join(r["importableFrom"]))
    if r["pytestOptions"]:
        lines.append("pytest options for every run: " + shlex.join(r["pytestOptions"]))
    if r["script"] is not None:  # written by PVE from the report: anyone can rerun exactly this
        lines += [f"--- {r['script']['path']} (written from the report)", *r["script"]["text"].rstrip("\n").split("\n")]
    lines.append("")
    return lines


def _intake_notes(p: dict[str, Any]) -> list[str]:
    return ["== intake notes", *(f"- {n}" for n in p["notes"]), ""] if p["notes"] else []


def _environment(p: dict[str, Any]) -> list[str]:
    if not p.get("environment"):
        return []
    e = p["environment"]
    built = "reused" if e["reused"] else f"built in {e['buildMs']} ms"
    return ["== environment (the project's dependencies, read-only in every run)", f"key: {e['key']}",
            f"declared by: {e['declaredBy']}", f"python: {e['python']}", f"{built}, {e['sizeBytes'] >> 20} MiB",
            "frozen packages:", *(f"  {pkg}" for pkg in e["packages"]), ""]


def _outcome(p: dict[str, Any]) -> list[str]:
    v = p["verdict"]
    return ["== outcome", v["message"], ""] if v["status"] == "could not install the dependencies" else []


def _oracle(p: dict[str, Any]) -> list[str]:
    if not p["oracle"]:
        return []
    o = p["oracle"]
    lines = ["== regression oracle", o["note"]]
    if o["files"]:
        lines += ["tests chosen:", *(f"  {f}" for f in o["files"])]
    if o["leftOut"]:
        lines += [f"left out ({len(o['leftOut'])}):", *(f"  {f}" for f in o["leftOut"][:200])]
    lines.append("")
    return lines


def _judged(p: dict[str, Any]) -> list[str]:
    if not p.get("judged"):
        return []
    j = p["judged"]
    return [f"== judged: {j['label']} (someone else's fix, run as the one candidate)",
            *([f"base commit: {j['baseCommit']}"] if j["baseCommit"] else []),
            *([f"head commit: {j['headCommit']}"] if j["headCommit"] else []),
            "files the head changes (sha256 of the head's version):",
            *(f"  {sha}  {path}" for path, sha in j["files"].items()), ""]


def _fix(fix: dict[str, Any] | None, runs: list[dict[str, Any]]) -> list[str]:
    """The fix and the runs made with it (``runs``: those after the original's; without a fix
    they are not shown)."""
    if not fix:
        return []
    title = "fix" if fix["verified"] else "plausible, not verified (passed the reproduction only)"
    lines = [f"== {title}: candidate {fix['candidate']} ({fix['source']}: {fix['rule']})",
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
    return lines


def _judged_runs(judged: dict[str, Any] | None) -> list[str]:
    lines: list[str] = []
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
    return lines


def _search(sr: dict[str, Any] | None) -> list[str]:
    if not sr:
        return []
    lines = ["== search (offline repair engine)",
             f"localization: {sr['localization']}",
             *(["suspicious lines:"] + [f"  {x}" for x in sr["suspects"]] if sr["suspects"] else []),
             f"candidates: {sr['proposed']} edits proposed, {sr['ranked']} distinct in the ranking, {sr['tried']} tried "
             f"({sr['rejected']} rejected by preflight, {sr['plausible']} passed the reproduction)",
             f"stopped: {sr['stopped']}"]
    if sr["oraclePassed"]:
        lines.append(f"oracle passed: {sr['oraclePassed']}")
    lines.append("")
    return lines


def _candidates(candidates: list[dict[str, Any]]) -> list[str]:
    lines = [f"== candidates tried ({len(candidates)})"]
    for c in candidates:
        ms = f"{c['durationMs']} ms" if c["durationMs"] is not None else "-"
        standing = {"verified": "VERIFIED", "plausible": "PLAUSIBLE"}.get(c["standing"], "rejected")
        lines.append(f"{c['id']:>3}  {standing:9}  {ms:>8}  {c['origin']}: {c['reason']}")
    lines.append("")
    return lines


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
