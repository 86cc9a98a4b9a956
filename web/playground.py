"""``/playground``: paste code and (optionally) its traceback, verify, land on the permalink.

- The page is a plain form (works without JavaScript); ``static/playground.js`` puts Monaco (npm
  ``monaco-editor``, served from this app under ``/static/monaco/``, never from a CDN) over the
  code field, moves a pasted traceback into the error field (smart paste), and asks
  ``/playground/check`` as you type for lint marks (pyflakes, on the server: the code is parsed,
  never run) and for the library badges (which imports the sandbox provides, at what version).
- A verification is the snippet mode of ``pve verify``: the code is the file, the traceback (if
  any) is the error log; it runs in the background and the browser is sent to its permalink at
  once, where the console streams. Playground sessions are unlisted: only their link reaches
  them, and the signed-in author's history lists them.
- Rate limits per client (address, or signed-in login): verifications per hour and checks per
  minute, in this process's memory (one ``pve serve``; the AWS stack would keep them in DynamoDB).
"""

from __future__ import annotations

import ast
import asyncio
import html
import re
import shutil
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from pve.errors import BadInput
from pve.models import Session, SessionStatus, VerifyRequest, new_session_id
from pve.untrusted import TooLarge, loads_json, read_capped
from store.base import SessionLog
from web.access import Viewer
from web.auth import FORM_COOKIE, FORM_MAX_AGE, Signer, form_token, valid_form_token
from web.shell import MONACO, error_page, page

MAX_CODE = 64 * 1024  # a snippet, not a project
MAX_ERROR = 64 * 1024
# CPython's header, and IPython's ("AttributeError      Traceback (most recent call last)")
TRACEBACK = re.compile(r"^[ \t]*(?:[A-Za-z_][\w.]*[ \t]+)?Traceback \(most recent call last\):?[ \t]*$", re.M)
# IPython's frame lines start at the margin: they belong to the traceback, not to the code after it
IPYTHON_LINE = re.compile(r"^(?:Cell In ?\[|File ~|File \S+:\d+, in |<ipython-input-|-*-> ?\d+|\S+\.pyw? in \S|-{10,}$)")
PROMPT = re.compile(r"^(?:>>>|\.\.\.|In \[\d*\]:|\s+\.\.\.:)(?: |$)")  # python's and IPython's
# the shell command a report shows above its traceback: "$ python3 count.py 5", "PS C:\> py x.py"
COMMAND = re.compile(r"^[ \t]*(?:\$|%|>|PS [^>\n]*>|[\w@.~:/-]+[$#%>])[ \t]*(?:python3?(?:\.\d+)?|py)[ \t]+"
                     r"(?:-u[ \t]+)?(\S+\.py)\b([^\n]*)$", re.M)
EXCEPTION_LINE = re.compile(r"^[ \t]*[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning|Iteration)\b.*$|"
                            r"^[ \t]*[A-Za-z_][\w.]*:\s.*$")
Verify = Callable[[VerifyRequest], Awaitable[Session]]
# module names -> what a sandboxed snippet finds for each: {module, available, source, version}
Libraries = Callable[[list[str]], list[dict[str, Any]]]


