"""The attacks on the HTTP edge, run for real against ``pve serve`` (uvicorn, the webhook app and
the web view in one process): chunked bodies with no length to refuse up front, to every
endpoint that reads a body before anyone is known, and JSON nested 100,000 deep."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from tests.app_harness import SECRET, app_key, github  # noqa: F401  (fixtures)
from tests.bot.test_serve import free_port, start
from webhooks.signature import sign

pytestmark = pytest.mark.sandbox

ATTACK_MB = 150


def _high_water_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _chunked_flood(port: int, path: str, mb: int, headers: dict[str, str]) -> tuple[int | None, float]:
    """POST ``mb`` MB in 1 MB chunks (Transfer-Encoding: chunked, no Content-Length); the status
    the server answered (None: it closed without one) and the MB it took before it stopped reading."""
    chunk = b"{" * (1 << 20)
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n{head}\r\n".encode())
        try:
            for _ in range(mb):
                s.sendall(b"100000\r\n" + chunk + b"\r\n")
                sent += 1
            s.sendall(b"0\r\n\r\n")
        except OSError:  # the server answered and closed: what we wanted
            pass
        s.settimeout(30)
        try:
            answer = s.recv(4096)
        except OSError:
            answer = b""
    status = int(answer.split()[1]) if answer.startswith(b"HTTP/1.1 ") else None
    return status, sent


def test_bodies_are_capped_while_they_stream_and_deep_json_is_a_400(tmp_path, github, app_key):  # noqa: F811
    port = free_port()
    proc = start(tmp_path / "home", github, app_key[0], port)
    try:
        time.sleep(0.5)
        before = _high_water_mb(proc.pid)
        answers = {}
        for path, headers in (("/webhooks/github", {"X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": "d1",
                                                    "Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00"}),
                              ("/playground/check", {"Content-Type": "application/json"}),
                              ("/logout", {"Content-Type": "application/x-www-form-urlencoded"})):
            answers[path] = _chunked_flood(port, path, ATTACK_MB, headers)
        grown = _high_water_mb(proc.pid) - before
        # each answered 413 without taking the whole body; three of them cost the server less
        # than one would have buffered (before: every byte of all three was kept)
        assert {p: a[0] for p, a in answers.items()} == {p: 413 for p in answers}, answers
        assert grown < ATTACK_MB / 2, f"the server grew by {grown:.0f} MB"

        deep = "[" * 100_000 + "]" * 100_000
        check = httpx.post(f"http://127.0.0.1:{port}/playground/check", content=json.dumps({"code": "x"})[:-1] + ", \"d\": " + deep + "}",
                           headers={"Content-Type": "application/json"}, timeout=10)
        assert check.status_code == 400, check.text
        raw = deep.encode()
        hook = httpx.post(f"http://127.0.0.1:{port}/webhooks/github", content=raw, timeout=10, headers={
            "X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": "d2", "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(SECRET, raw)})
        assert hook.status_code == 400 and "nested too deeply" in hook.json()["error"], hook.text
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200  # still serving
    finally:
        proc.kill()
        proc.wait()


def test_x_forwarded_for_from_the_host_does_not_make_a_new_client(tmp_path, github, app_key):  # noqa: F811
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 unless told otherwise: anything on the host
    (or a proxy passing the header through) could take a new address per request and never meet
    the playground's per-client limits. No proxy is trusted unless PVE_FORWARDED_ALLOW_IPS names it."""
    port = free_port()
    proc = start(tmp_path / "home", github, app_key[0], port)
    try:
        codes = [httpx.post(f"http://127.0.0.1:{port}/playground/check", json={"code": "x = 1\n"}, timeout=10,
                            headers={"X-Forwarded-For": f"10.1.{n // 250}.{n % 250 + 1}"}).status_code
                 for n in range(125)]
        assert codes.count(200) == 120 and codes[-1] == 429, codes
    finally:
        proc.kill()
        proc.wait()
