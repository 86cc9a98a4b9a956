"""The permalink pages over a real session (real sandboxes, SQLite): the fix side by side, the
oracle in words, every candidate, the proof; the console live as Server-Sent Events; errors as
pages; nothing inline for the Content-Security-Policy to refuse."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import replace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from entrypoints import bootstrap
from pve.events import Event
from pve.models import Session, SessionStatus, VerifyRequest
from pve.settings import Settings
from statemachine.runner import verify
from store.sqlite import SQLiteStore
from web import access, auth, permalinks, shell
from web.diff import side_by_side
from web.highlight import line

from ..conftest import EXAMPLES


def app(store) -> TestClient:
    web = FastAPI()
    web.include_router(permalinks.router(store, access.Viewer(auth.Signer(b"k", "cookies"))))
    web.include_router(shell.assets())
    return TestClient(web)


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    services = bootstrap.services(replace(Settings.from_env({}), home=home))
    stats = EXAMPLES / "stats"
    session = asyncio.run(verify(VerifyRequest(path=stats, error_log=(stats / "ci.log").read_bytes(), cache=False),
                                 services))
    assert session.status is SessionStatus.VERIFIED
    return services.store, session


@pytest.mark.sandbox
def test_a_verified_session_page(verified):
    store, session = verified
    r = app(store).get(f"/s/{session.id}")
    assert r.status_code == 200
    body = r.text
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert re.findall(r"<script[^>]*>", body) == ['<script src="/static/console.js" defer>']  # nothing inline
    assert not re.search(r"<[^>]+\s(on[a-z]+|style)\s*=", body)  # no inline handlers or styles
    assert "ZeroDivisionError" in body and "Strong: the failure reproduced" in body
    # the fix, side by side: the guard is an added line in the right-hand column
    assert re.search(r'<tr class="(added|changed)">.*?<td class="new">\s*<span class="kw">if</span> '
                     r'<span class="kw">not</span> values:', body)
    assert "(winner)" in body and "verified</span>" in body
    assert f'href="/s/{session.id}/proof.txt" download' in body
    assert 'data-live="0"' in body and "Running candidate" in body  # the console, replayed
    proof = app(store).get(f"/s/{session.id}/proof.txt")
    assert proof.status_code == 200 and b"PVE EXECUTION PROOF" in proof.content
    # the same proof as an in-toto attestation: a download no browser runs
    assert f'href="/s/{session.id}/attestation.intoto.json" download' in body
    envelope = app(store).get(f"/s/{session.id}/attestation.intoto.json")
    assert envelope.status_code == 200 and envelope.json()["payloadType"] == "application/vnd.in-toto+json"
    assert "attachment" in envelope.headers["content-disposition"] and "sandbox" in envelope.headers["content-security-policy"]
    assert app(store).get(f"/s/{'0' * 32}/attestation.intoto.json").status_code == 404


def test_unknown_and_malformed_ids_are_pages_for_people(tmp_path):
    client = app(SQLiteStore(tmp_path))
    for path in (f"/s/{'0' * 32}", "/s/not-an-id", f"/s/{'0' * 32}/events", "/static/secret.py"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "<h1>" in r.text and "content-security-policy" in r.headers, path
    assert "copied whole" in client.get(f"/s/{'0' * 32}").text


def test_static_assets_are_ours_and_cached(tmp_path):
    client = app(SQLiteStore(tmp_path))
    js = client.get("/static/console.js")
    assert js.status_code == 200 and "EventSource" in js.text and js.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/pve.css").headers["cache-control"].startswith("public")


def _event(seq: int, text: str, status: str | None = None) -> Event:
    return Event(seq=seq, ts=time.time(), kind="run", text=text, status=status)


def test_a_running_session_streams_its_console_until_it_ends(tmp_path, monkeypatch):
    monkeypatch.setattr(permalinks, "POLL_S", 0.05)
    store = SQLiteStore(tmp_path)
    sid = "ab" * 16
    store.put_session(Session(id=sid, created_at="2026-12-04T05:00:00+00:00", project="/p"))  # as the runner does
    store.append_event(sid, _event(1, "Reproducing in sandbox sbx-1...", "FAILED as reported"))
    page = app(store).get(f"/s/{sid}")
    assert page.status_code == 200 and "Verifying" in page.text and 'data-live="1"' in page.text

    def later():
        time.sleep(0.3)
        store.append_event(sid, _event(2, "Running candidate 1...", "PASSED - 12 ms"))
        store.put_session(Session(id=sid, created_at="2026-12-04T05:00:00+00:00", project="/p",
                                  status=SessionStatus.VERIFIED, message="verified"))

    threading.Thread(target=later).start()
    with app(store).stream("GET", f"/s/{sid}/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    assert re.findall(r"^id: (\d+)$", text, re.M) == ["1", "2"]
    assert '"text": "Running candidate 1..."' in text and "event: done" in text
    # A reconnecting browser sends the last id it saw: only what came after.
    with app(store).stream("GET", f"/s/{sid}/events", headers={"Last-Event-ID": "1"}) as r:
        again = "".join(r.iter_text())
    assert re.findall(r"^id: (\d+)$", again, re.M) == ["2"]


def test_side_by_side_pairs_changes_and_marks_skipped_lines():
    diff = ("--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\n a = 1\n-b = 2\n+b = 3\n c = 4\n"
            "@@ -10,2 +10,3 @@\n x = 1\n+y = 2\n z = 3\n")
    (f,) = side_by_side(diff)
    assert [r.kind for r in f.rows] == ["same", "changed", "same", "gap", "same", "added", "same"]
    assert (f.rows[1].old, f.rows[1].new, f.rows[5].new_no) == ("b = 2", "b = 3", 11)
    assert side_by_side("not a diff") == []


def test_highlighting_escapes_what_it_does_not_colour():
    out = line('s = "</td><script>alert(1)</script>"  # <b>')
    assert "<script>" not in out and "&lt;script&gt;" in out and '<span class="cm"># &lt;b&gt;</span>' in out


def test_a_github_sessions_page_links_its_repository_commit_pull_request_and_issue(tmp_path):
    from pve.models import Candidate, FileEdit, Origin, Preflight, Verdict

    store = SQLiteStore(tmp_path)
    sid = "cd" * 16
    diff = "--- a/stats/core.py\n+++ b/stats/core.py\n@@ -1,2 +1,3 @@\n def mean(v):\n+    if not v: return 0\n     return 1\n"
    fix = Candidate(id=1, rule="zero.guard", rationale="guard", edits=[FileEdit(path="stats/core.py", new_text="x")],
                    diff=diff)
    for origin, pr_link in ((Origin(repo="octo/stats", sha="a1b2c3d4e5", pull=7, issue=3, private=False),
                             "/pull/7\">Open pull"),
                            (Origin(repo="octo/stats", sha="a1b2c3d4e5", issue=3, private=False), f"compare/a1b2c3d4e5...pve/fix-{sid}")):
        store.put_session(Session(id=sid, created_at="2026-12-04T06:00:00+00:00", project="/tmp/x", trigger="issue_comment",
                                  status=SessionStatus.VERIFIED, origin=origin, candidates=[fix], winner=1,
                                  verdicts=[Verdict(candidate_id=1, verified=True, reason="ok", preflight=Preflight(ok=True))]))
        body = app(store).get(f"/s/{sid}").text
        assert 'href="https://github.com/octo/stats/commit/a1b2c3d4e5"><code>a1b2c3d</code>' in body
        assert 'href="https://github.com/octo/stats/issues/3">#3' in body
        assert pr_link in body
        ref = "a1b2c3d4e5" if origin.pull else f"pve/fix-{sid}"
        assert f'href="https://vscode.dev/github/octo/stats/blob/{ref}/stats/core.py"' in body
