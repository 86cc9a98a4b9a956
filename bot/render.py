"""Every word PVE posts on GitHub: comments, check-run output, review and PR bodies. Pure functions.

Bodies respect GitHub's limits (PLATFORM.md): long text is cut with a pointer to the full signed
proof on the permalink page, never sent over the limit and never failing the post.
Each comment PVE owns carries a hidden marker for its trigger, so a retried job edits the
comment it wrote instead of writing another.
"""

from __future__ import annotations

from typing import Any

from bot.suggestions import Block
from pve.errors import PVEError
from pve.models import Session, SessionStatus
from store.base import Quota

COMMENT_MAX = 65_536
CHECK_MAX = 65_535
CHECK_NAME = "PVE verification"
APPLY_ID = "apply-fix"  # check-run action identifier (<= 20 characters)
MAX_ANNOTATIONS = 50  # per request; later PATCHes append


def marker(key: str) -> str:
    return f"<!-- pve:{key} -->"


def fit(text: str, limit: int, link: str | None = None) -> str:
    """``text`` cut to ``limit`` characters with a note (and the link to the whole) when cut."""
    if len(text) <= limit:
        return text
    note = f"\n\n… truncated ({len(text):,} characters). " + (
        f"The full signed proof: {link}" if link else "The full signed proof is stored with the session.")
    return text[: max(0, limit - len(note))] + note


def _block(text: str, lang: str = "") -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def with_marker(key: str, body: str) -> str:
    tag = marker(key)
    return fit(body, COMMENT_MAX - len(tag) - 1) + "\n" + tag


HELP = """**PVE, the Truth Engine**: it never shows a fix that has not run.

- `/pve verify`: reproduce the traceback in this issue or pull request, generate candidate fixes, run every one \
in an isolated sandbox, and post only a fix that passed: a fix pull request for an issue, suggestions for a pull request.
- `/pve verify tests/test_x.py::test_y`: the same, reproducing with that test (a path or test id).
- `/pve help`: this message.

On a pull request whose CI fails, PVE checks the failed jobs' logs by itself. On a pull request that says it fixes \
an issue (`Fixes #12` in its description or a commit), PVE checks the claim: the issue's reproduction must fail on \
the base and pass on the head, with nothing that passed before broken (`/pve verify` on it checks again). Every result comes with an \
execution proof (signed; `pve proof verify` checks it). Settings: `.github/pve.yml`."""


def refusal(login: str) -> str:
    return (f"Sorry @{login}, `/pve verify` runs code in sandboxes on this repository's behalf, so only members "
            "and collaborators (or people with write access) may start it. A maintainer can run it for you.")


def bad_command(problem: str) -> str:
    return f"I could not run that: {problem}.\n\n{HELP}"


def config_error(problem: str) -> str:
    return f"PVE did not run: the repository's configuration is broken.\n\n> {problem}\n\nFix `.github/pve.yml` and try again."


def disabled(what: str) -> str:
    return f"PVE did not run: {what} is turned off in `.github/pve.yml`."


def quota_line(q: Quota) -> str:
    return f"{q.remaining} of {q.limit} verifications left today (UTC)."


def quota_exhausted(q: Quota) -> str:
    return (f"PVE did not publish a fix: this installation's daily budget of {q.limit} verified fixes is used up. "
            "It renews at midnight UTC.")


def no_traceback() -> str:
    return ("I found no traceback to verify. Paste the full error output (from `Traceback (most recent call last):` "
            "to the last line, or pytest's failure section) in the issue or in your comment, or name the failing "
            "test: `/pve verify tests/test_x.py::test_y`.")


def working(sha: str, what: str) -> str:
    return f"⏳ PVE is verifying {what} at `{sha[:7]}`: reproducing, then running candidate fixes in sandboxes."


def working_progress(header: str, milestones: list[str]) -> str:
    return header + "\n\n" + "\n".join(f"> {m}" for m in milestones[-6:])


