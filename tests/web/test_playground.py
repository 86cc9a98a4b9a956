"""The playground over real sandboxes: the form, lint marks and library badges from
``/playground/check``, smart paste, a verification that lands on its permalink and runs to a
verified fix, CSRF, rate limits, and a run that fails still ending with words."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from entrypoints import bootstrap
from pve.models import SessionStatus
from pve.settings import Settings
from statemachine.runner import verify
from store.base import HistoryQuery
from web import playground, site
from web.playground import imported_modules, lint, split_paste

from ..conftest import EXAMPLES
from .test_login import SECRET

AVERAGE = (EXAMPLES / "snippets" / "average.py").read_text()
AVERAGE_TB = (EXAMPLES / "snippets" / "average.log").read_text()


def make(tmp_path, *, per_hour: int = 20, run=None):
    services = bootstrap.services(replace(Settings.from_env({}), home=tmp_path))
    web = FastAPI()
    site.mount(web, services.store, secret=SECRET, oauth=None,
               playground=site.PlaygroundSetup(home=tmp_path, per_hour=per_hour, libraries=bootstrap.sandbox_libraries(None),
                                               verify=run or (lambda req: verify(req, services))))
    return TestClient(web), services.store


def token(c: TestClient) -> str:
    page = c.get("/playground")
    assert page.status_code == 200
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text).group(1)


def wait_until_done(store, sid: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = store.get_session(sid)
        if s is not None and s.status is not SessionStatus.RUNNING:
            return s
        time.sleep(0.1)
    raise AssertionError("the playground session did not end")


def test_the_form_works_without_javascript_and_names_every_field(tmp_path):
    c, _ = make(tmp_path)
    with c:
        r = c.get("/playground")
    assert '<label for="code">Code</label>' in r.text and '<label for="error">Traceback' in r.text
    assert 'method="post" action="/playground"' in r.text and '<textarea id="code" name="code"' in r.text
    assert re.findall(r'<script src="([^"]+)"', r.text) == ["/static/monaco/vs/loader.js", "/static/playground.js"]
    assert "script-src 'self';" in r.headers["content-security-policy"]  # styles relaxed for Monaco, never scripts
    assert "pve_form=" in r.headers["set-cookie"] and "SameSite=strict" in r.headers["set-cookie"]
    worker = re.search(r'data-worker="([^"]+)"', r.text).group(1)
    with c:
        assert c.get(worker).status_code == 200
        assert c.get("/static/monaco/vs/loader.js").headers["content-type"].startswith("text/javascript")
        for bad in ("/static/monaco/vs/../../package.json", "/static/monaco/../LICENSE", "/static/monaco/vs/nope.js"):
            assert c.get(bad).status_code == 404, bad


def test_check_gives_lint_marks_and_library_badges(tmp_path):
    c, _ = make(tmp_path)
    code = "import json\nimport numpy as np\nfrom pytest import approx\nimport os.path\n\nprint(json, os, totl)\n"
    with c:
        r = c.post("/playground/check", json={"code": code})
    assert r.status_code == 200
    assert r.json()["marks"] == [
        {"line": 2, "col": 0, "message": "'numpy as np' imported but unused", "severity": "warning"},
        {"line": 3, "col": 0, "message": "'pytest.approx' imported but unused", "severity": "warning"},
        {"line": 6, "col": 16, "message": "undefined name 'totl'", "severity": "warning"}]
    libs = {lib["module"]: lib for lib in r.json()["libraries"]}
    assert list(libs) == ["json", "numpy", "pytest", "os"]
    assert libs["json"]["source"] == "standard library" and re.match(r"3\.\d+\.\d+$", libs["json"]["version"])
    assert libs["numpy"]["available"] is False  # the sandbox has no numpy: said before anything runs
    assert libs["pytest"]["available"] and re.match(r"\d+\.\d+", libs["pytest"]["version"])
    with c:
        bad = c.post("/playground/check", json={"code": "def f(:\n    pass\n"}).json()["marks"]
        assert bad[0]["line"] == 1 and bad[0]["message"].startswith("SyntaxError") and bad[0]["severity"] == "error"
        assert c.post("/playground/check", content=b"not json").status_code == 400
        assert c.post("/playground/check", json={"code": "x" * (65 * 1024)}).status_code == 400


def test_smart_paste_splits_code_and_traceback():
    code, tb = split_paste(AVERAGE + "\n" + AVERAGE_TB)
    assert code.strip() == AVERAGE.strip() and tb.startswith("Traceback") and tb.strip().endswith("division by zero")
    chained = ("Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\n    d['k']\nKeyError: 'k'\n\n"
               "During handling of the above exception, another exception occurred:\n\n"
               "Traceback (most recent call last):\n  File \"a.py\", line 3, in <module>\n    raise ValueError('x')\n"
               "ValueError: x\nprint('after')\n")
    code, tb = split_paste("d = {}\n" + chained)
    assert tb.count("Traceback") == 2 and tb.strip().endswith("ValueError: x") and code == "d = {}\nprint('after')\n"
    assert split_paste("x = 1\n") == ("x = 1\n", "")
    # a shell command just above the traceback goes with it (real reports show one), and its
    # arguments become the reproduction's
    code, tb = split_paste("import sys\nprint(int(sys.argv[1]) / 0)\n\n$ python3 div.py 5\n"
                           "Traceback (most recent call last):\n  File \"/home/a/div.py\", line 2, in <module>\n"
                           "    print(int(sys.argv[1]) / 0)\nZeroDivisionError: division by zero\n")
    assert code == "import sys\nprint(int(sys.argv[1]) / 0)\n" and tb.startswith("$ python3 div.py 5\nTraceback")
    assert playground.command_line(tb, "div.py") == "python div.py 5"
    assert playground.command_line(tb, "other.py") is None
    assert playground.command_line("PS C:\\work> py -u div.py --n 3\n", "div.py") == "python div.py --n 3"
    assert playground.command_line("$ python3 div.py\n", "div.py") is None  # no arguments: the default run
    assert playground.snippet_name(AVERAGE_TB) == "average.py"  # the traceback's frames then point into the code
    assert playground.snippet_name('  File "/usr/lib/python3.11/site-packages/x/y.py", line 3, in f\n'
                                   '  File "C:\\Users\\a\\job.py", line 9, in <module>\n') == "job.py"
    assert playground.snippet_name('  File "<stdin>", line 1, in <module>\n') == "snippet.py"
    assert imported_modules("import a.b, c\nfrom d.e import f\nfrom . import g\n") == ["a", "c", "d"]
    assert imported_modules("import x\ndef broken(:\nfrom y import z\n") == ["x", "y"]  # half-typed: the lines
    assert lint("x = 1\x00")[0]["severity"] == "error"


@pytest.mark.sandbox
def test_a_snippet_is_verified_and_the_browser_lands_on_its_permalink(tmp_path):
    c, store = make(tmp_path)
    with c:
        csrf = token(c)
        # code and traceback pasted together into the code field, as a browser without JavaScript sends it
        r = c.post("/playground", data={"csrf": csrf, "code": AVERAGE + "\n" + AVERAGE_TB, "error": ""},
                   follow_redirects=False)
        assert r.status_code == 303
        sid = r.headers["location"].removeprefix("/s/")
        first = c.get(f"/s/{sid}")
        assert first.status_code == 200  # the permalink exists at once
        session = wait_until_done(store, sid)
        # a single file has no tests: its fix passed the reproduction only
        assert session.status is SessionStatus.PLAUSIBLE, session.message
        assert session.search.stop.startswith("plausible fix found")
        assert session.unlisted and session.trigger == "playground" and session.analysis.exception.type == "ZeroDivisionError"
        page = c.get(f"/s/{sid}")
        assert "a plausible fix, not verified" in page.text.lower() and c.get(f"/s/{sid}/proof.txt").status_code == 200
        assert "verified fix" not in page.text.lower().replace("plausible fix, not verified", "")
    assert store.history(HistoryQuery(repos=("octo/stats",), login="someone")) == []  # unlisted
    assert not (tmp_path / "playground" / sid).exists()  # the snippet's folder is removed after the run


@pytest.mark.sandbox
def test_a_report_with_its_command_line_reproduces_with_its_arguments(tmp_path):
    """A tutorial's real report (pythonmorsels.com, "reading tracebacks"): ``$ python3 count.py 5``
    above the traceback; without the 5 the program fails differently (``sys.argv[1]``)."""
    c, store = make(tmp_path)
    pasted = (EXAMPLES / "snippets" / "count.py").read_text() + "\n" + (EXAMPLES / "snippets" / "count.log").read_text()
    with c:
        r = c.post("/playground", data={"csrf": token(c), "code": pasted, "error": ""}, follow_redirects=False)
        session = wait_until_done(store, r.headers["location"].removeprefix("/s/"))
    assert session.status is SessionStatus.PLAUSIBLE, session.message
    assert session.reproduction.argv == ["5"] and "int(number)" in session.winning_candidate().diff


def test_csrf_empty_input_and_the_rate_limit(tmp_path):
    calls = []

    async def run(req):
        calls.append(req)
        raise RuntimeError("the sandbox is down")

    c, store = make(tmp_path, per_hour=1, run=run)
    with c:
        assert c.post("/playground", data={"code": "x = 1\n"}).status_code == 403  # no token: not from our page
        csrf = token(c)
        empty = c.post("/playground", data={"csrf": csrf, "code": "  ", "error": ""})
        assert empty.status_code == 400 and "Paste the code" in empty.text
        ok = c.post("/playground", data={"csrf": csrf, "code": "print(1/0)\n"}, follow_redirects=False)
        assert ok.status_code == 303
        sid = ok.headers["location"].removeprefix("/s/")
        failed = wait_until_done(store, sid, timeout=10)
        assert failed.status is SessionStatus.FAILED and "the sandbox is down" in failed.message
        again = c.post("/playground", data={"csrf": csrf, "code": "print(1/0)\n"})
        assert again.status_code == 429 and "minute" in again.text
    assert len(calls) == 1


def test_checks_are_rate_limited_per_client():
    limit = playground.RateLimit(3, 60)
    assert [limit.take("a", now=t) for t in (0, 1, 2)] == [0, 0, 0]
    assert limit.take("a", now=3) == pytest.approx(57) and limit.take("b", now=3) == 0
    assert limit.take("a", now=60.5) == 0  # the window slid past the first one
    assert playground.RateLimit(0, 60).take("a") == 60  # none allowed at all


@pytest.mark.sandbox
def test_one_clients_slow_snippets_do_not_hold_up_anothers(tmp_path):
    """The attack: one client sends slow snippets (each run sleeps), another a trivial one. With
    one global semaphore the trivial one waited for the slow ones (56 s measured); now one run
    per client at a time, clients in turn, and a client past its share of the queue hears "busy"."""
    services = bootstrap.services(replace(Settings.from_env({}), home=tmp_path))
    web = FastAPI()
    site.mount(web, services.store, secret=SECRET, oauth=None,
               playground=site.PlaygroundSetup(home=tmp_path, libraries=bootstrap.sandbox_libraries(None),
                                               verify=lambda req: verify(req, services)))
    slow = "import time\n\n\ndef total(xs):\n    time.sleep(6)\n    return sum(xs) / len(xs)\n\n\nprint(total([]))\n"

    async def two_clients(scope, receive, send):  # one server (one event loop), two addresses
        if scope["type"] == "http":
            who = dict(scope["headers"]).get(b"x-test-peer", b"203.0.113.7").decode()
            scope = {**scope, "client": (who, 40000)}
        await web(scope, receive, send)

    with TestClient(two_clients) as c:
        mallory, alice = c, _Peer(c, "198.51.100.2")
        csrf = token(mallory)
        hogs = [mallory.post("/playground", data={"csrf": csrf, "code": slow, "error": ""}, follow_redirects=False)
                for _ in range(3)]
        assert [h.status_code for h in hogs] == [303, 303, 303]  # one runs, two wait
        busy = mallory.post("/playground", data={"csrf": csrf, "code": slow, "error": ""})
        assert busy.status_code == 503 and "waiting" in busy.text and busy.headers["retry-after"] == "60"
        t0 = time.monotonic()
        mine = alice.post("/playground", data={"csrf": token(alice), "code": AVERAGE, "error": AVERAGE_TB},
                          follow_redirects=False)
        done = wait_until_done(services.store, mine.headers["location"].removeprefix("/s/"), timeout=60)
        took = time.monotonic() - t0
        assert done.status is SessionStatus.PLAUSIBLE, done.message
        still = [services.store.get_session(h.headers["location"].removeprefix("/s/")).status for h in hogs]
        # the other client was served while the first of the slow ones still ran, and before the rest began
        assert still.count(SessionStatus.RUNNING) == 3, still
        assert took < 20, f"the trivial snippet took {took:.1f} s"


class _Peer:
    """The same test client, seen by the server as another address."""

    def __init__(self, client: TestClient, address: str) -> None:
        self.client, self.headers = client, {"x-test-peer": address}

    def get(self, url, **kw):
        return self.client.get(url, headers=self.headers, **kw)

    def post(self, url, **kw):
        return self.client.post(url, headers=self.headers, **kw)


def test_smart_paste_reads_ipython_and_repl_sessions():
    """A whole session pasted: its statements are the code (the echoed values are not), its
    traceback (IPython's too, whose frame lines start at the margin) is the error."""
    ipython = ("In [1]: d = {'a': 1}\n\nIn [2]: d['b']\n" + "-" * 75 + "\n"
               "KeyError                                  Traceback (most recent call last)\n"
               "Cell In[2], line 1\n----> 1 d['b']\n\nKeyError: 'b'\n")
    code, tb = split_paste(ipython)
    assert code == "d = {'a': 1}\nd['b']\n"
    assert tb.startswith("-" * 75 + "\nKeyError  ") and "Cell In[2], line 1\n----> 1 d['b']" in tb and tb.endswith("KeyError: 'b'\n")
    repl = (">>> import toml\n>>> t = toml.dumps({'d': 1})\n>>> t\n'd = 1\\n'\n>>> toml.loads(t + '=')\n"
            "Traceback (most recent call last):\n  File \"<stdin>\", line 1, in <module>\n"
            "toml.decoder.TomlDecodeError: invalid\n>>> \n")
    code, tb = split_paste(repl)
    assert code == "import toml\nt = toml.dumps({'d': 1})\nt\ntoml.loads(t + '=')\n"  # no echoed value
    assert tb.endswith("toml.decoder.TomlDecodeError: invalid\n")
