"""GitHub's size limits: long text is cut with a pointer to the full proof, never sent over."""

from __future__ import annotations

from bot import render
from pve.models import Session, SessionStatus


def session(status=SessionStatus.NO_FIX) -> Session:
    return Session(id="ab" * 16, created_at="2026-11-21T00:00:00+00:00", project="/p", status=status)


def test_check_output_fits_githubs_limits_and_links_the_full_proof():
    lines = [f"Running candidate {i}... [FAILED - {'x' * 400}]" for i in range(400)]
    proof = "PVE EXECUTION PROOF\n" + "line of proof\n" * 20_000
    link = "https://pve.example.com/s/" + "ab" * 16
    notes = [{"path": "m.py", "start_line": i, "end_line": i, "annotation_level": "notice", "message": "m"} for i in range(1, 120)]
    out = render.check_done(session(), lines, proof, link, notes)
    assert len(out["summary"]) <= render.CHECK_MAX and len(out["text"]) <= render.CHECK_MAX
    assert out["text"].startswith("```\nPVE EXECUTION PROOF") and out["text"].rstrip().endswith(link)
    assert "truncated" in out["text"] and len(out["annotations"]) == render.MAX_ANNOTATIONS
    assert len(render.check_in_progress(lines)["summary"]) <= render.CHECK_MAX


def test_comments_and_pr_bodies_fit_with_their_marker():
    body = render.with_marker("comment-1", "y" * 100_000)
    assert len(body) <= render.COMMENT_MAX and body.endswith(render.marker("comment-1"))
    pr = render.pr_body(session(SessionStatus.VERIFIED), 7, "p\n" * 60_000, "https://pve.example.com/s/x")
    assert len(pr) <= render.COMMENT_MAX and pr.startswith("Fixes #7.") and pr.endswith("</details>")


def test_fences_in_user_text_cannot_break_out_of_the_console_block():
    block = render.console(["a ``` b"])
    assert block.startswith("````\n") and block.endswith("\n````")


def _judged(status: SessionStatus, message: str, *, plausible: bool, covered: str = "") -> Session:
    from pve.models import Candidate, FileEdit, Preflight, Verdict

    s = session(status)
    s.message, s.winner = message, 1
    s.candidates = [Candidate(id=1, rule="index.loop-bound", rationale="r", edits=[FileEdit(path="a.py", new_text="x")],
                              diff="--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-a\n+b\n")]
    s.verdicts = [Verdict(candidate_id=1, verified=not plausible, plausible=plausible, reason=message,
                          preflight=Preflight(ok=True), covered=covered)]
    return s


def test_a_plausible_fix_is_said_as_what_it_is_never_as_verified():
    s = _judged(SessionStatus.PLAUSIBLE, "candidate 1 is plausible, not verified: no test that passed before runs "
                "the edited code", plausible=True)
    reply = render.result(s, "https://pve.example.com/s/x")
    assert reply.startswith("🟡 **Plausible, not verified**") and "no test that passed before runs the edited code" in reply
    assert "```diff\n--- a/a.py" in reply and "Verified fix" not in reply
    check = render.check_done(s, [], "proof", None, [])
    assert check["title"] == "Plausible, not verified"
    body = render.pr_body(s, 7, "proof", None)  # only when the repository opted in: a draft, titled as such
    assert body.startswith("For #7: a **plausible fix, not verified**.") and "Fixes #7" not in body


def test_a_verified_fix_names_its_evidence_and_its_scope():
    s = _judged(SessionStatus.VERIFIED, "candidate 1 verified (oracle: existing tests; 2 tests ...); scope: the reported "
                "failure only, 1 other failing test(s) still fail (tests/test_a.py::test_other)", plausible=False,
                covered="2 tests that ran the edited code passed before and after: a.py: f (2 tests)")
    from pve.models import RunResult

    s.baseline = RunResult(sandbox_id="s", command="pytest", exit_code=0, duration_ms=1.0)  # a regression oracle ran
    reply = render.result(s, None)
    assert "2 tests that ran the edited code passed before and after: a.py: f (2 tests)" in reply
    assert "Scope: the reported failure only, 1 other failing test(s) still fail (tests/test_a.py::test_other)" in reply
    assert "does not make the whole job pass" in reply
