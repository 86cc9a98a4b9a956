"""The ``pve`` command: parse the arguments, build the runtime (``entrypoints.bootstrap``),
run, and render the outcome for a terminal.

Exit codes: 0 verified fix (or valid proof), 1 no fix / could not reproduce / invalid proof,
2 bad input, 3 a fix that is plausible, not verified (it passed the reproduction only: TRUTH.md's
evidence levels). Errors a user can cause print one clear message, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pve import __version__
from pve.errors import PVEError

if TYPE_CHECKING:
    from rich.console import Console

    from pve.events import Event


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pve", description="PVE, the Truth Engine: it never shows a fix that has not run.")
    p.add_argument("--version", action="version", version=f"pve {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("verify", help="reproduce a failure, generate fixes, run them in sandboxes, prove the winner")
    v.add_argument("path", type=Path, help="project folder, or a single .py file (snippet mode)")
    v.add_argument("--error-log", metavar="FILE", help="log with the traceback or pytest output ('-' reads stdin)")
    v.add_argument("--test", metavar="SPEC", help='failing pytest test(s), e.g. "pytest tests/test_x.py::test_y"')
    v.add_argument("--cmd", metavar="CMD", help='command that fails, e.g. "python script.py"')
    v.add_argument("--out", metavar="DIR", type=Path,
                   help="also write fix.diff, proof.txt and attestation.intoto.json (the proof as an in-toto statement) here")
    v.add_argument("--json", action="store_true", help="print the session as JSON on stdout (console goes to stderr)")
    v.add_argument("--slots", type=int, help="parallel sandboxes (default 3, or PVE_SLOTS)")
    v.add_argument("--timeout", type=float, help="wall clock per sandboxed run in seconds (default 10)")
    v.add_argument("--max-candidates", type=int, help="candidates to try at most (default 150, or PVE_MAX_CANDIDATES)")
    v.add_argument("--max-seconds", type=float, help="search time budget in seconds (default 60, or PVE_SEARCH_SECONDS)")
    v.add_argument("--brain", choices=("offline", "models", "auto"), default="auto",
                   help="offline engine, models, or auto: offline first, models when it finds nothing (default)")
    v.add_argument("--no-cache", action="store_true", help="do not reuse (or store) fixes verified before for the same error")
    v.add_argument("-q", "--quiet", action="store_true", help="no console, only the result line")

    pr = sub.add_parser("proof", help="execution proofs")
    prs = pr.add_subparsers(dest="proof_command", required=True)
    pv = prs.add_parser("verify", help="exit 0 only if the proof (proof.txt, or attestation.intoto.json: an in-toto "
                                       "statement in a DSSE envelope) is untouched and signed by a trusted key")
    pv.add_argument("file", type=Path)
    pv.add_argument("--public-key", type=Path, help="trusted Ed25519 public key (PEM); default: this instance's key")
    prs.add_parser("key", help="print this instance's public key (PEM)")

    sub.add_parser("action", help="run as a step of a GitHub Actions job (action.yml; reads GITHUB_* and INPUT_*)")

    sv = sub.add_parser("serve", help="run the GitHub App: webhook endpoint and worker pool")
    sv.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")

    ap = sub.add_parser("app", help="the GitHub App")
    aps = ap.add_subparsers(dest="app_command", required=True)
    am = aps.add_parser("manifest", help="print the app manifest (JSON) for GitHub's manifest flow")
    am.add_argument("--url", required=True, help="public base URL of `pve serve`, e.g. https://pve.example.com")
    am.add_argument("--name", help="app name (default: from app.yml)")
    am.add_argument("--public", action="store_true", help="let any account install the app")
    ast = aps.add_parser("setup", help="create the app with GitHub's manifest flow and store its credentials")
    ast.add_argument("--url", required=True, help="public base URL of `pve serve`, e.g. https://pve.example.com")
    ast.add_argument("--name", help="app name (default: from app.yml)")
    ast.add_argument("--org", help="create the app under this organization (default: your account)")
    ast.add_argument("--host", default="127.0.0.1", help="interface for the setup page (default 127.0.0.1)")
    ast.add_argument("--port", type=int, default=8000, help="port for the setup page (default 8000)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "verify":
            return _verify(args)
        if args.command == "proof":
            return _proof(args)
        if args.command == "action":
            from entrypoints.action import main as action

            return action(dict(os.environ))
        if args.command == "app":
            return _app(args)
        if args.command == "serve":
            return _serve(args)
    except PVEError as exc:
        print(f"pve: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("pve: interrupted", file=sys.stderr)
        return 130
    return 2


# --------------------------------------------------------------------------- verify


def _read_log(name: str | None) -> bytes | None:
    from pve.errors import BadInput

    if name is None:
        return None
    if name == "-":
        return sys.stdin.buffer.read()
    path = Path(name)
    if not path.is_file():
        raise BadInput(f"--error-log: {name} is not a file")
    return path.read_bytes()


def _verify(args: argparse.Namespace) -> int:
    from rich.console import Console

    from brain.models.providers import BrainConfig
    from entrypoints import bootstrap
    from pve import config
    from pve.errors import BadInput
    from pve.models import VerifyRequest
    from pve.settings import Settings
    from statemachine.runner import verify

    if not args.path.exists():
        raise BadInput(f"{args.path} does not exist")
    if args.test and args.cmd:
        raise BadInput("give --test or --cmd, not both")
    env = config.load()
    settings = Settings.from_config(env).with_limits(  # the sources are read once; the flags win
        slots=args.slots, max_candidates=args.max_candidates, search_seconds=args.max_seconds, timeout_s=args.timeout,
        names={"slots": "--slots", "max_candidates": "--max-candidates", "search_seconds": "--max-seconds",
               "timeout_s": "--timeout"})
    models = BrainConfig.from_env(env)
    error_log = _read_log(args.error_log)

    console = Console(stderr=args.json, highlight=False, soft_wrap=True)
    services = bootstrap.services(settings, models=models, watchers=() if args.quiet else [_ConsoleView(console)])
    if args.brain != "offline" and models.off_reason and not args.quiet:
        console.print(f"[dim]> {models.off_reason}[/]")  # said once, at the start
    request = VerifyRequest(path=args.path, error_log=error_log, test=args.test, cmd=args.cmd, brain=args.brain,
                            cache=not args.no_cache)
    session = asyncio.run(verify(request, services))

    paths = {"proof": session.proof_path, "diff": session.diff_path, "attestation": session.attestation_path}
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for key, name in (("proof", "proof.txt"), ("diff", "fix.diff"), ("attestation", "attestation.intoto.json")):
            source = paths[key]
            if source:
                paths[key] = str(shutil.copyfile(source, args.out / name))
    if args.json:
        print(session.model_dump_json(indent=2))
    else:
        _render_result(console, session, paths)
    return EXIT_CODES.get(session.status.value, 1)


# TRUTH.md's evidence levels as exit codes: only a verified fix is success.
EXIT_CODES = {"verified": 0, "plausible, not verified": 3}  # by SessionStatus value (imported lazily)

_STATUS_STYLE = {"PASSED": "bold green", "FAILED": "red", "REJECTED": "yellow", "NOT REPRODUCED": "bold red"}


class _ConsoleView:
    """Prints the event stream. A long search shows its first candidates, then only the ones
    that pass; the search's closing line gives the counts (the proof lists every candidate)."""

    SHOWN_FAILURES = 8

    def __init__(self, console: Console) -> None:
        self.console = console
        self.failures = 0

    def __call__(self, e: Event) -> None:
        if e.kind == "run" and not (e.status or "").startswith("PASSED"):
            self.failures += 1
            if self.failures == self.SHOWN_FAILURES + 1:
                self.console.print("[dim]>[/] [dim]... (further failing candidates are in the proof)[/]")
            if self.failures > self.SHOWN_FAILURES:
                return
        _render_event(self.console, e)