# What went wrong with the input, in GitHub's words: from the error's code and public facts only,
# never its command-line message (which names host paths and flags). Every code the pipeline
# raises has an entry (tests/bot/test_render.py checks it against the source).
_PROBLEMS = {
    "frames-elsewhere": "the traceback's frames are not in this repository ({files}). "
                        "Check that the traceback comes from this repository's code",
    "no-failure": "no Python traceback or pytest failure was found in the text",
    "no-reproduction": "PVE could not tell how to reproduce the failure from the traceback. "
                       "Name the failing test: `/pve verify tests/test_x.py::test_y`",
    "tests-elsewhere": "the failing tests in the log are not in this repository",
    "test-not-found": "the test `{test}` is not in this repository",
    "test-missing": "name a test id or file, e.g. `/pve verify tests/test_x.py::test_y`",
    "file-not-found": "`{file}` is not a file in this repository",
    "nothing-to-reproduce": "there is nothing to reproduce: paste the traceback or name the failing test",
    "log-empty": "the {source} is empty",
    "log-binary": "the {source} looks binary; PVE reads text logs",
    "log-not-text": "the {source} does not look like text",
    "too-large": "the repository is too large to verify ({limit})",
    "bad-archive": "GitHub's archive of the repository could not be read",
    "command-not-python": "the command must run a Python script, module or pytest",
    "unparsable-command": "the command could not be read ({problem})",
    "empty-command": "the command is empty",
    "report-code-unusable": "PVE found code in the report but could not run it as a reproduction: {reason}",
    "option-needs-value": "the test command could not be read ({problem})",
    "dependencies": "the project's dependencies could not be installed",
}


def problem(exc: PVEError) -> str:
    """An input problem as a GitHub reader should see it (no host path, no CLI flag)."""
    template = _PROBLEMS.get(exc.code)
    if template is None:
        return "PVE could not use this input"
    try:
        return template.format(**exc.facts)
    except (KeyError, IndexError):
        return template.split(" (")[0]


def failed_input(problem: str) -> str:
    return f"PVE could not start: {problem}"


def gave_up(error: str) -> str:
    return (f"PVE failed on this request after several attempts and stopped; nothing was published. "
            f"The error (for the operator): `{error[:300]}`. Try again later with `/pve verify`.")


def _headline(session: Session) -> str:
    return session.analysis.headline() if session.analysis else "the failure"


def _session_ref(session: Session, link: str | None) -> str:
    ref = f"[Session, live console and signed proof]({link})" if link else f"Session `{session.id}` (`pve proof verify` checks the proof)."
    if link and session.attestation_path:
        ref += f" The proof as an [in-toto attestation]({link}/attestation.intoto.json) (DSSE)."
    if session.proof_key:  # which key to check it with, and where that key is published
        where = f" ([public key]({link.split('/s/')[0]}/.well-known/pve-proof-key))" if link and "/s/" in link else ""
        ref += f" Signed with key `{session.proof_key}`{where}."
    return ref


def _notes(session: Session) -> str:
    """What PVE read from the report beside the failure (other failures, the code block it ran,
    options it dropped): project-relative facts only, never a host path."""
    if not session.notes:
        return ""
    return "Read from the report:\n" + "\n".join(f"- {n}" for n in session.notes[:6]) + "\n\n"


