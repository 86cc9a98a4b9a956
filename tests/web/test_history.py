"""``/history`` and ``/quota`` for a signed-in user, against the local GitHub's answers about
which installations and repositories the user reaches."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from pve.models import Analysis, Category, ExceptionInfo, Origin, Session, SessionStatus
from store.sqlite import SQLiteStore
from web.quota import renews_in

from .test_access import browser


def _session(n: int, repo: str | None, error: str, *, by: str | None = None, unlisted: bool = False,
             status: SessionStatus = SessionStatus.VERIFIED) -> Session:
    return Session(id=f"{n:032x}", created_at=f"2026-11-{n:02d}T09:00:00+00:00", project="/p", status=status,
                   requested_by=by, unlisted=unlisted,
                   origin=Origin(repo=repo, sha="a" * 40, private=True) if repo else None,
                   analysis=Analysis(exception=ExceptionInfo(type=error, qualified_type=error, message=f"case {n}"),
                                     category=Category.KEY))


@pytest.fixture
def world(github, tmp_path):
    github.add_repo("octo/stats", {"a.py": ""}, private=True).permissions["alice"] = "write"
    github.add_repo("octo/secret", {"a.py": ""}, private=True)
    store = SQLiteStore(tmp_path)
    for n in range(1, 28):  # 27 in octo/stats: two pages
        store.put_session(_session(n, "octo/stats", "KeyError" if n % 3 else "TypeError",
                                   status=SessionStatus.VERIFIED if n % 2 else SessionStatus.NO_FIX))
    store.put_session(_session(28, "octo/secret", "KeyError"))  # alice cannot read it
    store.put_session(_session(29, None, "NameError", by="alice", unlisted=True))  # her playground session
    store.put_session(_session(30, None, "NameError", by="bob", unlisted=True))
    return store


def _ids(html: str) -> list[int]:
    return [int(h, 16) for h in re.findall(r'<a href="/s/([0-9a-f]{32})">', html)]


def test_history_is_what_the_user_reaches_newest_first_in_pages(github, world):
    alice = browser(github, world, "alice")
    first = alice.get("/history")
    assert first.status_code == 200 and "octo/secret" not in first.text
    assert _ids(first.text) == [29, *range(27, 3, -1)]  # her playground session, then octo/stats
    older = re.search(r'rel="next" href="(/history\?[^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = alice.get(older)
    assert _ids(second.text) == [3, 2, 1] and 'rel="next"' not in second.text and ">Newest</a>" in second.text


def test_history_search_and_filters(github, world):
    alice = browser(github, world, "alice")
    assert _ids(alice.get("/history", params={"type": "TypeError"}).text) == [27, 24, 21, 18, 15, 12, 9, 6, 3]
    assert _ids(alice.get("/history", params={"q": "case 2"}).text) == [29, 27, 26, 25, 24, 23, 22, 21, 20, 2]
    assert _ids(alice.get("/history", params={"status": "no fix", "type": "TypeError"}).text) == [24, 18, 12, 6]
    assert _ids(alice.get("/history", params={"since": "2026-11-10", "until": "2026-11-12"}).text) == [12, 11, 10]
    assert _ids(alice.get("/history", params={"repo": "octo/secret"}).text) == []  # a filter never widens
    page = alice.get("/history", params={"q": "<script>", "since": "not a date", "status": "bogus"})
    assert page.status_code == 200 and "<script>" not in page.text and "No session matches" in page.text
    assert re.search(r'<label>Search <input type="search" name="q"', page.text)  # every field has its label


def test_history_and_quota_need_a_sign_in(github, world):
    anonymous = browser(github, world, None)
    for path in ("/history", "/quota"):
        r = anonymous.get(path, params={"q": "x"})
        assert r.status_code == 401 and f'href="/login?next={path}%3Fq%3Dx"' in r.text, path


def test_the_quota_page_shows_the_bots_numbers(github, world):
    world.put_installation(1, "octo", 20)
    for n in range(1, 6):
        world.spend_credit(1, f"{n:032x}", 20)
    alice = browser(github, world, "alice")
    r = alice.get("/quota")
    assert r.status_code == 200
    assert '<meter id="m-1" min="0" max="20" value="5"' in r.text and "<strong>15</strong> of 20 left today" in r.text
    assert "00:00 UTC" in r.text
    mallory = browser(github, world, "mallory")
    assert "reaches no installation" in mallory.get("/quota").text
    for n in range(6, 21):
        world.spend_credit(1, f"{n:032x}", 20)
    assert "fixes are published again after the renewal" in alice.get("/quota").text


def test_the_quota_renews_at_midnight_utc():
    reset, words = renews_in(datetime(2026, 12, 4, 21, 30, 15, tzinfo=UTC))
    assert reset == datetime(2026, 12, 5, tzinfo=UTC) and words == "2 h 29 min"


def test_history_and_quota_say_when_github_does_not_answer(github, world):
    from web import access

    alice = browser(github, world, "alice", reader=access.Reader("http://127.0.0.1:9"))  # nothing listens there
    for path in ("/history", "/quota"):
        r = alice.get(path)
        assert r.status_code == 502 and "GitHub could not be reached" in r.text, path
