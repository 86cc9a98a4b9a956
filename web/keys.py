"""``/.well-known/pve-proof-key``: the public keys this instance signs proofs with, where a reader
finds them without asking (JWK set, each key with its PEM and the window it signed in; ``.pem``:
the current key alone). A rotated key stays listed: what it signed still verifies."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from web.shell import SECURITY_HEADERS

PATH = "/.well-known/pve-proof-key"


def jwk(entry: dict[str, Any]) -> dict[str, Any]:
    """One published key as a JWK (RFC 8037: OKP, Ed25519), with its PEM and validity window."""
    key = serialization.load_pem_public_key(entry["pem"].encode())
    assert isinstance(key, Ed25519PublicKey)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
            "kid": entry["keyid"], "use": "sig", "alg": "EdDSA", "pem": entry["pem"],
            "not_before": entry["not_before"], "not_after": entry["not_after"]}


def router(published: Callable[[], list[dict[str, Any]]]) -> APIRouter:
    r = APIRouter()
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}

    @r.get(PATH)
    def keys() -> Response:
        entries = published()
        return JSONResponse({"keys": [jwk(e) for e in reversed(entries)],  # the current key first
                             "current": entries[-1]["keyid"] if entries else None}, headers=headers)

    @r.get(PATH + ".pem")
    def pem() -> Response:
        entries = published()
        if not entries:
            return PlainTextResponse("this instance has not signed anything yet\n", status_code=404)
        return Response(entries[-1]["pem"], media_type="application/x-pem-file", headers=headers)

    return r
