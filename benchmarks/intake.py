"""Webhook intake under load. ``uv run python benchmarks/intake.py``

A server process runs the webhook app (uvicorn, one worker, the SQLite queue under a temporary
PVE_HOME); this process sends 2,000 signed deliveries of a real ``/pve verify`` comment payload
(npm ``@octokit/webhooks-examples``) over loopback, 100 at a time, each with its own delivery id,
plus 200 redeliveries of ids already sent. Measured: time to the 202 per request (p50, p99,
max), and afterwards the queue itself: every id exactly once, no job lost or duplicated.

Targets: p99 <= 50 ms, zero lost or duplicated jobs. Writes ``benchmarks/intake.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = b"benchmark-secret"


def serve(home: str, port: int) -> None:
    import uvicorn

    from store.sqlite import SQLiteStore
    from webhooks.app import create_app

    uvicorn.run(create_app(SECRET, SQLiteStore(Path(home))), host="127.0.0.1", port=port, log_level="warning",
                access_log=False, loop="asyncio", http="httptools")  # as `pve serve` runs it


async def load(port: int, total: int, redeliveries: int, concurrency: int) -> dict:
    """A lean HTTP/1.1 client (keep-alive connections, requests pre-built): the load generator
    must not be what is measured."""
    from tests.github_payloads import comment_on_pr
    from webhooks.signature import sign

    body = json.dumps(comment_on_pr("/pve verify")).encode()
    head = ("POST /webhooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: GitHub-Hookshot/bench\r\n"
            "X-GitHub-Event: issue_comment\r\nContent-Type: application/json\r\n"
            f"X-Hub-Signature-256: {sign(SECRET, body)}\r\nContent-Length: {len(body)}\r\n")
    ids = [f"bench-{i:05d}" for i in range(total)] + [f"bench-{i:05d}" for i in range(0, total, total // redeliveries)]
    times: list[float] = []
    statuses: dict[str, int] = {}

    async def connection(todo: list[str]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while todo:
                guid = todo.pop()
                t = time.perf_counter()
                writer.write(f"{head}X-GitHub-Delivery: {guid}\r\n\r\n".encode() + body)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                answer = json.loads(await reader.readexactly(length))
                times.append((time.perf_counter() - t) * 1000)
                key = answer.get("status") or status_line.decode().split()[1]
                statuses[key] = statuses.get(key, 0) + 1
        finally:
            writer.close()

    async def run(batch: list[str]) -> float:
        todo = list(reversed(batch))
        t0 = time.perf_counter()
        await asyncio.gather(*(connection(todo) for _ in range(concurrency)))
        return time.perf_counter() - t0

    await run(ids[:200])  # warm-up: connections, first SQLite pages
    times.clear()
    statuses.clear()
    wall = await run(ids[200:])
    times.sort()
    return {"requests": len(times), "wall_s": round(wall, 2), "per_s": round(len(times) / wall),
            "p50_ms": round(statistics.median(times), 1), "p99_ms": round(times[int(0.99 * (len(times) - 1))], 1),
            "max_ms": round(times[-1], 1), "answers": statuses}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--serve", nargs=2, metavar=("HOME", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as home:
        server = subprocess.Popen([sys.executable, __file__, "--serve", home, str(port)], env=os.environ.copy())
        try:
            t0 = time.monotonic()
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() - t0 > 30 or server.poll() is not None:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.05)
            result = asyncio.run(load(port, args.deliveries, args.deliveries // 10, args.concurrency))
        finally:
            server.terminate()
            server.wait()
        from store.sqlite import SQLiteStore

        jobs = SQLiteStore(Path(home)).jobs()
    ids = [j.delivery for j in jobs]
    expected = {f"bench-{i:05d}" for i in range(args.deliveries)}
    result |= {"deliveries": args.deliveries, "concurrency": args.concurrency, "jobs": len(jobs),
               "lost": len(expected - set(ids)), "duplicated": len(ids) - len(set(ids))}
    ok = result["p99_ms"] <= 50 and result["lost"] == 0 and result["duplicated"] == 0
    result["ok"] = ok
    print(f"intake: {result['requests']} requests ({args.deliveries} deliveries + redeliveries, after a 200-request warm-up) "
          f"at {args.concurrency} concurrent in {result['wall_s']} s ({result['per_s']}/s)")
    print(f"  time to answer: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms "
          f"(target p99 <= 50 ms)  {'ok' if result['p99_ms'] <= 50 else 'MISSED'}")
    print(f"  answers {result['answers']}; queue: {result['jobs']} jobs, {result['lost']} lost, "
          f"{result['duplicated']} duplicated  {'ok' if not result['lost'] and not result['duplicated'] else 'MISSED'}")
    (ROOT / "benchmarks" / "intake.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
