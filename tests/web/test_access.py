"""Who sees a session's page, its live console and its proof: anyone for a public repository's
session, only a signed-in user whose own token can read a private one (asked of the local GitHub,
cached briefly), with a page that says what to do otherwise."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pve.models import Origin, Session, SessionStatus
from store.sqlite import SQLiteStore
from web import access, auth, site

from .test_login import SECRET, start

PUBLIC, PRIVATE = "ab" * 16, "cd" * 16


@pytest.fixture
def world(github, tmp_path):
    github.add_repo("octo/open", {"a.py": "x = 1\n"})
    secret = github.add_repo("octo/secret", {"a.py": "x = 1\n"}, private=True)
    secret.permissions["alice"] = "read"  # octo owns it; alice may read it; mallory may not
    store = SQLiteStore(tmp_path)
    for sid, repo, private in ((PUBLIC, "octo/open", False), (PRIVATE, "octo/secret", True)):
        store.put_session(Session(id=sid, created_at="2026-12-04T07:00:00+00:00", project="/p",
                                  status=SessionStatus.NO_FIX, message="no verified fix",
                                  origin=Origin(repo=repo, sha="a" * 40, issue=1, private=private)))
        store.put_blob(sid, "proof.txt", b"PVE EXECUTION PROOF\n")
    return store


def browser(github, store, login: str | None, *, reader: access.Reader | None = None) -> TestClient:
    public = "https://pve.example.com"
    env = {"PVE_GITHUB_CLIENT_ID": github.oauth_client[0], "PVE_GITHUB_CLIENT_SECRET": github.oauth_client[1],
           "PVE_PUBLIC_URL": public, "PVE_GITHUB_WEB_URL": github.url}
    web = FastAPI()
    site.mount(web, store, secret=SECRET, oauth=auth.OAuthApp.from_config(env, github.url), reader=reader,
              playground=site.PlaygroundSetup(home=store.home))
    c = TestClient(web, base_url=public)
    if login:
        state = start(c, "/")
        assert c.get("/login/callback", params={"code": github.authorize(login), "state": state},
                     follow_redirects=False).status_code == 302
    return c


def test_a_public_repositorys_session_is_open_to_anyone(github, world):
    c = browser(github, world, None)
    assert c.get(f"/s/{PUBLIC}").status_code == 200
    proof = c.get(f"/s/{PUBLIC}/proof.txt")
    assert proof.status_code == 200
    # a proof quotes what the project printed (HTML among it, perhaps): never sniffed, never run
    assert proof.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in proof.headers["content-security-policy"] and "default-src 'none'" in proof.headers["content-security-policy"]
    assert github.requests("GET", r"^/repos/") == []  # nobody was asked


def test_a_private_repositorys_session_needs_a_reader(github, world):
    anonymous = browser(github, world, None)
    r = anonymous.get(f"/s/{PRIVATE}")
    assert r.status_code == 401 and "Sign in to see this session" in r.text
    assert f'href="/login?next=/s/{PRIVATE}"' in r.text
    assert anonymous.get(f"/s/{PRIVATE}/proof.txt").status_code == 404
    assert anonymous.get(f"/s/{PRIVATE}/events").status_code == 401
    assert "octo/secret" not in r.text  # not even the repository's name

    mallory = browser(github, world, "mallory")
    r = mallory.get(f"/s/{PRIVATE}")
    assert r.status_code == 404 and "<strong>mallory</strong> may see" in r.text and "octo/secret" not in r.text
    assert mallory.get(f"/s/{PRIVATE}/proof.txt").status_code == 404
    assert mallory.get(f"/s/{PRIVATE}/events").status_code == 404

    for login in ("alice", "octo"):  # a collaborator, the owner
        c = browser(github, world, login)
        r = c.get(f"/s/{PRIVATE}")
        assert r.status_code == 200 and "octo/secret" in r.text, login
        proof = c.get(f"/s/{PRIVATE}/proof.txt")
        assert proof.status_code == 200 and proof.headers["cache-control"] == "private, no-store"


def test_the_answer_is_kept_briefly_per_user_and_repository(github, world):
    alice = browser(github, world, "alice")
    for _ in range(3):
        assert alice.get(f"/s/{PRIVATE}").status_code == 200
        assert alice.get(f"/s/{PRIVATE}/proof.txt").status_code == 200
    assert len(github.requests("GET", r"^/repos/octo/secret$")) == 1
    short = access.Reader(github.url, ttl_s=0.05)  # once it expires, GitHub is asked again: a revoked access ends
    alice = browser(github, world, "alice", reader=short)
    assert alice.get(f"/s/{PRIVATE}").status_code == 200
    github.repos["octo/secret"].permissions["alice"] = "none"
    time.sleep(0.1)
    assert alice.get(f"/s/{PRIVATE}").status_code == 404


def test_github_down_is_a_page_not_a_guess(github, world):
    alice = browser(github, world, "alice", reader=access.Reader("http://127.0.0.1:9"))  # nothing listens there
    r = alice.get(f"/s/{PRIVATE}")
    assert r.status_code == 502 and "GitHub could not be reached" in r.text
    assert alice.get(f"/s/{PUBLIC}").status_code == 200


def test_without_sign_in_private_sessions_stay_closed(tmp_path, world):
    web = FastAPI()
    site.mount(web, world, secret=SECRET, oauth=None, playground=site.PlaygroundSetup(home=world.home))
    c = TestClient(web)
    r = c.get(f"/s/{PRIVATE}")
    assert r.status_code == 403 and "PVE_GITHUB_CLIENT_ID" in r.text
    assert c.get(f"/s/{PUBLIC}").status_code == 200


def test_the_reader_lists_the_installations_and_repositories_a_user_reaches(github, world):
    github.add_repo("elsewhere/lib", {"a.py": ""}, installation=2, private=True)
    reader = access.Reader(github.url)
    for login, expected in (("alice", ("octo/secret",)), ("octo", ("octo/open", "octo/secret")), ("mallory", ())):
        state_client = browser(github, world, None)
        state = start(state_client, "/")
        state_client.get("/login/callback", params={"code": github.authorize(login), "state": state},
                         follow_redirects=False)
        user = auth.current_user(_request(state_client), auth.Signer(SECRET, "cookies"))
        assert user is not None and reader.repositories(user) == expected, login
    assert [i.id for i in reader.installations(user)] == []


def _request(c: TestClient):
    from starlette.requests import Request

    cookie = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
    return Request({"type": "http", "headers": [(b"cookie", cookie.encode())]})
