"""The web view in a real browser: Playwright driving Debian's Chromium (``/usr/bin/chromium``,
installed by scripts/install.sh) against ``pve serve``'s pages on a real uvicorn server, with
real sandboxes behind the playground and the local GitHub behind "Sign in with GitHub".

One walk through the site, as a person would: sign in, the playground (Monaco, a lint mark, the
library badges, smart paste), verify, the permalink while it runs (console lines arriving live)
and once done (the diff, the proof downloaded and checked with ``pve proof verify``), history
search, the quota page, an error page; on every page ``axe-core`` (npm) finds no serious or
critical violation and the browser reports no Content-Security-Policy violation. Screenshots
of each page (desktop, and the permalink on a phone) go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from entrypoints import bootstrap
from pve.models import Analysis, Category, ExceptionInfo, Origin, Session, SessionStatus
from pve.settings import Settings
from statemachine.runner import verify
from tests.app_harness import APP_ID
from tests.github_api import GitHubAPI
from web import auth, site

from ..conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "test-artifacts" / "screenshots"
SECRET = b"browser-test-secret"

# A snippet that sleeps in every run, so its verification lasts a few seconds: long enough to
# watch the console arrive.
SLOW = '''import time


def average(scores):
    time.sleep(0.4)
    return sum(scores) / len(scores)


print(average([3, 4]))
print(average([]))
'''

def paste(page, text: str) -> None:
    """Into an empty editor, as a person pastes: a clipboard event on Monaco's textarea."""
    page.evaluate("() => window.pveEditor.setValue('')")
    page.locator(".monaco-editor textarea").first.focus()
    page.evaluate("""text => {
        const data = new DataTransfer();
        data.setData('text/plain', text);
        document.querySelector('.monaco-editor textarea').dispatchEvent(
            new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
    }""", text)

IPYTHON_SESSION = """In [1]: d = {'a': 1}

In [2]: d['b']
---------------------------------------------------------------------------
KeyError                                  Traceback (most recent call last)
Cell In[2], line 1
----> 1 d['b']

KeyError: 'b'
"""

SLOW_TB = '''Traceback (most recent call last):
  File "/home/ana/slow.py", line 10, in <module>
    print(average([]))
          ^^^^^^^^^^^
  File "/home/ana/slow.py", line 6, in average
    return sum(scores) / len(scores)
           ~~~~~~~~~~~~^~~~~~~~~~~~~
ZeroDivisionError: division by zero
'''

