"""The sandbox function's handler, on its own: its image holds ``pve``, ``sandbox`` and this
file, not the app (no GitHub client, no store, no AWS SDK use, nothing a candidate could borrow).
"""

from __future__ import annotations

from typing import Any

from sandbox.function import handle, lambda_backend


def handler(event: dict[str, Any], context: Any, backend: Any = None) -> dict[str, Any]:
    return handle(event, backend or lambda_backend())
