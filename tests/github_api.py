"""A local GitHub for tests: the REST endpoints PVE uses, over real HTTP, with state.

githubkit talks to it through ``base_url``, so PVE's real client code runs. Every request is
checked against GitHub's official REST description (``tests/openapi_rest.py``): an unknown
path, an unknown query parameter or a body the schema rejects is recorded in ``violations`` and
answered 422, and the ``github`` fixture fails the test for any violation.

It also behaves like GitHub where PVE could get it wrong:
- app auth: ``POST /app/installations/{id}/access_tokens`` needs a valid RS256 app JWT (checked
  with the app's public key, ``exp`` at most 10 minutes ahead); everything else needs that token;
- tarballs and job logs answer 302 to a second origin (``blob_url``) that must not see the token;
- review comments must have both ends in one hunk of the PR's diff (else 422, as on GitHub);
- check runs: at most 50 annotations per request, ``summary``/``text`` at most 65,535 characters;
  comment and review bodies at most 65,536.
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import gzip
import hashlib
import io
import itertools
import json
import re
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt

from tests.openapi_rest import Operation, rest_description

BODY_MAX = 65536
CHECK_TEXT_MAX = 65535


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha(*parts: object) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


# What a signed-in user's own token may ask here (the web view's access checks).
USER_OPERATIONS = frozenset({"/user", "/user/installations", "/user/installations/{installation_id}/repositories",
                             "/repos/{owner}/{repo}"})


def _user(login: str, kind: str = "User") -> dict[str, Any]:
    return {"login": login, "id": abs(hash(login)) % 10**8, "type": kind}


@dataclass
class Repo:
    owner: str
    name: str
    id: int
    default_branch: str = "main"
    private: bool = False
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)  # sha -> {files, parents, message, tree}
    trees: dict[str, dict[str, str]] = field(default_factory=dict)  # tree sha -> {path: text}
    refs: dict[str, str] = field(default_factory=dict)  # "heads/main" -> sha
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    reactions: list[dict[str, Any]] = field(default_factory=list)
    run_jobs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # workflow run id -> jobs
    job_logs: dict[int, bytes] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)  # login -> admin | maintain | write | triage | read | none

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def files_at(self, ref: str) -> dict[str, str] | None:
        sha = self.refs.get(f"heads/{ref}", ref)
        commit = self.commits.get(sha)
        return None if commit is None else self.trees[commit["tree"]]


class GitHubAPI:
    """The world (repos, installations) plus the HTTP servers. Use as a context manager."""

    def __init__(self, app_id: int, public_key_pem: str) -> None:
        self.app_id = app_id
        self.slug = "pve-test"
        self.manifest_codes: set[str] = set()  # codes GitHub would redirect back with
        self.manifest_pem = ""  # the key a manifest conversion hands out
        self.public_key = public_key_pem
        self.rest = rest_description()
        self.repos: dict[str, Repo] = {}
        self.installations: dict[int, set[str]] = {}  # id -> repo full names it may touch
        self.tokens: dict[str, int] = {}  # token -> installation id
        # Sign in with GitHub (OAuth web flow): the App's client id and secret, codes a user's
        # approval hands out (code -> login), and the user tokens they are exchanged for.
        self.oauth_client = ("Iv1.pvetestclient", "oauth-client-secret")
        self.oauth_codes: dict[str, str] = {}
        self.approving: str | None = None  # who approves on GET /login/oauth/authorize (a browser test's user)
        self.user_tokens: dict[str, str] = {}
        self.revoked: list[str] = []  # user tokens ended by DELETE /applications/{client_id}/token
        self.calls: list[tuple[str, str, dict[str, Any] | None]] = []  # (method, path, json body)
        self.violations: list[str] = []
        self.on_request: list[Callable[[str, str], None]] = []  # hooks: (method, path), e.g. to kill a worker
        self.fail_next: dict[tuple[str, str], list[int]] = {}  # (METHOD, operation id) -> statuses to answer
        self._ids = itertools.count(1000)
        self._lock = threading.RLock()
        self.blobs: dict[str, bytes] = {}
        self._servers: list[ThreadingHTTPServer] = []
        self.url = self.blob_url = ""

    # ---------------------------------------------------------------- the world

    def next_id(self) -> int:
        return next(self._ids)

    def add_repo(self, full_name: str, files: dict[str, str], *, installation: int = 1, default_branch: str = "main",
                 private: bool = False) -> Repo:
        owner, name = full_name.split("/")
        repo = Repo(owner, name, self.next_id(), default_branch=default_branch, private=private)
        sha = self.commit(repo, files, parents=[], message="initial")
        repo.refs[f"heads/{default_branch}"] = sha
        self.repos[full_name] = repo
        self.installations.setdefault(installation, set()).add(full_name)
        return repo

    def commit(self, repo: Repo, files: dict[str, str], *, parents: list[str], message: str) -> str:
        tree = _sha("tree", sorted(files.items()))
        repo.trees[tree] = dict(files)
        sha = _sha("commit", tree, parents, message, time.time_ns())
        repo.commits[sha] = {"tree": tree, "parents": parents, "message": message}
        return sha

    def add_issue(self, repo: Repo, title: str, body: str, *, user: str = "octocat") -> int:
        number = len(repo.issues) + 1
        repo.issues[number] = {"number": number, "title": title, "body": body, "user": _user(user), "state": "open"}
        return number

    def add_comment(self, repo: Repo, number: int, body: str, *, user: str = "octocat",
                    association: str = "OWNER", kind: str = "User") -> dict[str, Any]:
        cid = self.next_id()
        comment = {"id": cid, "issue_number": number, "body": body, "user": _user(user, kind),
                   "author_association": association, "created_at": _now(), "updated_at": _now()}
        repo.comments[cid] = comment
        return comment

    def add_pull(self, repo: Repo, title: str, head_files: dict[str, str], *, branch: str = "feature",
                 fork: str | None = None, body: str = "") -> dict[str, Any]:
        """A PR whose head commit changes the default branch's files to ``head_files``."""
        base_sha = repo.refs[f"heads/{repo.default_branch}"]
        head_sha = self.commit(repo, head_files, parents=[base_sha], message=title)
        if fork is None:
            repo.refs[f"heads/{branch}"] = head_sha
        number = len(repo.issues) + 1
        repo.issues[number] = {"number": number, "title": title, "body": body, "user": _user("octocat"),
                               "state": "open", "pull_request": {"url": f"{self.url}/repos/{repo.full_name}/pulls/{number}"}}
        head_repo = fork or repo.full_name
        pull = {"number": number, "title": title, "body": body, "state": "open", "base_sha": base_sha,
                "head": {"ref": branch, "sha": head_sha, "repo": {"full_name": head_repo, "fork": fork is not None}},
                "base": {"ref": repo.default_branch, "sha": base_sha, "repo": {"full_name": repo.full_name}},
                "maintainer_can_modify": False, "user": _user("octocat")}
        repo.pulls[number] = pull
        return pull

    def push(self, repo: Repo, number: int, files: dict[str, str], message: str) -> str:
        """A new commit on a PR's head (its branch moves; a fork's is only in the PR's ref)."""
        pull = repo.pulls[number]
        sha = self.commit(repo, files, parents=[pull["head"]["sha"]], message=message)
        pull["head"]["sha"] = sha
        if not pull["head"]["repo"]["fork"]:
            repo.refs[f"heads/{pull['head']['ref']}"] = sha
        return sha

    def pull_patches(self, repo: Repo, number: int) -> dict[str, str]:
        pull = repo.pulls[number]
        before = repo.trees[repo.commits[pull["base"]["sha"]]["tree"]]
        after = repo.trees[repo.commits[pull["head"]["sha"]]["tree"]]
        out = {}
        for path in sorted(set(before) | set(after)):
            a, b = before.get(path, ""), after.get(path, "")
            if a != b:
                lines = difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True), n=3)
                out[path] = "".join(list(lines)[2:])  # GitHub's `patch` starts at the first @@
        return out

    def requests(self, method: str | None = None, pattern: str = "") -> list[tuple[str, str, dict[str, Any] | None]]:
        return [c for c in self.calls if (method is None or c[0] == method) and re.search(pattern, c[1])]

    # ---------------------------------------------------------------- serving

    def __enter__(self) -> GitHubAPI:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = api.handle(self.command, self.path, dict(self.headers.items()), body)
                raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if not isinstance(payload, bytes):
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

        class BlobHandler(Handler):
            def _any(self) -> None:
                token_leaked = "authorization" in {k.lower() for k in self.headers}
                if token_leaked:
                    api.violations.append(f"the token was sent to the blob host ({self.path})")
                data = api.blobs.get(self.path)
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                self.wfile.write(data or b"")

            do_GET = _any

        for handler in (Handler, BlobHandler):
            server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers.append(server)
        self.url = f"http://127.0.0.1:{self._servers[0].server_address[1]}"
        self.blob_url = f"http://127.0.0.1:{self._servers[1].server_address[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def authorize(self, login: str) -> str:
        """The code GitHub's authorize page redirects back with once ``login`` approves."""
        code = f"code-{next(self._ids)}"
        self.oauth_codes[code] = login
        return code

    def _oauth_token(self, body: bytes) -> tuple[int, dict[str, str], Any]:
        """``POST /login/oauth/access_token`` (github.com, not the REST API): GitHub answers 200
        with ``error`` for a bad code or client."""
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if (form.get("client_id"), form.get("client_secret")) != self.oauth_client:
            return 200, {}, {"error": "incorrect_client_credentials"}
        login = self.oauth_codes.pop(form.get("code", ""), None)
        if login is None:
            return 200, {}, {"error": "bad_verification_code"}
        token = f"gho_{next(self._ids)}"
        self.user_tokens[token] = login
        return 200, {}, {"access_token": token, "token_type": "bearer", "scope": ""}

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        if method == "POST" and path == "/login/oauth/access_token":
            with self._lock:
                self.calls.append((method, path, None))
                return self._oauth_token(body)
        if method == "GET" and path == "/login/oauth/authorize":  # the user (``approving``) approves at once
            with self._lock:
                self.calls.append((method, path, None))
                if self.approving is None or query.get("client_id", [""])[0] != self.oauth_client[0]:
                    return 403, {}, {"message": "nobody is signing in here"}
                code = self.authorize(self.approving)
            target = query["redirect_uri"][0]
            sep = "&" if "?" in target else "?"
            return 302, {"Location": f"{target}{sep}{urlencode({'code': code, 'state': query.get('state', [''])[0]})}"}, b""
        for hook in self.on_request:
            hook(method, path)
        op, problems = self.rest.check(method, path, query, body)
        data = json.loads(body) if body and not problems else None
        with self._lock:
            self.calls.append((method, path, data))
            if problems:
                self.violations.extend(problems)
                return 422, {}, {"message": "Validation Failed", "errors": problems}
            assert op is not None
            planned = self.fail_next.get((method, op.operation_id))
            if planned:
                return planned.pop(0), {"retry-after": "0"}, {"message": "injected failure"}
            credential = next((v for k, v in headers.items() if k.lower() == "authorization"), "").split(" ")[-1]
            if credential in self.user_tokens and op.template in USER_OPERATIONS:
                return self._as_user(op, self.user_tokens[credential], query)
            auth_error = self._auth(op, headers)
            if auth_error:
                return 401, {}, {"message": auth_error}
            handler = getattr(self, "op_" + re.sub(r"\W", "_", op.operation_id), None)
            if handler is None:
                self.violations.append(f"{op.operation_id}: not implemented by the local server")
                return 501, {}, {"message": f"{op.operation_id} is not implemented here"}
            repo = None
            if "owner" in op.params and "repo" in op.params:
                repo = self.repos.get(f"{op.params['owner']}/{op.params['repo']}")
                if repo is None:
                    return 404, {}, {"message": "Not Found"}
                installation = self.tokens.get(headers.get("Authorization", headers.get("authorization", "")).split(" ")[-1])
                if repo.full_name not in self.installations.get(installation or -1, set()):
                    return 404, {}, {"message": "Not Found (not installed on this repository)"}
            return handler(op, repo, query, data or {})

    def readable(self, repo: Repo, login: str) -> bool:
        """Whether ``login`` has explicit access to ``repo`` (its owner, or a collaborator)."""
        return repo.owner == login or repo.permissions.get(login, "none") != "none"

    def _as_user(self, op: Operation, login: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], Any]:
        """A signed-in user's token (user-to-server): who they are, the App's installations and
        repositories they can reach, and a repository they may read (404 otherwise, as GitHub)."""
        if op.template == "/user":
            return 200, {}, _user(login)
        if op.template == "/repos/{owner}/{repo}":
            repo = self.repos.get(f"{op.params['owner']}/{op.params['repo']}")
            if repo is None or (repo.private and not self.readable(repo, login)):
                return 404, {}, {"message": "Not Found"}
            return self.op_repos_get(op, repo, query, {})
        mine = {i: [self.repos[n] for n in sorted(names) if self.readable(self.repos[n], login)]
                for i, names in sorted(self.installations.items())}
        if op.template == "/user/installations":
            found = [{"id": i, "app_id": self.app_id, "target_type": "Organization", "account": _user(repos[0].owner)}
                     for i, repos in mine.items() if repos]
            return 200, {}, {"total_count": len(found), "installations": self._page(found, query)}
        repos = mine.get(int(op.params["installation_id"])) or []
        if not repos:
            return 404, {}, {"message": "Not Found"}
        found = [self.op_repos_get(op, r, query, {})[2] for r in repos]
        return 200, {}, {"total_count": len(found), "repositories": self._page(found, query)}

    def _auth(self, op: Operation, headers: dict[str, str]) -> str | None:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, credential = value.partition(" ")
        if op.template.startswith("/applications/{client_id}/"):  # the OAuth app's own credentials (basic)
            try:
                pair = base64.b64decode(credential).decode() if scheme.lower() == "basic" else ""
            except ValueError:
                pair = ""
            return None if tuple(pair.split(":", 1)) == self.oauth_client else "Bad credentials (basic client_id:client_secret)"
        if op.template.startswith("/app-manifests/"):
            return None  # the code is the credential
        if op.template == "/app" or op.template.startswith("/app/"):
            if scheme.lower() != "bearer":
                return "an app JWT is required"
            try:
                claims = jwt.decode(credential, self.public_key, algorithms=["RS256"])
            except jwt.PyJWTError as exc:
                return f"bad JWT: {exc}"
            if str(claims.get("iss")) != str(self.app_id):
                return "JWT issuer is not this app"
            if claims["exp"] - time.time() > 600:
                return "'Expiration time' claim ('exp') is too far in the future"
            return None
        if op.template == "/user":
            return None if credential in self.user_tokens else "Bad credentials"
        if scheme.lower() not in ("token", "bearer") or credential not in self.tokens:
            return "Bad credentials"
        return None

    # ---------------------------------------------------------------- operations

    def op_apps_delete_token(self, op, repo, query, data):
        """``DELETE /applications/{client_id}/token``: the user's token stops working."""
        if op.params["client_id"] != self.oauth_client[0]:
            return 404, {}, {"message": "Not Found"}
        if self.user_tokens.pop(data.get("access_token", ""), None) is None:
            return 404, {}, {"message": "Not Found"}
        self.revoked.append(data["access_token"])
        return 204, {}, b""

    def op_apps_create_installation_access_token(self, op, repo, query, data):
        installation = int(op.params["installation_id"])
        if installation not in self.installations:
            return 404, {}, {"message": "Not Found"}
        token = f"ghs_{self.next_id()}x{installation}"
        self.tokens[token] = installation
        return 201, {}, {"token": token, "expires_at": "2099-01-01T00:00:00Z", "permissions": {}}

    def op_apps_create_from_manifest(self, op, repo, query, data):
        if op.params["code"] not in self.manifest_codes:
            return 404, {}, {"message": "Not Found"}
        self.manifest_codes.discard(op.params["code"])  # single use
        return 201, {}, {"id": self.app_id, "slug": self.slug, "name": "PVE (test)", "pem": self.manifest_pem,
                         "webhook_secret": "s3cret-from-github", "client_id": "Iv1.x", "client_secret": "cs",
                         "html_url": f"https://github.com/apps/{self.slug}", "owner": _user("octo")}

    def op_apps_get_authenticated(self, op, repo, query, data):
        return 200, {}, {"id": self.app_id, "slug": self.slug, "name": "PVE (test)", "owner": _user("octo")}

    def op_repos_get(self, op, repo, query, data):
        return 200, {}, {"id": repo.id, "name": repo.name, "full_name": repo.full_name, "private": repo.private,
                         "default_branch": repo.default_branch, "owner": _user(repo.owner)}

    def op_repos_get_collaborator_permission_level(self, op, repo, query, data):
        login = op.params["username"]
        perm = repo.permissions.get(login, "none" if login != repo.owner else "admin")
        legacy = {"maintain": "write", "triage": "read"}.get(perm, perm)
        return 200, {}, {"permission": legacy, "role_name": perm, "user": _user(login)}

    def op_reactions_create_for_issue_comment(self, op, repo, query, data):
        cid = int(op.params["comment_id"])
        if cid not in repo.comments:
            return 404, {}, {"message": "Not Found"}
        for r in repo.reactions:
            if r["comment_id"] == cid and r["content"] == data["content"]:
                return 200, {}, r  # GitHub answers 200 for a reaction that exists
        reaction = {"id": self.next_id(), "comment_id": cid, "content": data["content"], "user": _user(f"{self.slug}[bot]", "Bot")}
        repo.reactions.append(reaction)
        return 201, {}, reaction

    def op_issues_get(self, op, repo, query, data):
        issue = repo.issues.get(int(op.params["issue_number"]))
        return (200, {}, issue) if issue else (404, {}, {"message": "Not Found"})

    def _page(self, items: list[Any], query: dict[str, list[str]]) -> list[Any]:
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        return items[(page - 1) * per_page: page * per_page]

    def op_issues_list_comments(self, op, repo, query, data):
        number = int(op.params["issue_number"])
        items = [c for c in repo.comments.values() if c["issue_number"] == number]
        return 200, {}, self._page(sorted(items, key=lambda c: c["id"]), query)

    def op_issues_create_comment(self, op, repo, query, data):
        number = int(op.params["issue_number"])
        if number not in repo.issues:
            return 404, {}, {"message": "Not Found"}
        if len(data["body"]) > BODY_MAX:
            return 422, {}, {"message": "body is too long (maximum is 65536 characters)"}
        comment = self.add_comment(repo, number, data["body"], user=f"{self.slug}[bot]", association="NONE", kind="Bot")
        return 201, {}, comment

    def op_issues_update_comment(self, op, repo, query, data):
        comment = repo.comments.get(int(op.params["comment_id"]))
        if comment is None:
            return 404, {}, {"message": "Not Found"}
        if len(data["body"]) > BODY_MAX:
            return 422, {}, {"message": "body is too long (maximum is 65536 characters)"}
        comment.setdefault("history", []).append(comment["body"])  # earlier bodies, for tests
        comment.update(body=data["body"], updated_at=_now())
        return 200, {}, comment

    def op_pulls_get(self, op, repo, query, data):
        pull = repo.pulls.get(int(op.params["pull_number"]))
        return (200, {}, pull) if pull else (404, {}, {"message": "Not Found"})

    def op_pulls_list(self, op, repo, query, data):
        pulls = list(repo.pulls.values())
        if "head" in query:
            owner, _, branch = query["head"][0].partition(":")
            pulls = [p for p in pulls if p["head"]["ref"] == branch and p["head"]["repo"]["full_name"].split("/")[0] == owner]
        state = query.get("state", ["open"])[0]
        pulls = [p for p in pulls if state == "all" or p["state"] == state]
        return 200, {}, self._page(pulls, query)

    def op_pulls_list_commits(self, op, repo, query, data):
        pull = repo.pulls.get(int(op.params["pull_number"]))
        if pull is None:
            return 404, {}, {"message": "Not Found"}
        chain, sha = [], pull["head"]["sha"]
        while sha and sha != pull["base"]["sha"]:
            commit = repo.commits[sha]
            chain.append({"sha": sha, "commit": {"message": commit["message"], "tree": {"sha": commit["tree"]}},
                          "parents": [{"sha": p} for p in commit["parents"]]})
            sha = commit["parents"][0] if commit["parents"] else ""
        return 200, {}, self._page(list(reversed(chain)), query)

    def op_pulls_list_files(self, op, repo, query, data):
        number = int(op.params["pull_number"])
        if number not in repo.pulls:
            return 404, {}, {"message": "Not Found"}
        files = [{"filename": p, "status": "modified", "patch": patch} for p, patch in self.pull_patches(repo, number).items()]
        return 200, {}, self._page(files, query)

    def op_pulls_create(self, op, repo, query, data):
        head = data["head"].split(":")[-1]
        if f"heads/{head}" not in repo.refs:
            return 422, {}, {"message": f"head {head!r} does not exist"}
        if any(p["head"]["ref"] == head and p["state"] == "open" for p in repo.pulls.values()):
            return 422, {}, {"message": f"A pull request already exists for {repo.owner}:{head}."}
        number = len(repo.issues) + 1
        head_sha = repo.refs[f"heads/{head}"]
        base_sha = repo.refs.get(f"heads/{data['base']}")
        if base_sha is None:
            return 422, {}, {"message": f"base {data['base']!r} does not exist"}
        repo.issues[number] = {"number": number, "title": data["title"], "body": data.get("body", ""),
                               "user": _user(f"{self.slug}[bot]", "Bot"), "state": "open", "pull_request": {}}
        pull = {"number": number, "title": data["title"], "body": data.get("body", ""), "state": "open",
                "head": {"ref": head, "sha": head_sha, "repo": {"full_name": repo.full_name, "fork": False}},
                "base": {"ref": data["base"], "sha": base_sha, "repo": {"full_name": repo.full_name}},
                "maintainer_can_modify": False, "user": _user(f"{self.slug}[bot]", "Bot"),
                "draft": bool(data.get("draft", False)),
                "html_url": f"https://github.com/{repo.full_name}/pull/{number}"}
        repo.pulls[number] = pull
        return 201, {}, pull

    def op_pulls_list_reviews(self, op, repo, query, data):
        number = int(op.params["pull_number"])
        return 200, {}, self._page([r for r in repo.reviews if r["pull_number"] == number], query)

    def op_pulls_create_review(self, op, repo, query, data):
        number = int(op.params["pull_number"])
        if number not in repo.pulls:
            return 404, {}, {"message": "Not Found"}
        if len(data.get("body", "")) > BODY_MAX:
            return 422, {}, {"message": "body is too long"}
        hunks = {path: _hunk_ranges(patch) for path, patch in self.pull_patches(repo, number).items()}
        for c in data.get("comments", []):
            start, end = c.get("start_line", c.get("line")), c.get("line")
            ranges = hunks.get(c["path"], [])
            if start is None or end is None or not any(lo <= start <= end <= hi for lo, hi in ranges):
                return 422, {}, {"message": "Unprocessable Entity",
                                 "errors": [f"pull_request_review_thread.line must be part of the diff ({c['path']}:{start}-{end})"]}
        review = {"id": self.next_id(), "pull_number": number, "body": data.get("body", ""), "event": data.get("event"),
                  "state": "COMMENTED" if data.get("event") == "COMMENT" else "PENDING",
                  "comments": data.get("comments", []), "commit_id": data.get("commit_id"), "user": _user(f"{self.slug}[bot]", "Bot")}
        repo.reviews.append(review)
        return 200, {}, review

    # git data

    def op_git_get_ref(self, op, repo, query, data):
        ref = op.params["ref"]
        if ref not in repo.refs:
            return 404, {}, {"message": "Not Found"}
        return 200, {}, {"ref": f"refs/{ref}", "object": {"sha": repo.refs[ref], "type": "commit"}}

    def op_git_create_ref(self, op, repo, query, data):
        ref = data["ref"].removeprefix("refs/")
        if not data["ref"].startswith("refs/") or ref.count("/") < 1:
            return 422, {}, {"message": "Reference name must start with 'refs/' and have two slashes"}
        if ref in repo.refs:
            return 422, {}, {"message": "Reference already exists"}
        if data["sha"] not in repo.commits:
            return 422, {}, {"message": "Object does not exist"}
        repo.refs[ref] = data["sha"]
        return 201, {}, {"ref": data["ref"], "object": {"sha": data["sha"], "type": "commit"}}

    def op_git_update_ref(self, op, repo, query, data):
        ref = op.params["ref"]
        if ref not in repo.refs:
            return 422, {}, {"message": "Reference does not exist"}
        new = data["sha"]
        if new not in repo.commits:
            return 422, {}, {"message": "Object does not exist"}
        if not data.get("force") and repo.refs[ref] not in repo.commits[new]["parents"] and repo.refs[ref] != new:
            return 422, {}, {"message": "Update is not a fast forward"}
        repo.refs[ref] = new
        for pull in repo.pulls.values():
            if f"heads/{pull['head']['ref']}" == ref and pull["head"]["repo"]["full_name"] == repo.full_name:
                pull["head"]["sha"] = new
        return 200, {}, {"ref": f"refs/{ref}", "object": {"sha": new, "type": "commit"}}

    def op_git_get_commit(self, op, repo, query, data):
        commit = repo.commits.get(op.params["commit_sha"])
        if commit is None:
            return 404, {}, {"message": "Not Found"}
        return 200, {}, {"sha": op.params["commit_sha"], "tree": {"sha": commit["tree"]}, "message": commit["message"],
                         "parents": [{"sha": p} for p in commit["parents"]]}

    def op_git_create_tree(self, op, repo, query, data):
        base = data.get("base_tree")
        if base is not None and base not in repo.trees:
            return 422, {}, {"message": "base_tree is not a valid tree"}
        files = dict(repo.trees.get(base, {}))
        for entry in data["tree"]:
            if entry.get("path", "").startswith(".github/workflows/"):
                return 403, {}, {"message": "refusing to allow a GitHub App to create or update workflow without `workflows` permission"}
            if "content" in entry:
                files[entry["path"]] = entry["content"]
            elif entry.get("sha") is None:
                files.pop(entry["path"], None)
            else:
                return 422, {}, {"message": "only content or sha: null is supported here"}
        tree = _sha("tree", sorted(files.items()))
        repo.trees[tree] = files
        return 201, {}, {"sha": tree, "tree": []}

    def op_git_create_commit(self, op, repo, query, data):
        if data["tree"] not in repo.trees or any(p not in repo.commits for p in data.get("parents", [])):
            return 422, {}, {"message": "tree or parent does not exist"}
        sha = _sha("commit", data["tree"], data.get("parents"), data["message"], time.time_ns())
        repo.commits[sha] = {"tree": data["tree"], "parents": data.get("parents", []), "message": data["message"]}
        return 201, {}, {"sha": sha, "tree": {"sha": data["tree"]}, "message": data["message"]}

    # contents and archives

    def op_repos_get_content(self, op, repo, query, data):
        ref = query.get("ref", [repo.default_branch])[0]
        files = repo.files_at(ref)
        if files is None or op.params["path"] not in files:
            return 404, {}, {"message": "Not Found"}
        text = files[op.params["path"]]
        return 200, {}, {"type": "file", "encoding": "base64", "path": op.params["path"],
                         "content": base64.encodebytes(text.encode()).decode(), "size": len(text.encode())}

    def op_repos_download_tarball_archive(self, op, repo, query, data):
        ref = op.params["ref"]
        files = repo.files_at(ref)
        if files is None:
            return 404, {}, {"message": "Not Found"}
        sha = repo.refs.get(f"heads/{ref}", ref)
        top = f"{repo.owner}-{repo.name}-{sha[:7]}"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(top)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
            for path, text in sorted(files.items()):
                raw = text.encode()
                info = tarfile.TarInfo(f"{top}/{path}")
                info.size = len(raw)
                tar.addfile(info, io.BytesIO(raw))
        key = f"/_codeload/{repo.full_name}/{sha}.tar.gz"
        self.blobs[key] = gzip.compress(buf.getvalue())
        return 302, {"Location": self.blob_url + key}, b""

    # checks

    def _check_output_problem(self, data: dict[str, Any]) -> str | None:
        out = data.get("output") or {}
        for k in ("summary", "text"):
            if len(out.get(k) or "") > CHECK_TEXT_MAX:
                return f"output.{k} is too long (maximum is 65535 characters)"
        if len(out.get("annotations") or []) > 50:
            return "at most 50 annotations per request"
        if len(data.get("actions") or []) > 3:
            return "at most 3 actions"
        return None

    def op_checks_create(self, op, repo, query, data):
        problem = self._check_output_problem(data)
        if problem:
            return 422, {}, {"message": problem}
        cid = self.next_id()
        run = {"id": cid, "head_sha": data["head_sha"], "name": data["name"], "status": data.get("status", "queued"),
               "conclusion": data.get("conclusion"), "external_id": data.get("external_id"), "output": data.get("output", {}),
               "actions": data.get("actions", []), "annotations": list((data.get("output") or {}).get("annotations", [])),
               "details_url": data.get("details_url"), "app": {"id": self.app_id}}
        repo.check_runs[cid] = run
        return 201, {}, run

    def op_checks_update(self, op, repo, query, data):
        run = repo.check_runs.get(int(op.params["check_run_id"]))
        if run is None:
            return 404, {}, {"message": "Not Found"}
        problem = self._check_output_problem(data)
        if problem:
            return 422, {}, {"message": problem}
        if data.get("conclusion"):
            data.setdefault("status", "completed")
        for k in ("status", "conclusion", "external_id", "details_url", "actions"):
            if k in data:
                run[k] = data[k]
        if "output" in data:
            run["annotations"].extend(data["output"].get("annotations", []))  # later PATCHes append
            run["output"] = {k: v for k, v in data["output"].items() if k != "annotations"}
        return 200, {}, run

    def op_checks_list_for_ref(self, op, repo, query, data):
        sha = repo.refs.get(f"heads/{op.params['ref']}", op.params["ref"])
        runs = [r for r in repo.check_runs.values() if r["head_sha"] == sha
                and ("check_name" not in query or r["name"] == query["check_name"][0])]
        return 200, {}, {"total_count": len(runs), "check_runs": self._page(runs, query)}

    # actions

    def op_actions_list_jobs_for_workflow_run(self, op, repo, query, data):
        jobs = repo.run_jobs.get(int(op.params["run_id"]))
        if jobs is None:
            return 404, {}, {"message": "Not Found"}
        return 200, {}, {"total_count": len(jobs), "jobs": self._page(jobs, query)}

    def op_actions_download_job_logs_for_workflow_run(self, op, repo, query, data):
        job_id = int(op.params["job_id"])
        if job_id not in repo.job_logs:
            return 404, {}, {"message": "Not Found"}
        key = f"/_logs/{repo.full_name}/{job_id}.txt"
        self.blobs[key] = repo.job_logs[job_id]
        return 302, {"Location": self.blob_url + key}, b""

    def op_repos_list_pull_requests_associated_with_commit(self, op, repo, query, data):
        sha = op.params["commit_sha"]
        return 200, {}, [p for p in repo.pulls.values() if p["head"]["sha"] == sha]


def _hunk_ranges(patch: str) -> list[tuple[int, int]]:
    """New-side line ranges of a patch's hunks (where review comments may go)."""
    out = []
    for m in re.finditer(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", patch, re.M):
        start, count = int(m.group(1)), int(m.group(2) or 1)
        out.append((start, start + max(count, 1) - 1))
    return out


@contextlib.contextmanager
def serve(app_id: int, public_key_pem: str):
    with GitHubAPI(app_id, public_key_pem) as api:
        yield api