def _render_event(console: Console, e: Event) -> None:
    if e.kind in ("verified", "result"):
        return  # the closing summary says it
    from rich.markup import escape

    text = escape(e.text)
    if e.status:
        style = next((s for k, s in _STATUS_STYLE.items() if e.status.startswith(k)), "cyan")
        text += f" [{style}]\\[{escape(e.status)}][/]"
    prefix = "  " if e.kind == "output" else "[dim]>[/] "
    console.print(prefix + text)


def _render_result(console: Console, session, paths: dict[str, str | None]) -> None:
    from rich.markup import escape

    from pve.models import SessionStatus

    if session.status is SessionStatus.VERIFIED:
        winner = session.winning_candidate()
        oracle = session.oracle.value if session.oracle else "?"
        verdict = session.winning_verdict()
        console.print(f"[dim]>[/] [bold green]Verified:[/] candidate {winner.id} ({escape(winner.rule)}; oracle: {oracle}). "
                      f"Proof: {escape(str(paths['proof']))}")
        if verdict is not None and verdict.covered:
            console.print(f"[dim]>[/] Evidence: {escape(verdict.covered)}")
        console.print(f"[dim]>[/] Fix: {escape(str(paths['diff']))}")
        _print_diff(console, winner.diff)
    elif session.status is SessionStatus.PLAUSIBLE:
        winner = session.winning_candidate()
        why = session.message.split("plausible, not verified: ", 1)[-1]
        console.print(f"[dim]>[/] [bold yellow]Plausible, not verified:[/] candidate {winner.id} ({escape(winner.rule)}) "
                      f"passed the reproduction only: {escape(why)}. Proof: {escape(str(paths['proof']))}")
        console.print(f"[dim]>[/] Candidate diff (not a verified fix): {escape(str(paths['diff']))}")
        _print_diff(console, winner.diff)
    else:
        console.print(f"[dim]>[/] [bold yellow]{escape(session.message[:1].upper() + session.message[1:])}.[/] "
                      f"Proof: {escape(str(paths['proof']))}")
    t = session.timings_ms.get("total", 0.0)
    console.print(f"[dim]  session {session.id} · {t:.0f} ms · sandboxes busy {session.sandbox_busy_ms:.0f} ms[/]")