class RateLimit:
    """At most ``count`` events per ``window_s`` per key (a sliding window)."""

    def __init__(self, count: int, window_s: float) -> None:
        self.count, self.window_s = count, window_s
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """0 when allowed (and counted); else the seconds until it would be."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._seen) > 50_000:  # bounded: forget idle clients
                self._seen = {k: q for k, q in self._seen.items() if q and q[-1] > now - self.window_s}
            q = self._seen.setdefault(key, deque())
            while q and q[0] <= now - self.window_s:
                q.popleft()
            if len(q) >= self.count:
                return q[0] + self.window_s - now if q else self.window_s
            q.append(now)
            return 0.0


def split_paste(text: str) -> tuple[str, str]:
    """(code, traceback): a paste that holds a traceback, split at it. The traceback runs from
    its header to its exception line (chained ones included); what follows it is code again."""
    m = TRACEBACK.search(text)
    if m is None:
        return text, ""
    start = m.start()
    before = text[:start].rstrip("\n").rsplit("\n", 1)
    if COMMAND.fullmatch(before[-1]) or re.fullmatch(r"-{10,}", before[-1].strip()):
        # the command that ran it (or IPython's rule above its header) belongs with its traceback
        start = len(before[0]) + 1 if len(before) == 2 else 0
    lines = text[m.start():].splitlines(keepends=True)
    end = len(lines)
    for n, line in enumerate(lines[1:], start=1):
        if line.strip() and not line[:1].isspace() and not IPYTHON_LINE.match(line) and \
                not TRACEBACK.match(line.rstrip("\n")) and not line.startswith(("During handling", "The above exception")):
            if EXCEPTION_LINE.match(line):
                end = n + 1  # this exception line ends it, unless a chained traceback follows
                continue
            end = n if end == len(lines) else end
            break
    tb = text[start:m.start()] + "".join(lines[:end])
    return transcript_code((text[:start] + "".join(lines[end:])).strip("\n")) + "\n", tb.strip("\n") + "\n"


def transcript_code(code: str) -> str:
    """A pasted ``>>>`` session as the code it ran: the prompts' statements; the echoed values
    and printed output are not code. Anything else is returned as it is."""
    lines = code.split("\n")
    if not any(re.match(r"^(?:>>>|In \[\d*\]:) ", x) for x in lines):
        return code
    return "\n".join(x[m.end():] for x in lines if (m := PROMPT.match(x))).strip("\n")


def command_line(traceback: str, snippet: str) -> str | None:
    """``python <snippet> ARGS`` when the report shows the command that ran this file with
    arguments (the failure may need them: ``sys.argv[1]``); the arguments are the program's own,
    passed to it inside the sandbox like any other input."""
    for m in COMMAND.finditer(traceback):
        if re.split(r"[/\\]", m.group(1))[-1] == snippet and m.group(2).strip():
            return f"python {snippet} {m.group(2).strip()}"
    return None


def snippet_name(traceback: str) -> str:
    """The file name the traceback gives the code (its first frame outside installed libraries),
    so its frames point into the snippet; ``snippet.py`` when it names none (a notebook, stdin)."""
    for path in re.findall(r'^\s*File "([^"]+)", line \d+', traceback, re.M):
        if re.search(r"[/\\](site-packages|dist-packages|lib[/\\]python3[^/\\]*)[/\\]", path):
            continue
        name = re.split(r"[/\\]", path)[-1]
        if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,80}\.py", name):
            return name
    return "snippet.py"


def lint(code: str) -> list[dict[str, Any]]:
    """pyflakes' findings (1-based line, 0-based column), a syntax error included. Parsing only:
    nothing in the code is executed."""
    from pyflakes import api, reporter

    marks: list[dict[str, Any]] = []

    class Collect(reporter.Reporter):
        def __init__(self) -> None:
            pass

        def unexpectedError(self, filename: str, message: str) -> None:  # pyflakes' names
            marks.append({"line": 1, "col": 0, "message": str(message), "severity": "error"})

        def syntaxError(self, filename: str, msg: str, lineno: int, offset: int | None, text: str | None) -> None:
            marks.append({"line": max(1, lineno or 1), "col": max(0, (offset or 1) - 1), "message": f"SyntaxError: {msg}",
                          "severity": "error"})

        def flake(self, message: Any) -> None:
            marks.append({"line": message.lineno, "col": message.col, "message": message.message % message.message_args,
                          "severity": "warning"})

    try:
        api.check(code, "snippet.py", Collect())
    except (RecursionError, MemoryError, ValueError):  # pathological nesting, null bytes
        marks.append({"line": 1, "col": 0, "message": "PVE could not parse this code", "severity": "error"})
    return sorted(marks, key=lambda m: (m["line"], m["col"]))


def imported_modules(code: str) -> list[str]:
    """Top-level modules the code imports (absolute imports), in order of appearance."""
    names: list[str] = []
    try:
        nodes = list(ast.walk(ast.parse(code)))
        for node in nodes:
            if isinstance(node, ast.Import):
                names += [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.append(node.module.split(".")[0])
    except (SyntaxError, RecursionError, MemoryError, ValueError):  # half-typed code: read the import lines
        names = re.findall(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", code, re.M)
    return list(dict.fromkeys(names))[:50]


class FairSlots:
    """The playground's sandboxes shared fairly: at most ``per_client`` runs of one client at a
    time, clients served in turn, and a bounded queue (a full one is a clear "busy", not a wait
    with no end). One global semaphore let two slow snippets of one client delay another
    client's trivial one to 56 s."""

    def __init__(self, slots: int, *, per_client: int = 1, waiting: int = 8, waiting_per_client: int = 2) -> None:
        self.free = slots
        self.per_client, self.waiting, self.waiting_per_client = per_client, waiting, waiting_per_client
        self.running: Counter[str] = Counter()
        self.queues: dict[str, deque[asyncio.Future[None]]] = {}  # insertion order: whose turn is next

    def busy(self, client: str) -> str | None:
        """Why a new run of ``client`` cannot even wait now (None: it can)."""
        mine = len(self.queues.get(client, ()))
        if mine >= self.waiting_per_client:
            return f"{mine} of your snippets are already waiting"
        if sum(len(q) for q in self.queues.values()) >= self.waiting:
            return "the playground's queue is full"
        return None

    async def __call__(self, client: str) -> None:
        """Wait for this client's turn and a free sandbox; ``release(client)`` after the run."""
        future = asyncio.get_running_loop().create_future()
        self.queues.setdefault(client, deque()).append(future)
        self._dispatch()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release(client)  # it had its turn: give it back
            else:
                self._forget(client, future)
            raise

    def release(self, client: str) -> None:
        self.running[client] -= 1
        if self.running[client] <= 0:
            del self.running[client]
        self.free += 1
        self._dispatch()

    def _dispatch(self) -> None:
        while self.free > 0:
            client = next((c for c in self.queues if self.running[c] < self.per_client), None)
            if client is None:
                return
            queue = self.queues.pop(client)  # served: to the back of the line
            future = queue.popleft()
            if queue:
                self.queues[client] = queue
            if future.cancelled():
                continue
            self.free -= 1
            self.running[client] += 1
            future.set_result(None)

    def _forget(self, client: str, future: asyncio.Future[None]) -> None:
        queue = self.queues.get(client)
        if queue is not None and future in queue:
            queue.remove(future)
            if not queue:
                del self.queues[client]


