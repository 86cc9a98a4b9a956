"""Every page's frame: the document, the stylesheet, the security headers, and the error page.

Server-rendered HTML that works without JavaScript; the few scripts (the live console, the
copy button) are files of our own under ``/static``, allowed by a strict Content-Security-Policy
(nothing inline, nothing from elsewhere)."""

from __future__ import annotations

import html
import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

STATIC = Path(__file__).parent / "static"
ASSETS = {"pve.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8",
          "playground.js": "text/javascript; charset=utf-8"}
# The playground's editor: npm's monaco-editor, installed by scripts/install.sh and served from
# here (never a CDN). Without it the playground is a plain form.
MONACO = Path(__file__).resolve().parents[1] / "node_modules" / "monaco-editor" / "min"
_MONACO_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".ttf": "font/ttf"}
_MONACO_PATH = re.compile(r"^vs/[A-Za-z0-9_./-]+$")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
                               "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def page(title: str, body: str, *, status: int = 200, scripts: tuple[str, ...] = (), csp: str | None = None) -> HTMLResponse:
    tags = "".join(f'<script src="/static/{s}" defer></script>' for s in scripts)
    doc = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
           f"<title>{html.escape(title)} · PVE</title><link rel=\"stylesheet\" href=\"/static/pve.css\">{tags}</head>"
           "<body><a class=\"skip\" href=\"#main\">Skip to the content</a><header class=\"top\">"
           "<a class=\"brand\" href=\"/\">PVE</a> <span class=\"tagline\">the Truth Engine: no fix is shown that "
           "has not run</span><nav aria-label=\"Site\"><a href=\"/playground\">Playground</a> "
           "<a href=\"/history\">History</a> <a href=\"/quota\">Quota</a> <a href=\"/login\">Account</a></nav></header>"
           f"<main id=\"main\">{body}</main></body></html>")
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": csp} if csp else SECURITY_HEADERS
    return HTMLResponse(doc, status_code=status, headers=headers)


def error_page(status: int, title: str, words: str, *, headers: dict[str, str] | None = None) -> HTMLResponse:
    """An error a person can read: what happened and what to do."""
    response = page(title, f"<h1>{html.escape(title)}</h1><p>{words}</p>", status=status)
    response.headers.update(headers or {})
    return response


def assets() -> APIRouter:
    r = APIRouter()

    @r.get("/static/{name}")
    def asset(name: str) -> Response:
        kind = ASSETS.get(name)
        if kind is None:
            return error_page(404, "Not found", "There is no such file.")
        return Response((STATIC / name).read_bytes(), media_type=kind,
                        headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"})

    @r.get("/static/monaco/{path:path}")
    def monaco(path: str) -> Response:
        kind = _MONACO_TYPES.get(Path(path).suffix)
        target = MONACO / path
        if kind is None or not _MONACO_PATH.match(path) or ".." in path or not target.is_file():
            return error_page(404, "Not found", "There is no such file.")
        return Response(target.read_bytes(), media_type=kind,
                        headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=86400"})

    return r
