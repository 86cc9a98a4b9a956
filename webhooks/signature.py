"""GitHub's webhook signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>``.

Checked on the raw bytes, before anything is parsed, in constant time. Only SHA-256 is
accepted: the legacy SHA-1 header is ignored (githubkit's helper silently falls back to it).
"""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())