def _print_diff(console: Console, diff: str) -> None:
    from rich.markup import escape

    for line in diff.rstrip("\n").splitlines():
        style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
        console.print(f"    [{style}]{escape(line)}[/]")


# --------------------------------------------------------------------------- serve


def _serve(args: argparse.Namespace) -> int:
    import logging

    from entrypoints import bootstrap
    from pve import config
    from pve.errors import BadInput
    from webhooks.server import serve

    if not 1 <= args.port <= 65535:
        raise BadInput("--port must be between 1 and 65535")
    env = config.load()
    service = bootstrap.github_service(env)  # a bad setting stops here, with one line, before anything listens
    sandbox = service.runtime.services.sandbox
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(f"pve: serving the GitHub App on http://{args.host}:{args.port}/webhooks/github "
          f"(app {service.runtime.app.settings.app_id}, data in {service.runtime.settings.home}; project environments "
          f"in {sandbox.environments_root() if hasattr(sandbox, 'environments_root') else 'none'})", file=sys.stderr)
    # The standard event loop: the sandbox starts each run as its slot's uid (create_subprocess_exec
    # with user=/group=), which uvloop does not support.
    asyncio.run(serve(service.web, service.pool, args.host, args.port,
                      forwarded_allow_ips=env.get("PVE_FORWARDED_ALLOW_IPS", "")))
    return 0


# --------------------------------------------------------------------------- app