@dataclass(frozen=True)
class PlaygroundSetup:
    """What the playground runs snippets with: ``home`` holds them while they run; ``verify``
    runs one (None: the playground says the sandbox is unavailable); ``libraries`` tells what the
    sandbox provides, for the badges; ``per_hour`` verifications per client at most."""

    home: Path
    verify: Verify | None = None
    libraries: Libraries | None = None
    per_hour: int = 20


def router(store: SessionLog, viewer: Viewer, setup: PlaygroundSetup, *, checks_per_minute: int = 120,
           concurrent: int = 2) -> APIRouter:
    routes = _Playground(store, viewer, setup, checks_per_minute, concurrent)
    r = APIRouter()
    r.add_api_route("/playground", routes.form, methods=["GET"])
    r.add_api_route("/playground/check", routes.check, methods=["POST"])
    r.add_api_route("/playground", routes.submit, methods=["POST"])
    return r


class _Playground:
    """The playground's routes over what they share: the rate limits, the fair sandbox slots and
    the verifications running in the background."""

    def __init__(self, store: SessionLog, viewer: Viewer, setup: PlaygroundSetup, checks_per_minute: int,
                 concurrent: int) -> None:
        self.store, self.viewer, self.setup = store, viewer, setup
        self.verifications, self.checks = RateLimit(setup.per_hour, 3600), RateLimit(checks_per_minute, 60)
        self.running: set[asyncio.Task[Any]] = set()
        self.slots = FairSlots(concurrent)

    def client(self, request: Request) -> str:
        user = self.viewer.user(request)
        return f"user:{user.login.lower()}" if user else f"addr:{request.client.host if request.client else '?'}"

    def form(self, request: Request) -> Response:
        return _page(request, self.viewer.signer, "", "", None)

    async def check(self, request: Request) -> Response:
        wait = self.checks.take(self.client(request))
        if wait:
            return JSONResponse({"error": "too many checks; slow down"}, status_code=429,
                                headers={"Retry-After": str(int(wait) + 1)})
        try:  # JSON escapes a byte in at most 6 (\\uXXXX): more than that cannot be a snippet
            body = loads_json(await read_capped(request.stream(), 6 * MAX_CODE + 1024, request.headers.get("content-length")))
            code = body.get("code") if isinstance(body, dict) else None
        except TooLarge:
            return JSONResponse({"error": f"send {{\"code\": \"...\"}} of at most {MAX_CODE // 1024} KB"}, status_code=413)
        except ValueError:
            code = None
        if not isinstance(code, str) or len(code.encode()) > MAX_CODE:
            return JSONResponse({"error": f"send {{\"code\": \"...\"}} of at most {MAX_CODE // 1024} KB"}, status_code=400)
        marks = await asyncio.to_thread(lint, code)
        modules = imported_modules(code)
        libraries = self.setup.libraries
        found = libraries(modules) if libraries else [{"module": m, "available": None, "source": "", "version": ""}
                                                      for m in modules]
        return JSONResponse({"marks": marks, "libraries": found})

    async def submit(self, request: Request) -> Response:
        form = await _form(request)
        if form is None:
            return error_page(413, "That is too much to verify here",
                              f"The playground takes up to {MAX_CODE // 1024} KB of code and of traceback. For a "
                              "whole project, use <code>pve verify</code> or the GitHub App.")
        code, error = form.get("code", ""), form.get("error", "")
        if not valid_form_token(request, self.viewer.signer, str(form.get("csrf") or "")):
            return error_page(403, "That did not come from this page",
                              "The form had expired or came from another site. <a href=\"/playground\">Open the "
                              "playground again</a>; what you typed was not sent anywhere.")
        if not error.strip() and TRACEBACK.search(code):  # pasted together without JavaScript
            code, error = split_paste(code)
        problem = None
        if not code.strip():
            problem = "Paste the code to verify."
        elif len(code.encode()) > MAX_CODE or len(error.encode()) > MAX_ERROR:
            problem = f"The playground takes up to {MAX_CODE // 1024} KB of code and of traceback."
        elif "\x00" in code or "\x00" in error:
            problem = "That looks like binary data, not Python source."
        if problem:
            return _page(request, self.viewer.signer, code, error, problem, status=400)
        return self._refusal(request) or self._start(request, code, error)

    def _refusal(self, request: Request) -> Response | None:
        """Why no verification can start now (no sandbox, the queue full, the hour's limit
        reached), or None."""
        per_hour = self.setup.per_hour
        if self.setup.verify is None or per_hour <= 0:
            return error_page(503, "The sandbox is not available",
                              "This PVE cannot run verifications from the web right now. Try again later, or "
                              "run <code>pve verify snippet.py</code> on your own machine.")
        full = self.slots.busy(self.client(request))
        if full:
            return error_page(503, "The playground is busy",
                              f"It is running what others sent and {full}. Try again in a minute; nothing was "
                              "sent anywhere.", headers={"Retry-After": "60"})
        wait = self.verifications.take(self.client(request))
        if wait:
            return error_page(429, "Please wait a little",
                              f"You have verified {per_hour} snippets in the last hour, the playground's limit. "
                              f"The next one can run in about {int(wait // 60) + 1} minute(s). Sessions you started "
                              "keep running; their links stay valid.")
        return None

    def _start(self, request: Request, code: str, error: str) -> Response:
        """Store the session, start its verification in the background, send the browser to it."""
        assert self.setup.verify is not None  # _refusal said so
        user = self.viewer.user(request)
        session_id = new_session_id()
        folder = self.setup.home / "playground" / session_id
        folder.mkdir(parents=True, mode=0o700)
        snippet = folder / snippet_name(error)
        snippet.write_text(code, encoding="utf-8")
        req = VerifyRequest(path=snippet, error_log=error.encode("utf-8") if error.strip() else None,
                            cmd=command_line(error, snippet.name),
                            trigger="playground", session_id=session_id, unlisted=True, cache=False,
                            requested_by=user.login if user else None)
        # Stored at once, so the permalink the browser is sent to exists before the run begins.
        self.store.put_session(Session(id=session_id, created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                                       trigger="playground", project=str(req.path), snippet=True, unlisted=True,
                                       requested_by=req.requested_by))
        task = asyncio.get_running_loop().create_task(
            _run(self.setup.verify, req, self.store, self.slots, self.client(request), folder))
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        return RedirectResponse(f"/s/{session_id}", status_code=303)


