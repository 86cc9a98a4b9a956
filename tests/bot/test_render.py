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