def result(session: Session, link: str | None, *, quota: Quota | None = None, pr_url: str | None = None,
           review: bool = False, blocked: str | None = None) -> str:
    """The trigger's comment once the run is over."""
    ref = _notes(session) + _session_ref(session, link)
    if session.status is SessionStatus.VERIFIED and blocked is None:
        winner = session.winning_candidate()
        oracle = session.oracle.value if session.oracle else "none"
        where = (f"Fix pull request: {pr_url}" if pr_url else
                 "The fix is in the review below as suggestions." if review else "")
        verdict = session.winning_verdict()
        held = (f" and the regression oracle ({verdict.covered if verdict and verdict.covered else session.oracle_note})"
                if session.baseline else "")
        scope = session.message.split("; scope: ", 1)[1] if "; scope: " in session.message else ""
        unheld = (f" No regression oracle ran ({session.oracle_note.removeprefix('none: ')}): nothing beyond the "
                  "reproduction was checked." if not session.baseline and session.oracle_note else "")
        lines = [f"✅ **Verified fix** for `{_headline(session)}` (oracle: {oracle}).", "",
                 f"Candidate {winner.id if winner else '?'} ({winner.rule if winner else '?'}) passed the reproduction"
                 + held + " in a sandbox." + unheld,
                 f"Scope: {scope}. This fix does not make the whole job pass." if scope else "", where, "", ref]
        if quota:
            lines.append(quota_line(quota))
        return "\n".join(x for x in lines if x is not None)
    if blocked:
        return f"{blocked}\n\n{ref}"
    if session.status is SessionStatus.PLAUSIBLE:
        winner = session.winning_candidate()
        why = session.message.split("plausible, not verified: ", 1)[-1]
        lines = [f"🟡 **Plausible, not verified** for `{_headline(session)}`: candidate {winner.id if winner else '?'} "
                 f"({winner.rule if winner else '?'}) passed the reproduction in a sandbox, but {why}.", "",
                 "This is not a verified fix: read it as a lead, not an answer. Nothing was suggested.",
                 f"Draft pull request (the repository asked for plausible fixes): {pr_url}" if pr_url else "",
                 _block(winner.diff.rstrip("\n"), "diff") if winner else "", "", ref]
        if quota:
            lines.append(quota_line(quota))
        return "\n".join(x for x in lines if x is not None)
    if session.status is SessionStatus.DEPENDENCIES:
        return (f"⚠️ **Could not install the dependencies**: {session.message.removeprefix('could not install the dependencies: ')}."
                "\n\nNothing ran, so nothing was judged. If the project installs another way, say how in "
                f"`.github/pve.yml` (`install:`).\n\n{ref}")
    if session.status is SessionStatus.NOT_REPRODUCED:
        return (f"⚠️ **Could not reproduce** `{_headline(session)}`: {session.message.removeprefix('could not reproduce: ')}.\n\n"
                "PVE publishes only fixes for failures it has seen happen. If the failure needs a specific test or "
                f"command, name it: `/pve verify tests/test_x.py::test_y`.\n\n{ref}")
    if session.status is SessionStatus.NO_FIX:
        tried = len(session.verdicts)
        return (f"❌ **No fix** for `{_headline(session)}`: the failure reproduced, but none of the {tried} "
                f"candidate(s) passed every check. Nothing is suggested.\n\n{ref}")
    return f"PVE stopped: {session.message or session.status.value}.\n\n{ref}"


def console(lines: list[str]) -> str:
    return _block("\n".join(f"> {x}" for x in lines) or "> starting")


def check_in_progress(lines: list[str]) -> dict[str, Any]:
    return {"title": "Verifying…", "summary": fit(console(lines[-200:]), CHECK_MAX)}


def check_done(session: Session, lines: list[str], proof: str, link: str | None, annotations: list[dict[str, Any]],
               *, blocked: str | None = None) -> dict[str, Any]:
    verified = session.status is SessionStatus.VERIFIED and blocked is None
    title = ("Verified fix" if verified else blocked.split(":")[0] if blocked else
             session.status.value[:1].upper() + session.status.value[1:])
    oracle = session.oracle.value if session.oracle else "none"
    summary = "\n".join([
        f"**{title}** for `{_headline(session)}`. Oracle strength: **{oracle}**."
        + (f" Regression oracle: {session.oracle_note}." if session.oracle_note else ""),
        _session_ref(session, link), "", console(lines[-120:])])
    out: dict[str, Any] = {"title": title, "summary": fit(summary, CHECK_MAX, link),
                           "text": fit(_block(proof), CHECK_MAX, link)}
    if annotations:
        out["annotations"] = annotations[:MAX_ANNOTATIONS]
    return out


def fix_annotations(blocks: list[Block]) -> list[dict[str, Any]]:
    out = []
    for b in blocks:
        new = "".join(b.new_lines).rstrip("\n")
        out.append({"path": b.path, "start_line": b.start, "end_line": b.end, "annotation_level": "notice",
                    "title": "PVE verified fix",
                    "message": fit(f"The verified fix changes {'this line' if b.start == b.end else 'these lines'} to:\n{new}"
                                   if new else "The verified fix deletes these lines.", 60_000)})
    return out


def pr_body(session: Session, issue: int, proof: str, link: str | None) -> str:
    winner = session.winning_candidate()
    if session.status is SessionStatus.PLAUSIBLE:
        why = session.message.split("plausible, not verified: ", 1)[-1]
        head = "\n".join([
            f"For #{issue}: a **plausible fix, not verified**.", "",
            f"PVE reproduced `{_headline(session)}` in a sandbox; this candidate passed the reproduction, but {why}. "
            "The repository asked for plausible fixes as draft pull requests (`plausible_pull_request` in "
            "`.github/pve.yml`). Review it as a lead, not an answer.", "", _session_ref(session, link), "",
            "<details><summary>Execution proof</summary>", "", ""])
        tail = "\n\n</details>"
        return head + fit(_block(proof), COMMENT_MAX - len(head) - len(tail) - 200, link) + tail
    head = "\n".join([
        f"Fixes #{issue}.", "",
        f"PVE reproduced `{_headline(session)}` in a sandbox and verified this fix: "
        f"candidate {winner.id if winner else '?'} ({winner.rule if winner else '?'}), "
        f"oracle: {session.oracle.value if session.oracle else 'none'}.",
        f"{winner.rationale}" if winner else "", "", _session_ref(session, link), "", "<details><summary>Execution proof</summary>", "", ""])
    tail = "\n\n</details>"
    return head + fit(_block(proof), COMMENT_MAX - len(head) - len(tail) - 200, link) + tail


