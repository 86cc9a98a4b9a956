"""End to end: `pve verify` as a user runs it, on the bundled examples and on bad input."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from store.sqlite import SQLiteStore

from .conftest import EXAMPLES, ROOT

pytestmark = pytest.mark.sandbox


def pve(*args: str, home: Path, stdin: bytes | None = None, timeout: float = 120,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {"PVE_HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **(env or {})}
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, timeout=timeout)


V, P = "verified", "plausible, not verified"
# (example, arguments, the file fixed, the oracle, the evidence level): verified where tests that
# passed before run the fix; where none can (no tests; every test failed before; a function that
# fails on every call, tablekit's column()), the same fix is plausible, not verified (TRUTH.md).
CASES = [
    ("stats", ["--error-log", "examples/stats/ci.log"], "stats/core.py", "existing tests", V),
    ("inventory", ["--error-log", "examples/inventory/pytest.log"], "inventory/stock.py", "existing tests", V),
    # every test of these two fails before the fix: no regression baseline, and the oracle says so
    ("config_loader", ["--error-log", "examples/config_loader/pytest.log"], "config_loader/loader.py",
     "the failing tests only", P),
    # last_item() fails on every call, and only the failing test calls it
    ("pagination", ["--error-log", "examples/pagination/pytest.log"], "pagination/pages.py", "existing tests", P),
    ("shapes", ["--error-log", "examples/shapes/pytest.log"], "shapes/area.py", "the failing tests only", P),
    ("textstats", ["--cmd", "python report.py"], "wordcount.py", "reproduction with assertions", P),
    ("snippets/average.py", ["--error-log", "examples/snippets/average.log"], "average.py", "no crash only", P),
    ("snippets/greeting.py", ["--error-log", "examples/snippets/greeting.log"], "greeting.py", "reproduction with assertions", P),
    ("snippets/counter.py", ["--error-log", "examples/snippets/counter.log"], "counter.py", "reproduction with assertions", P),
    ("snippets/settings.py", ["--error-log", "examples/snippets/settings.log"], "settings.py", "reproduction with assertions", P),
    # a tutorial's real example (pythonmorsels.com, "reading tracebacks"): it fails only with its argument
    ("snippets/count.py", ["--error-log", "examples/snippets/count.log", "--cmd", "python count.py 5"], "count.py",
     "no crash only", P),
    # input shapes as people report them (docs/engine.md, "Reading reports")
    ("tablekit", ["--error-log", "examples/tablekit/report.md"], "src/tablekit/table.py", "existing tests", P),
    ("tablekit", ["--error-log", "examples/tablekit/report_repl.md"], "src/tablekit/table.py", "existing tests", P),
    ("pairs", ["--error-log", "examples/pairs/error.log"], "pairs.py", "no crash only", P),
    ("calc", ["--error-log", "examples/calc/ci.log"], "calc.py", "existing tests", V),
    ("calc", ["--cmd", "python -m unittest tests.test_calc"], "calc.py", "existing tests", V),
    ("stats", ["--test", "pytest -k empty -p no:cacheprovider tests/"], "stats/core.py", "existing tests", V),
]


@pytest.mark.parametrize("example, args, fixed_file, oracle, level", CASES, ids=[f"{c[0]}:{c[1][-1]}" for c in CASES])
def test_examples_verify_with_a_valid_proof(example, args, fixed_file, oracle, level, tmp_path):
    """Verified (exit 0) or plausible, not verified (exit 3), with a valid proof either way."""
    home, out = tmp_path / "home", tmp_path / "out"
    before = _hashes(EXAMPLES / example)
    r = pve("verify", f"examples/{example}", *args, "--out", str(out), "--json", home=home)
    verified = level == V
    assert r.returncode == (0 if verified else 3), r.stderr.decode()
    session = json.loads(r.stdout)
    assert session["status"] == level, session["message"]
    assert session["oracle"] == oracle
    diff = (out / "fix.diff").read_text()
    assert diff.startswith(f"--- a/{fixed_file}\n+++ b/{fixed_file}\n")
    proof = (out / "proof.txt").read_text()
    assert f"verdict: {'VERIFIED FIX' if verified else 'PLAUSIBLE, NOT VERIFIED'}" in proof
    assert "completion nonce: matched" in proof
    assert diff.strip() in proof
    check = pve("proof", "verify", str(out / "proof.txt"), home=home)
    assert check.returncode == 0 and b"valid" in check.stdout
    # the console lines were stored for the web view
    events = SQLiteStore(home).events(session["id"])
    assert events[0].text.startswith("Analyzing logic...") and events[-1].kind == ("verified" if verified else "result")
    # the user's project was not touched
    assert _hashes(EXAMPLES / example) == before


def _hashes(path: Path) -> dict[str, str]:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_console_reads_like_the_spec(tmp_path):
    r = pve("verify", "examples/stats", "--error-log", "examples/stats/ci.log", home=tmp_path)
    out = r.stdout.decode()
    assert r.returncode == 0
    assert "> Analyzing logic... ZeroDivisionError in stats/core.py:12 mean()" in out
    assert "[FAILED as reported - ZeroDivisionError]" in out
    assert "candidates (offline engine, " in out and "[PASSED - " in out
    assert "Tried " in out and "stopped: verified fix found" in out
    assert "> Verified: candidate" in out and "oracle: existing tests" in out and "proof.txt" in out


def test_a_bug_report_is_reproduced_from_its_code_block_and_the_proof_holds_the_script(tmp_path):
    out = tmp_path / "out"
    r = pve("verify", "examples/tablekit", "--error-log", "examples/tablekit/report.md", "--json", "--out", str(out),
            home=tmp_path / "home")
    assert r.returncode == 3, r.stderr.decode()  # plausible, not verified: column() fails on every call
    session = json.loads(r.stdout)
    repro = session["reproduction"]
    assert repro["derived_from"] == "report: code block 1" and repro["target"] == "reproduce_issue.py"
    assert repro["pythonpath"] == ["src"]
    # the installed copy's frame landed on the repository's file
    assert session["analysis"]["failing_frame"]["project_path"] == "src/tablekit/table.py"
    assert "added from tablekit import Table (the report's code uses it without importing it)" in session["notes"]
    proof = (out / "proof.txt").read_text()
    assert "--- reproduce_issue.py (written from the report)\nfrom tablekit import Table\n" in proof
    assert "== intake notes" in proof
    # the user's project did not gain the script
    assert not (EXAMPLES / "tablekit" / "reproduce_issue.py").exists()


def test_a_command_line_tool_s_crash_report_is_reproduced_by_its_command(tmp_path):
    """linecount catches its crash and prints the traceback (as linters do): the report's command
    runs on the file written from the report, and the printed crash is the failure."""
    out = tmp_path / "out"
    r = pve("verify", "examples/linecount", "--error-log", "examples/linecount/report.md", "--json", "--out", str(out),
            home=tmp_path / "home")
    session = json.loads(r.stdout)
    assert session["reproduction"]["derived_from"] == "report: the project's command", r.stderr.decode()
    assert "wrote stub.py from code block 1" in session["notes"]
    assert session["analysis"]["failing_frame"]["function"] == "_first_statement"
    assert session["before"]["record"]["exception"]["type"] == "IndexError"  # caught by the tool, raised again
    proof = (out / "proof.txt").read_text()
    assert "_pve_sys.argv = ['linecount', 'stub.py']" in proof
    # hiding the crash (deleting the traceback print) or refusing the command line is never the answer
    reasons = {v["candidate_id"]: v["reason"] for v in session["verdicts"]}
    hidden = [c["id"] for c in session["candidates"] if "-            traceback.print_exc()" in c["diff"]]
    assert hidden and all("the crash is hidden, not fixed" in reasons[c] for c in hidden if c in reasons)
    winner = next((c for c in session["candidates"] if c["id"] == session["winner"]), None)
    assert winner is None or "traceback.print_exc()" not in winner["diff"]
    assert not (EXAMPLES / "linecount" / "stub.py").exists() and not (EXAMPLES / "linecount" / "reproduce_issue.py").exists()


@pytest.mark.parametrize("report, kind, said", [
    ("report_ipython.md", "script", "reproducing with the report's code block 1"),
    ("report_test.md", "pytest", "code block 1 is a test module: pytest runs it"),
    ("report_py2.md", "script", "added from random import randint (standard library; the report's code uses it "
                                "without importing it)"),
    ("report_frames.md", "script", "rows is the data of code block 1 (the only value the report shows)"),
])
def test_reports_in_the_shapes_reporters_write_are_reproduced(tmp_path, report, kind, said):
    """An IPython session, a pytest test with its E lines, a Python 2 script using a name it never
    imported: each fails as reported, and what PVE assumed is a note in the session and the proof."""
    out = tmp_path / "out"
    r = pve("verify", "examples/tablekit", "--error-log", f"examples/tablekit/{report}", "--json", "--out", str(out),
            home=tmp_path / "home")
    assert r.returncode == 3, r.stderr.decode()  # reproduced; plausible, not verified (column() has no passing test)
    session = json.loads(r.stdout)
    assert session["reproduction"]["kind"] == kind and said in session["notes"]
    assert session["before"] is not None and "AttributeError" in json.dumps(session["before"]["record"])
    assert said in (out / "proof.txt").read_text()


def test_an_older_release_s_line_numbers_are_matched_by_code_and_said(tmp_path):
    r = pve("verify", "examples/tablekit", "--error-log", "examples/tablekit/report_repl.md", "--json",
            home=tmp_path / "home")
    assert r.returncode == 3, r.stderr.decode()
    session = json.loads(r.stdout)
    assert session["analysis"]["failing_frame"]["line"] == 23
    assert any("line 19 -> 23" in n for n in session["notes"])


def test_a_report_whose_code_cannot_run_says_why(tmp_path):
    report = tmp_path / "report.md"
    report.write_text((EXAMPLES / "tablekit" / "report.md").read_text().replace(
        'rows = [["widget", 3], ["gadget", 5]]', "rows = [[input(), 3]]"))
    r = pve("verify", "examples/tablekit", "--error-log", str(report), home=tmp_path / "home")
    assert r.returncode == 2
    assert b"reads input()" in r.stderr and b"does not show what was typed" in r.stderr


def test_tampered_proof_fails_verification(tmp_path):
    out = tmp_path / "out"
    assert pve("verify", "examples/stats", "--error-log", "examples/stats/ci.log", "--out", str(out),
               home=tmp_path).returncode == 0
    proof = out / "proof.txt"
    proof.write_text(proof.read_text().replace("exit code: 0", "exit code: 1", 1))
    r = pve("proof", "verify", str(proof), home=tmp_path)
    assert r.returncode == 1 and b"modified" in r.stderr


def test_the_attestation_verifies_with_pve_and_with_an_independent_library_and_a_changed_byte_fails(tmp_path):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey

    out = tmp_path / "out"
    assert pve("verify", "examples/stats", "--error-log", "examples/stats/ci.log", "--out", str(out),
               home=tmp_path).returncode == 0
    attestation = out / "attestation.intoto.json"
    r = pve("proof", "verify", str(attestation), home=tmp_path)
    assert r.returncode == 0 and b"verdict VERIFIED FIX (evidence: verified), subjects: stats/core.py" in r.stdout
    key = pve("proof", "key", home=tmp_path).stdout  # the PEM, as /.well-known/pve-proof-key.pem serves it
    public = load_pem_public_key(key)
    keyid = json.loads(attestation.read_text())["signatures"][0]["keyid"]
    Envelope.from_dict(json.loads(attestation.read_text())).verify([SSlibKey.from_crypto(public, keyid=keyid)], 1)
    envelope = json.loads(attestation.read_text())
    payload = base64.b64decode(envelope["payload"])
    envelope["payload"] = base64.b64encode(payload.replace(b'"verified":true', b'"verified":false', 1)).decode()
    attestation.write_text(json.dumps(envelope))
    r = pve("proof", "verify", str(attestation), home=tmp_path)
    assert r.returncode == 1 and b"modified after it was signed" in r.stderr


def test_error_log_from_stdin(tmp_path):
    log = (EXAMPLES / "inventory" / "pytest.log").read_bytes()
    r = pve("verify", "examples/inventory", "--error-log", "-", "-q", home=tmp_path, stdin=log)
    assert r.returncode == 0, r.stderr


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "proj"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_could_not_reproduce_shows_what_happened(tmp_path):
    log = tmp_path / "wrong.log"
    log.write_text((EXAMPLES / "stats" / "ci.log").read_text().replace("ZeroDivisionError", "KeyError"))
    r = pve("verify", "examples/stats", "--error-log", str(log), home=tmp_path)
    out = r.stdout.decode()
    assert r.returncode == 1
    assert "NOT REPRODUCED" in out and "ZeroDivisionError" in out and "Could not reproduce" in out


def test_no_verified_fix_exits_1(tmp_path):
    root = _project(tmp_path, {"job.py": "def run():\n    raise RuntimeError('disk on fire')\n\nrun()\n"})
    r = pve("verify", str(root), "--cmd", "python job.py", home=tmp_path)
    assert r.returncode == 1 and b"No candidate fix for RuntimeError" in r.stdout


@pytest.mark.parametrize("code, words", [
    ("import time\ntime.sleep(30)\n", b"timeout"),
    ("import sys\nwhile True:\n    sys.stdout.write('spam' * 4096)\n", b"output flood"),
    ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", b"timeout"),
])
def test_reproductions_that_hang_flood_or_fork_are_stopped(tmp_path, code, words):
    root = _project(tmp_path, {"bad.py": code})
    r = pve("verify", str(root), "--cmd", "python bad.py", "--timeout", "2", home=tmp_path)
    assert r.returncode == 1, r.stderr
    assert words in r.stdout and not _traceback(r.stderr)


BAD_INPUT = [
    (["verify", "does/not/exist", "--cmd", "python x.py"], b"does not exist"),
    (["verify", "examples/stats", "--error-log", "EMPTY"], b"empty"),
    (["verify", "examples/stats", "--error-log", "BINARY"], b"binary"),
    (["verify", "examples/stats", "--error-log", "NOTB"], b"no Python traceback"),
    (["verify", "examples/stats", "--error-log", "FOREIGN"], b"not in"),
    (["verify", "examples/stats", "--test", "pytest tests/x.py", "--cmd", "python a.py"], b"not both"),
    (["verify", "examples/stats", "--cmd", "make test"], b"must run a Python"),
    (["verify", "examples/stats", "--test", "pytest tests/test_nope.py::test_x"], b"not in the project"),
    (["verify", "examples/stats"], b"nothing to reproduce"),
    (["verify", "README.md", "--cmd", "python x.py"], b"not a Python file"),
    (["verify", "examples/stats", "--error-log", "missing.log"], b"not a file"),
    (["proof", "verify", "README.md"], b"not a PVE proof"),
]


@pytest.mark.parametrize("args, words", BAD_INPUT, ids=[str(i) for i in range(len(BAD_INPUT))])
def test_bad_input_gets_a_clear_message_and_exit_2(tmp_path, args, words):
    files = {"EMPTY": b"", "BINARY": b"\x7fELF\x00\x00\x01\x02" * 100, "NOTB": b"all tests passed\n",
             "FOREIGN": b'Traceback (most recent call last):\n  File "/srv/other/app.py", line 3, in main\n    go()\nValueError: x\n'}
    args = [str(tmp_path / a) if a in files else a for a in args]
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    # a proof check needs a key to check against
    if args[0] == "proof":
        pve("verify", "examples/snippets/average.py", "--error-log", "examples/snippets/average.log", "-q", home=tmp_path)
    r = pve(*args, home=tmp_path)
    assert r.returncode in (1, 2) if args[0] == "proof" else r.returncode == 2, (r.returncode, r.stderr)
    assert words in r.stderr, r.stderr
    assert not _traceback(r.stderr)


def _traceback(stderr: bytes) -> bool:
    """Did PVE itself crash (a Python traceback at the start of a line)?"""
    return re.search(rb"^Traceback \(most recent call last\):", stderr, re.M) is not None


def test_models_brain_from_the_command_line(tmp_path):
    """`--brain models` with keys pointing at local provider servers: the real SDKs, the real sandbox."""
    from tests.model_servers import ModelServers, say
    from tests.test_models_e2e import GOOD

    servers = ModelServers()
    try:
        servers.script("gemini", say(GOOD))
        r = pve("verify", "examples/shop", "--error-log", "examples/shop/pytest.log", "--brain", "models",
                home=tmp_path / "home", env=servers.env("gemini"))
    finally:
        servers.close()
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    assert "Error class: type (offline)" in out
    assert re.search(r"Checking gemini:gemini-2.5-flash's reproduction in sandbox sbx-\w+\.\.\. \[FAILED as reported\]", out)
    assert re.search(r"Models: 1 call\(s\), \d+ tokens in / \d+ out, cost \$0\.\d{4}", out)
    assert "+    ranked = sorted(prices, reverse=True)" in out
    assert servers.violations == []


def test_without_keys_the_model_brain_says_it_is_off_once(tmp_path):
    r = pve("verify", "examples/shop", "--error-log", "examples/shop/pytest.log", "--max-candidates", "5",
            home=tmp_path / "home")
    out = r.stdout.decode()
    assert r.returncode == 1
    assert out.count("model brain off: no GEMINI_API_KEY") == 1
    r = pve("verify", "examples/shop", "--error-log", "examples/shop/pytest.log", "--max-candidates", "5",
            "--brain", "offline", home=tmp_path / "home")
    assert "model brain off" not in r.stdout.decode()
