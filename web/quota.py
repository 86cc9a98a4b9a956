"""``/quota``: for each installation the signed-in user reaches, the day's verifications used and
left, and when they renew: the numbers the bot's replies quote (``Quotas.quota``, one budget per
installation per UTC day)."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from store.base import Quotas
from web.access import Viewer
from web.shell import page


def renews_in(now: datetime) -> tuple[datetime, str]:
    """The next midnight UTC, and how long until then in words."""
    reset = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    minutes = int((reset - now).total_seconds() // 60)
    return reset, f"{minutes // 60} h {minutes % 60:02d} min"


def router(store: Quotas, viewer: Viewer, daily_credits: int) -> APIRouter:
    r = APIRouter()

    @r.get("/quota")
    def quota(request: Request) -> Response:
        answer = viewer.signed_in_asking(request, "The quota page", lambda reader, user: reader.installations(user),
                                         "which installations your account reaches")
        if isinstance(answer, Response):
            return answer
        user, installations = answer
        reset, left = renews_in(datetime.now(UTC))
        parts = [f"<h1>Quota</h1><p>Each installation of PVE may publish a number of verified fixes per day. "
                 f"The count renews at <time datetime=\"{reset.isoformat()}\">00:00 UTC</time> (in {left}).</p>"]
        if not installations:
            parts.append(f"<p class=\"empty\">Your GitHub account <strong>{html.escape(user.login)}</strong> reaches "
                         "no installation of PVE.</p>")
        for inst in installations:
            q = store.quota(inst.id, daily_credits)
            name = html.escape(inst.account)
            state = "exhausted" if q.remaining == 0 else "low" if q.remaining <= max(1, q.limit // 10) else "ok"
            parts.append(
                f"<section class=\"quota {state}\" aria-labelledby=\"q-{inst.id}\"><h2 id=\"q-{inst.id}\">{name}</h2>"
                f"<p><meter id=\"m-{inst.id}\" min=\"0\" max=\"{q.limit}\" value=\"{q.used}\" "
                f"low=\"{int(q.limit * 0.75)}\" high=\"{int(q.limit * 0.9)}\" optimum=\"0\" "
                f"aria-label=\"{name}: verifications used today\">{q.used} of {q.limit}</meter></p>"
                f"<p><strong>{q.used}</strong> used, <strong>{q.remaining}</strong> of {q.limit} left today"
                + (". Verifications still run; fixes are published again after the renewal." if q.remaining == 0
                   else ".") + "</p></section>")
        return page("Quota", "".join(parts))

    return r