def review_body(session: Session, outside: list[str], link: str | None) -> str:
    lines = [f"PVE verified a fix for `{_headline(session)}` (oracle: {session.oracle.value if session.oracle else 'none'}). "
             "The suggestions below are the whole fix; each ran in a sandbox.", _session_ref(session, link)]
    if outside:
        lines[0] = (f"PVE verified a fix for `{_headline(session)}` (oracle: {session.oracle.value if session.oracle else 'none'}). "
                    "Parts of it fall outside this pull request's diff, so they are below as a diff; the rest are suggestions.")
        lines += ["", _block("\n".join(h.rstrip("\n") for h in outside), "diff")]
    return "\n".join(lines)


def no_failure_in_logs(workflow: str, jobs: int) -> str:
    return (f"{workflow} failed, but PVE found no Python traceback or pytest failure in the logs of its "
            f"{jobs} failed job(s), so there is nothing to verify.")


def ci_result(workflow: str, lines: list[str], quota: Quota) -> str:
    return "\n".join([f"PVE checked the failures of **{workflow}** on this pull request:", "", *lines, "",
                      quota_line(quota)])


# --------------------------------------------------------------------------- a pull request's claim

_MARK = {"success": "✅", "failure": "❌", "neutral": "⚠️"}


def pull_check_name(issue: int) -> str:
    return f"PVE: does it fix #{issue}?"


def pull_working(number: int, head_sha: str, issues: tuple[int, ...] | list[int]) -> str:
    which = ", ".join(f"#{i}" for i in issues)
    return (f"⏳ PVE is checking whether this pull request fixes {which} at `{head_sha[:7]}`: each issue's "
            "reproduction must fail on the base and pass on the head, and the tests that passed on the base must "
            "still pass.")


def pull_check(kind: str, issue: int, detail: str, session: Session | None, lines: list[str], link: str | None,
               proof: str = "") -> dict[str, Any]:
    """The check run for one linked issue, once judged."""
    title = f"{kind} #{issue}" if kind in ("fixes", "does not fix") else f"{kind} (#{issue})"
    parts = [f"**This pull request {kind} #{issue}**: {detail}." if kind.startswith(("fixes", "does not"))
             else f"**{kind[:1].upper() + kind[1:]} #{issue}**: {detail}."]
    if session is not None:
        parts.append(f"Regression oracle: {session.oracle_note}." if session.oracle_note else "")
        parts += [_session_ref(session, link), "", console(lines[-120:])]
    out: dict[str, Any] = {"title": title[:200], "summary": fit("\n".join(parts), CHECK_MAX, link)}
    if proof:
        out["text"] = fit(_block(proof), CHECK_MAX, link)
    return out


def pull_result(number: int, head_sha: str, rows: list[tuple[int, str, str, str, bool, str | None]], left: list[str],
                quota: Quota) -> str:
    """The one comment on the pull request: a line per linked issue, edited in place on each push."""
    lines = [f"PVE checked whether this pull request fixes the issues it links, at `{head_sha[:7]}`:", ""]
    for issue, kind, detail, conclusion, offered, link in rows:
        ref = f" ([session and proof]({link}))" if link else ""
        lines.append(f"- {_MARK.get(conclusion, '')} **{kind} #{issue}**: {detail}{ref}"
                     + (" A verified fix on top of this head is in the review below as suggestions." if offered else ""))
    if left:
        lines += ["", f"Not checked: {', '.join(left)} (another repository's issue, or past `max_failures`)."]
    lines += ["", "Each verdict ran in a sandbox: the issue's reproduction on the base and on the head, and the "
                  "regression oracle on both. A new push checks again.", quota_line(quota)]
    return "\n".join(lines)