async def _form(request: Request) -> dict[str, str] | None:
    """The url-encoded form, read up to what the limits can need (None beyond that)."""
    cap = 3 * (MAX_CODE + MAX_ERROR) + 4096  # every byte percent-encoded, plus the token
    try:
        body = await read_capped(request.stream(), cap, request.headers.get("content-length"))
    except TooLarge:
        return None
    fields = parse_qs(body.decode("ascii", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


async def _run(verify: Verify, req: VerifyRequest, store: SessionLog, slots: FairSlots, client: str, folder: Path) -> None:
    """One playground verification; whatever happens, its session ends with words for a person."""
    try:
        await slots(client)
        try:
            await verify(req)
        finally:
            slots.release(client)
    except BadInput as exc:
        _failed(store, req, f"could not verify this input: {exc}")
    except Exception as exc:  # the sandbox down, or a bug: the page must not spin forever
        _failed(store, req, f"PVE could not run this verification ({type(exc).__name__}: {exc}); try again later")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _failed(store: SessionLog, req: VerifyRequest, message: str) -> None:
    assert req.session_id is not None
    session = store.get_session(req.session_id)
    if session is not None and session.status is SessionStatus.RUNNING:
        session.status, session.message = SessionStatus.FAILED, message
        store.put_session(session)


def _page(request: Request, signer: Signer, code: str, error: str, problem: str | None, *,
          status: int = 200) -> Response:
    token, cookie = form_token(request, signer)
    worker = next(MONACO.glob("vs/assets/editor.worker-*.js"), None)  # its name carries a content hash
    body = (
        "<h1>Playground</h1><p>Paste Python code and, if you have it, the traceback it gave. PVE reproduces the "
        "failure in a sandbox, tries candidate fixes, and shows only a fix that ran. Playground sessions are "
        "unlisted: only their link (and your history, when signed in) leads to them.</p>"
        + (f"<p class=\"problem\" role=\"alert\">{html.escape(problem)}</p>" if problem else "")
        + "<form id=\"playground\" method=\"post\" action=\"/playground\""
        + (f" data-worker=\"/static/monaco/{worker.relative_to(MONACO).as_posix()}\"" if worker else "") + ">"
        f"<input type=\"hidden\" name=\"csrf\" value=\"{token}\">"
        "<label for=\"code\">Code</label>"
        "<div id=\"editor\" class=\"editor\" hidden></div>"
        f"<textarea id=\"code\" name=\"code\" rows=\"18\" spellcheck=\"false\" required "
        f"aria-describedby=\"lint-title libraries\">{html.escape(code)}</textarea>"
        "<h2 id=\"lint-title\" class=\"small\">Before you verify</h2>"
        "<div id=\"libraries\" class=\"badges\" aria-live=\"polite\" aria-label=\"Libraries\"></div>"
        "<ul id=\"lint\" class=\"lint\" aria-live=\"polite\" aria-label=\"Lint findings\"></ul>"
        "<label for=\"error\">Traceback <span class=\"hint\">(optional: without one, PVE runs the code and "
        "verifies the failure it gives; a traceback pasted into the code moves here by itself)</span></label>"
        f"<textarea id=\"error\" name=\"error\" rows=\"8\" spellcheck=\"false\">{html.escape(error)}</textarea>"
        "<p><button type=\"submit\">Verify</button></p></form>")
    scripts = (("monaco/vs/loader.js",) if worker else ()) + ("playground.js",)
    response = page("Playground", body, status=status, scripts=scripts, csp=PLAYGROUND_CSP)
    if cookie:
        response.set_cookie(FORM_COOKIE, cookie, max_age=FORM_MAX_AGE, httponly=True, samesite="strict", path="/")
    return response


# Monaco adds <style> elements as it lays the editor out and has no CSP nonce for them, embeds its
# icon font as a data: URL, and starts its helper worker from a blob: URL that imports our file. So
# this one page allows inline styles, data: fonts and blob: workers (a blob: URL can only be made
# by a script already running here); scripts stay 'self' only, as everywhere.
PLAYGROUND_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; "
                  "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; base-uri 'none'; "
                  "form-action 'self'; frame-ancestors 'none'")