def _app(args: argparse.Namespace) -> int:
    import json

    from bot import manifest

    if args.app_command == "setup":
        return _app_setup(args)
    from pve.settings import Settings
    from statemachine.proof.signing import ProofSigner

    key = ProofSigner(Settings.from_env().home).fingerprint()  # created now if this instance has none yet
    print(json.dumps(manifest.for_host(args.url, name=args.name, public=True if args.public else None, proof_key=key),
                     indent=2))
    return 0


def _app_setup(args: argparse.Namespace) -> int:
    import uvicorn

    from pve import config
    from webhooks.setup import create_setup_app

    env = config.load()
    home = config.home(env)
    config_file = config.config_file(env)
    api_url = env.get("PVE_GITHUB_API_URL", "https://api.github.com")
    server: uvicorn.Server | None = None

    def done(app: dict) -> None:
        print(f"pve: app {app.get('slug')} (id {app.get('id')}) created; settings in {config_file}", file=sys.stderr)
        if server is not None:
            server.should_exit = True  # after this response

    web = create_setup_app(args.url, api_url, config_file, home, org=args.org, name=args.name, on_done=done)
    print(f"pve: open http://{args.host}:{args.port}/ in a browser to create the GitHub App", file=sys.stderr)
    server = uvicorn.Server(uvicorn.Config(web, host=args.host, port=args.port, lifespan="off", log_level="warning"))
    asyncio.run(server.serve())
    return 0


# --------------------------------------------------------------------------- proof


def _proof(args: argparse.Namespace) -> int:
    from pve.errors import BadInput
    from pve.settings import Settings
    from statemachine.proof.attestation import fingerprint as attestation_fingerprint
    from statemachine.proof.attestation import is_envelope, verify_envelope
    from statemachine.proof.signing import ProofSigner, load_public_key, public_pem, verify_proof

    def fingerprint_of(envelope: bytes) -> str:
        """The signature's key that verified (the one of the trusted keys)."""
        ids = {attestation_fingerprint(k) for k in trusted}
        return next((str(sig.get("keyid")) for sig in json.loads(envelope).get("signatures", []) if sig.get("keyid") in ids),
                    "?")

    signer = ProofSigner(Settings.from_env().home)
    if args.proof_command == "key":
        sys.stdout.write(public_pem(signer.public_key()).decode())
        return 0
    if not args.file.is_file():
        raise BadInput(f"{args.file} is not a file")
    if args.public_key:
        trusted = [load_public_key(args.public_key)]
    elif signer.key_path.exists():
        trusted = signer.trusted()  # every key this instance signed with, rotated ones too
    else:
        raise BadInput("this instance has no proof key yet; pass the signer's key with --public-key")
    data = args.file.read_bytes()
    if is_envelope(data):  # an in-toto statement in a DSSE envelope
        stmt = verify_envelope(data, trusted)
        p = stmt["predicate"]
        if not args.public_key:
            signer.check_window(fingerprint_of(data), str(p.get("created", "")))
        names = ", ".join(s["name"] for s in stmt["subject"][:4])
        print(f"valid: session {p['session']}, verdict {p['verdict']['words']} (evidence: {p['verdict']['evidence']}), "
              f"subjects: {names}, signed by {fingerprint_of(data)}")
        return 0
    check = verify_proof(data, trusted)
    if not args.public_key:
        created = next((line.split(": ", 1)[1] for line in data.decode().splitlines()[:8] if line.startswith("created: ")), "")
        signer.check_window(check.key_id, created)
    print(f"valid: session {check.session}, verdict {check.verdict}, signed by {check.key_id}")
    return 0


def run() -> None:
    """The ``pve`` command: ``main``, then out at once. Everything is written and closed by then
    (the store commits each write, the sandbox's folders are removed, the event loop is closed);
    the interpreter's own teardown of ~300 imported modules would add ~40 ms to every
    ``pve verify`` (benchmarks/run.py) and change nothing."""
    code = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
