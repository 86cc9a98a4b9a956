"""The only way out of an environment build: a proxy to the package index and nothing else.

A build runs a repository's own code (its ``setup.py``, its build backend, ``.github/pve.yml``'s
install commands), and with the host's network it reached PVE's own port on 127.0.0.1 and the
cloud metadata service at 169.254.169.254. So a build has no network of its own (its own
network namespace: a loopback that is its own, nothing else); the one way out is this proxy,
reached over a Unix socket bound into the build sandbox, where a small forwarder
(``build_forward.py``, PVE's, started before the build's command) listens on the sandbox's own
127.0.0.1 for uv's ``HTTPS_PROXY``.

The proxy (host side, PVE's process) opens a tunnel (``CONNECT host:port``) or forwards a plain
``GET`` only to the package index's hosts (PyPI's two, or ``PVE_INDEX_URL``'s), and only when no
address the name resolves to is loopback or link-local, unless the operator named that index
(a mirror on the host itself is the operator's choice, never a build's). TLS stays end to end:
the proxy sees host names, not content.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import selectors
import socket
import socketserver
import threading
from pathlib import Path
from urllib.parse import urlsplit

PYPI_HOSTS = frozenset({"pypi.org", "files.pythonhosted.org"})
_HEAD_LIMIT = 16 << 10


def allowed_hosts(index_url: str | None) -> tuple[frozenset[tuple[str, int]], frozenset[str]]:
    """(host, port) pairs a build may reach, and those of them the operator named (which may
    resolve to a private address)."""
    if index_url:
        parts = urlsplit(index_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = (parts.hostname or "").lower()
        # an index's files may live beside it on PyPI's file host (a mirror that redirects)
        return frozenset({(host, port), ("files.pythonhosted.org", 443)}), frozenset({host})
    return frozenset((h, 443) for h in PYPI_HOSTS), frozenset()


def _public(host: str, port: int) -> bool:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        # The host's own services and the metadata service; private ranges are not refused (a
        # registry mirror may answer for pypi.org on one: the name is the policy, this check
        # keeps an allowed name from being pointed at the host itself)
        if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
            return False
    return bool(infos)


class IndexProxy:
    """A proxy on a Unix socket at ``path``, for one build; ``close()`` when it ends."""

    def __init__(self, path: Path, index_url: str | None) -> None:
        self.path = path
        self.allowed, self.named = allowed_hosts(index_url)
        self.refused: list[str] = []  # what the build asked for and did not get (for its log)
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.request)

        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        self._server.daemon_threads = True
        os.chmod(path, 0o777)  # the build's uid connects to it
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> IndexProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ one connection

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(30)
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head and len(head) < _HEAD_LIMIT:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split()
        if len(parts) != 3:
            return self._refuse(client, 400, line)
        method, target, _version = parts
        if method == "CONNECT":
            host, _, port_text = target.rpartition(":")
            port = int(port_text) if port_text.isdigit() else 443
            rest = head.split(b"\r\n\r\n", 1)[1]
        else:
            url = urlsplit(target)
            if url.scheme != "http" or not url.hostname:
                return self._refuse(client, 400, line)
            host, port = url.hostname, url.port or 80
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
            head_lines = head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
            kept = [h for h in head_lines if not h.lower().startswith((b"proxy-", b"connection:"))]
            rest = (f"{method} {path} HTTP/1.1\r\n".encode() + b"\r\n".join([*kept, b"Connection: close"]) + b"\r\n\r\n"
                    + head.split(b"\r\n\r\n", 1)[1])
        host = host.strip("[]").lower()
        if (host, port) not in self.allowed or (host not in self.named and not _public(host, port)):
            return self._refuse(client, 403, f"{host}:{port}")
        try:
            upstream = socket.create_connection((host, port), timeout=30)
        except OSError:
            return self._refuse(client, 502, f"{host}:{port}")
        with upstream:
            if method == "CONNECT":
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            _relay(client, upstream)

    def _refuse(self, client: socket.socket, status: int, what: str) -> None:
        self.refused.append(what)
        words = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
        with contextlib.suppress(OSError):
            client.sendall(f"HTTP/1.1 {status} {words}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())


def _relay(a: socket.socket, b: socket.socket) -> None:
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    try:
        while True:
            events = sel.select(timeout=120)
            if not events:
                return
            for key, _ in events:
                data = key.fileobj.recv(1 << 16)  # type: ignore[union-attr]
                if not data:
                    return
                key.data.sendall(data)
    except OSError:
        return
    finally:
        sel.close()
