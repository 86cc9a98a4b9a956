"""``pve serve`` as users run it: a real process with uvicorn and the worker pool, signed
deliveries over HTTP, the local GitHub; killed mid-job and restarted, it finishes the job once."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from store.sqlite import SQLiteStore
from tests.app_harness import APP_ID, INSTALLATION, ROOT, SECRET, files_of, for_repo
from tests.github_payloads import comment_on_issue
from webhooks.signature import sign

pytestmark = pytest.mark.sandbox
STATS = ROOT / "examples" / "stats"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(home, github, pem, port):
    env = {**os.environ, "PVE_HOME": str(home), "PVE_GITHUB_APP_ID": str(APP_ID), "PVE_GITHUB_PRIVATE_KEY": pem,
           "PVE_GITHUB_WEBHOOK_SECRET": SECRET.decode(), "PVE_GITHUB_API_URL": github.url, "PVE_SLOTS": "2",
           "PVE_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise AssertionError(f"pve serve exited: {proc.stdout.read()}") from None
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("pve serve did not start listening")


def deliver(port, event, payload, delivery):
    raw = json.dumps(payload).encode()
    return httpx.post(f"http://127.0.0.1:{port}/webhooks/github", content=raw, timeout=10, headers={
        "X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json",
        "X-Hub-Signature-256": sign(SECRET, raw)})


def wait_for_job(home, status="done", timeout=90.0):
    store = SQLiteStore(home)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = store.jobs()
        if jobs and all(j.status in (status, "failed") for j in jobs):
            return jobs
        time.sleep(0.2)
    raise AssertionError(f"jobs did not finish: {store.jobs()}")


def issue_payload(github, repo):
    log = (STATS / "ci.log").read_text(encoding="utf-8-sig")
    number = github.add_issue(repo, "mean([]) crashes", log)
    comment = github.add_comment(repo, number, "/pve verify")
    payload = for_repo(comment_on_issue("/pve verify"), repo.full_name)
    payload["issue"].update(number=number, body=log)
    payload["issue"].pop("pull_request", None)
    payload["comment"]["id"] = comment["id"]
    return payload


def test_serve_killed_mid_job_finishes_it_once_after_restart(tmp_path, github, app_key):
    home = tmp_path / "home"
    repo = github.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    payload = issue_payload(github, repo)
    port = free_port()
    proc = start(home, github, app_key[0], port)
    killed = []

    def kill_when_the_pr_is_opened(method, path):
        # GitHub still creates the PR: the worker dies before it hears back.
        if method == "POST" and path.endswith("/pulls") and not killed:
            proc.send_signal(signal.SIGKILL)
            killed.append(path)

    github.on_request.append(kill_when_the_pr_is_opened)
    delivery = str(uuid.uuid4())
    try:
        assert deliver(port, "issue_comment", payload, delivery).status_code == 202
        proc.wait(timeout=90)
        assert killed, proc.stdout.read()
        store = SQLiteStore(home)
        (job,) = store.jobs()
        assert job.status == "running"  # the dead worker's lease is still on it

        proc = start(home, github, app_key[0], port)
        # GitHub's manual redelivery reuses the delivery id: the restarted server does not queue it twice.
        assert deliver(port, "issue_comment", payload, delivery).json()["status"] == "duplicate"
        (job,) = wait_for_job(home)
        assert job.status == "done" and job.attempts == 2

        # The reply's permalink is served: the page, and the signed proof byte for byte.
        replies = [c for c in repo.comments.values() if c["user"]["type"] == "Bot"]
        session_id = re.search(r"/s/([0-9a-f]{32})", replies[0]["body"]).group(1)
        page = httpx.get(f"http://127.0.0.1:{port}/s/{session_id}", timeout=10)
        assert page.status_code == 200 and "ZeroDivisionError" in page.text and "if not values" in page.text
        proof = httpx.get(f"http://127.0.0.1:{port}/s/{session_id}/proof.txt", timeout=10)
        assert proof.content == (home / "sessions" / session_id / "proof.txt").read_bytes()
        assert httpx.get(f"http://127.0.0.1:{port}/s/{'0' * 32}", timeout=10).status_code == 404
        assert httpx.get(f"http://127.0.0.1:{port}/s/..%2f..%2fetc/proof.txt", timeout=10).status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)

    assert len(replies) == 1 and "Verified fix" in replies[0]["body"]
    fix_prs = [p for p in repo.pulls.values() if p["head"]["ref"].startswith("pve/fix-")]
    assert len(fix_prs) == 1 and fix_prs[0]["html_url"] in replies[0]["body"]
    assert len(repo.check_runs) == 1 and next(iter(repo.check_runs.values()))["conclusion"] == "success"
    assert SQLiteStore(home).quota(INSTALLATION, 50).used == 1