pytestmark = [pytest.mark.sandbox, pytest.mark.browser]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(app_key, tmp_path_factory):
    """uvicorn serving the site (as ``pve serve`` mounts it) with real sandboxes, and the local GitHub."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: scripts/install.sh installs Debian's chromium for these tests")
    home = tmp_path_factory.mktemp("browser-home")
    services = bootstrap.services(replace(Settings.from_env({}), home=home))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with GitHubAPI(APP_ID, app_key[1]) as github:
        github.add_repo("octo/stats", {"a.py": ""}, installation=1, private=True).permissions["alice"] = "read"
        store = services.store
        for n in range(1, 6):  # some of the installation's earlier sessions
            store.put_session(Session(
                id=f"{n:032x}", created_at=f"2026-12-0{n}T09:00:00+00:00", project="/p", trigger="issue_comment",
                status=SessionStatus.VERIFIED if n % 2 else SessionStatus.NO_FIX, message="from an issue",
                origin=Origin(repo="octo/stats", sha="a" * 40, issue=n, private=True, installation=1),
                analysis=Analysis(exception=ExceptionInfo(type="KeyError", qualified_type="KeyError",
                                                          message=f"'column{n}'"), category=Category.KEY)))
            store.spend_credit(1, f"{n:032x}", 50)
        env = {"PVE_GITHUB_CLIENT_ID": github.oauth_client[0], "PVE_GITHUB_CLIENT_SECRET": github.oauth_client[1],
               "PVE_PUBLIC_URL": url, "PVE_GITHUB_WEB_URL": github.url}
        web = FastAPI()
        site.mount(web, store, secret=SECRET, oauth=auth.OAuthApp.from_config(env, github.url), daily_credits=50,
                   playground=site.PlaygroundSetup(home=home, verify=lambda req: verify(req, services),
                                                   libraries=bootstrap.sandbox_libraries(None)))
        server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        yield url, github, store, home
        server.should_exit = True
        thread.join(10)
        assert github.violations == []


class Visit:
    """A page with the checks every page gets: axe-core and the CSP."""

    def __init__(self, browser, url: str, **options) -> None:
        self.context = browser.new_context(base_url=url, accept_downloads=True, **options)
        self.context.add_init_script(path=str(AXE))  # injected by the browser itself, not subject to the CSP
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))

    def check(self, name: str) -> None:
        csp = [p for p in self.problems if "Content Security Policy" in p]
        assert csp == [], f"{name}: {csp}"
        found = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))")
        bad = [v for v in found if v["impact"] in ("serious", "critical")]
        assert bad == [], f"{name}: {bad}"
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_a_walk_through_the_web_view(served, browser, tmp_path):
    url, github, store, home = served
    v = Visit(browser, url)
    page = v.page

    # Sign in with GitHub: the local GitHub's authorize page approves alice and sends her back.
    github.approving = "alice"
    page.goto("/login?next=/playground")
    assert page.url == f"{url}/playground"

    # The playground: Monaco over the code field, the checks as you type, smart paste.
    page.wait_for_function("() => window.pveEditor !== undefined", timeout=30_000)
    assert page.locator(".monaco-editor").is_visible() and page.locator("#code").is_hidden()
    page.evaluate("code => window.pveEditor.setValue(code)", "import json\nimport numpy\n\nprint(json.dumps(totl))\n")
    page.wait_for_selector("#lint li")
    assert page.inner_text("#lint") == "Line 2: 'numpy' imported but unused\nLine 4: undefined name 'totl'"
    assert page.evaluate("() => monaco.editor.getModelMarkers({}).map(m => [m.startLineNumber, m.message])") == \
        [[2, "'numpy' imported but unused"], [4, "undefined name 'totl'"]]  # the squiggles' hover messages
    page.wait_for_function("() => document.querySelectorAll('#libraries .badge').length === 2")
    badges = page.locator("#libraries .badge").all_inner_texts()
    assert re.fullmatch(r"json · standard library \(Python 3\.\d+\.\d+\)", badges[0]) and badges[1] == "numpy · not available"
    v.check("playground")

    # An IPython session pasted whole: its statements are the code, its traceback the error.
    paste(page, IPYTHON_SESSION)
    assert page.evaluate("() => window.pveEditor.getValue()") == "d = {'a': 1}\nd['b']\n"
    assert page.input_value("#error").startswith("----") and page.input_value("#error").strip().endswith("KeyError: 'b'")

    paste(page, SLOW + "\n" + SLOW_TB)
    assert page.evaluate("() => window.pveEditor.getValue()").strip() == SLOW.strip()  # only the code
    assert page.input_value("#error").strip() == SLOW_TB.strip()  # the traceback moved by itself
    page.wait_for_function("() => [...document.querySelectorAll('#libraries .badge')].map(b => b.textContent)"
                           ".join() .startsWith('time')")

    # Verify: straight to the permalink, where the console arrives while the session runs.
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(re.compile(r"/s/[0-9a-f]{32}$"))
    sid = page.url.rsplit("/", 1)[1]
    assert page.locator("h1").inner_text().endswith("Verifying…")
    at_load = page.locator("#console .line").count()
    page.wait_for_function(f"() => document.querySelectorAll('#console .line').length > {at_load}", timeout=30_000)
    assert store.get_session(sid).status is SessionStatus.RUNNING  # the line came while it ran
    v.check("permalink-running")
    # the page reloads when the session ends; a single file has no tests, so its fix is shown as
    # plausible, not verified (TRUTH.md's evidence levels)
    page.wait_for_selector(".status.plausible", timeout=90_000)
    assert "A plausible fix, not verified" in page.inner_text("main")

    # The finished permalink: the diff side by side, the proof, checked by `pve proof verify`.
    assert "ZeroDivisionError" in page.inner_text("h1")
    assert page.locator(".diff tr.added td.new, .diff tr.changed td.new").count() >= 1
    assert "Running candidate" in page.inner_text("#console")
    v.check("permalink")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the execution proof").click()
    proof = tmp_path / "proof.txt"
    download.value.save_as(proof)
    pve = Path(sys.executable).with_name("pve")
    checked = subprocess.run([str(pve), "proof", "verify", str(proof)], capture_output=True, text=True,
                             env={**os.environ, "PVE_HOME": str(home)}, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # Keyboard: on a fresh load, the first Tab reaches the skip link, with a visible focus ring.
    page.goto(f"/s/{sid}")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to the content"
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"

    # History: her playground session and the installation's sessions; search narrows it.
    page.goto("/history")
    assert page.locator(f'a[href="/s/{sid}"]').count() == 1 and page.locator("table.history tbody tr").count() == 6
    page.get_by_label("Search").fill("column3")
    page.get_by_role("button", name="Search").click()
    assert page.locator("table.history tbody tr").count() == 1 and "column3" in page.inner_text("table.history")
    v.check("history")

    # Quota: the installation's day, as the bot counts it.
    page.goto("/quota")
    assert page.locator("meter").get_attribute("value") == "5" and "45</strong> of 50 left today" in page.content()
    v.check("quota")

    page.goto("/login")
    assert "signed in as alice" in page.inner_text("main").lower()
    v.check("account")

    page.goto("/s/" + "0" * 32)
    assert "No such session" in page.inner_text("h1")
    v.check("not-found")
    page.goto("/")
    v.check("home")
    v.context.close()

    # On a phone: the permalink reads without sideways scrolling of the page.
    phone = Visit(browser, url, viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=2)
    phone.page.goto(f"/s/{sid}")
    assert phone.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    # nothing but the diff's own scrolling region is wider than the screen
    assert phone.page.evaluate("""() => [...document.querySelectorAll('main > *')]
        .filter(e => !e.classList.contains('diff') && e.getBoundingClientRect().right > window.innerWidth + 1)
        .map(e => e.tagName + '.' + e.className)""") == []
    phone.check("permalink-phone")
    phone.context.close()
