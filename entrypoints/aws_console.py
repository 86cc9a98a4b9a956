"""The console function's handler: the live console's WebSocket routes (``$connect``,
``$disconnect``, ``$default``; ``web/live.py``): a page's reader admitted by its ticket, then the
lines they missed. Its composition (``aws_web.live_console``) is the store, the ticket signer and
the broadcast, nothing of the engine."""

from __future__ import annotations

from typing import Any

from entrypoints import aws_web
from pve import config

_console: Any = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The live console's WebSocket routes (API Gateway, ``ConsoleApi`` in the template)."""
    global _console
    from web import live

    if _console is None:
        _console = aws_web.live_console(config.load())
    store, signer, broadcast = _console
    return live.handle(event, store, signer, broadcast)
