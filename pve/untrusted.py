"""Reading what strangers send, before anything is known about them: a body capped while it
streams (a chunked body has no length to refuse up front, and three 700 MB posts once took the
server to 3.6 GB), and JSON whose nesting cannot crash the reader (100,000 brackets raise
RecursionError, not a decoding error)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable
from typing import Any


class TooLarge(Exception):
    """The body went past its cap; what was read is dropped."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"the body is larger than {cap} bytes")
        self.cap = cap


async def read_capped(chunks: AsyncIterable[bytes], cap: int, declared: str | None = None) -> bytes:
    """The body, read chunk by chunk and refused (``TooLarge``) as soon as it passes ``cap``;
    ``declared``: the Content-Length header, refused before reading a byte when it says more."""
    if declared and declared.strip().isdigit() and int(declared) > cap:
        raise TooLarge(cap)
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > cap:
            raise TooLarge(cap)
    return bytes(body)


def loads_json(text: str | bytes) -> Any:
    """``json.loads``, with nesting too deep for the parser's stack reported like any malformed
    document (``json.JSONDecodeError``) instead of escaping as RecursionError."""
    try:
        return json.loads(text)
    except RecursionError:
        doc = text if isinstance(text, str) else text.decode("utf-8", "replace")
        raise json.JSONDecodeError("nested too deeply", doc[:64], 0) from None
