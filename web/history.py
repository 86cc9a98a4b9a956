"""``/history`` ("My snippets"): the sessions a signed-in user asked for and those of the
repositories their GitHub account reaches through the App's installations, newest first;
searchable by text and error type, filterable by repository, status and dates, paged by cursor
(no OFFSET: page 400 costs what page 1 does). A GET form: it works without JavaScript and every
result is a link that can be shared with the filters in it."""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pve.models import SessionStatus
from store.base import HistoryQuery, SessionLog
from web.access import Viewer
from web.shell import page

PAGE = 25
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
COMMON_ERRORS = ("AssertionError", "AttributeError", "ImportError", "IndexError", "KeyError", "ModuleNotFoundError",
                 "NameError", "RecursionError", "SyntaxError", "TypeError", "UnboundLocalError", "ValueError",
                 "ZeroDivisionError")


def router(store: SessionLog, viewer: Viewer) -> APIRouter:
    r = APIRouter()

    @r.get("/history")
    def history(request: Request) -> Response:
        answer = viewer.signed_in_asking(request, "Your history", lambda reader, user: reader.repositories(user),
                                         "which repositories your account reaches before it lists their sessions")
        if isinstance(answer, Response):
            return answer
        user, repos = answer
        p = request.query_params
        since, until = (p.get("since") or "").strip(), (p.get("until") or "").strip()
        query = HistoryQuery(
            repos=repos, login=user.login, text=(p.get("q") or "").strip()[:200],
            error_type=(p.get("type") or "").strip()[:100], repo=(p.get("repo") or "").strip()[:200],
            status=_status(p.get("status")),
            since=since if _DATE.match(since) else "", until=_next_day(until) if _DATE.match(until) else "",
            before=(p.get("before") or "")[:120], limit=PAGE + 1)
        rows = store.history(query)
        more, rows = len(rows) > PAGE, rows[:PAGE]
        body = [f"<h1>History</h1><p>Sessions you asked for, and those of the {len(repos)} "
                f"repositor{'y' if len(repos) == 1 else 'ies'} your GitHub account <strong>{html.escape(user.login)}"
                "</strong> reaches through PVE's installations. Newest first.</p>",
                _form(query, repos, since, until)]
        if rows:
            body.append(_table(rows))
        else:
            body.append("<p class=\"empty\">No session matches." + (
                " <a href=\"/history\">Clear the filters</a>.</p>" if request.url.query else "</p>"))
        nav = []
        if query.before:
            nav.append(f"<a href=\"/history?{_qs(p, before=None)}\">Newest</a>")
        if more:
            nav.append(f"<a rel=\"next\" href=\"/history?{_qs(p, before=rows[-1].cursor)}\">Older sessions</a>")
        if nav:
            body.append(f"<nav class=\"pager\" aria-label=\"Pages\">{' '.join(nav)}</nav>")
        return page("History", "".join(body))

    return r


def _status(value: str | None) -> str:
    return value if value in {s.value for s in SessionStatus} else ""


def _next_day(day: str) -> str:
    from datetime import date, timedelta

    try:
        return (date.fromisoformat(day) + timedelta(days=1)).isoformat()  # "until" includes its day
    except ValueError:
        return ""


def _qs(params, **changes: str | None) -> str:
    out = {k: v for k, v in params.items() if v}
    for k, v in changes.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return html.escape(urlencode(out))


def _form(q: HistoryQuery, repos: tuple[str, ...], since: str, until: str) -> str:
    def option(value: str, label: str, chosen: str) -> str:
        sel = " selected" if value.lower() == chosen.lower() else ""
        return f"<option value=\"{html.escape(value)}\"{sel}>{html.escape(label)}</option>"

    repo_options = option("", "every repository", q.repo) + "".join(option(r, r, q.repo) for r in repos)
    status_options = option("", "any status", q.status) + "".join(option(s.value, s.value, q.status)
                                                                  for s in SessionStatus)
    errors = "".join(f"<option value=\"{e}\"></option>" for e in COMMON_ERRORS)
    v = html.escape
    return ("<form class=\"filters\" method=\"get\" action=\"/history\" role=\"search\">"
            f"<label>Search <input type=\"search\" name=\"q\" value=\"{v(q.text)}\" "
            "placeholder=\"text in the error or repository\"></label>"
            f"<label>Error type <input name=\"type\" list=\"error-types\" value=\"{v(q.error_type)}\" "
            f"placeholder=\"e.g. KeyError\"></label><datalist id=\"error-types\">{errors}</datalist>"
            f"<label>Repository <select name=\"repo\">{repo_options}</select></label>"
            f"<label>Status <select name=\"status\">{status_options}</select></label>"
            f"<label>From <input type=\"date\" name=\"since\" value=\"{v(since)}\"></label>"
            f"<label>To <input type=\"date\" name=\"until\" value=\"{v(until)}\"></label>"
            "<button type=\"submit\">Search</button></form>")


def _table(rows) -> str:
    out = []
    for row in rows:
        css = html.escape(row.status.split()[0].strip(",."))
        where = html.escape(row.repo) if row.repo else ("playground" if row.unlisted else "local")
        out.append(f"<tr><td><time datetime=\"{html.escape(row.created_at)}\">{html.escape(row.created_at[:16].replace('T', ' '))}"
                   f"</time></td><td><span class=\"status {css}\">{html.escape(row.status)}</span></td>"
                   f"<td>{where}</td><td><a href=\"/s/{row.id}\">{html.escape(row.headline or row.error_type or 'session')}"
                   f"</a></td><td>{html.escape(row.requested_by or '')}</td></tr>")
    return ("<table class=\"history\"><caption class=\"visually-hidden\">Sessions, newest first</caption><thead><tr>"
            "<th scope=\"col\">When (UTC)</th><th scope=\"col\">Status</th><th scope=\"col\">Where</th>"
            "<th scope=\"col\">Error</th><th scope=\"col\">Asked by</th></tr></thead>"
            f"<tbody>{''.join(out)}</tbody></table>")
