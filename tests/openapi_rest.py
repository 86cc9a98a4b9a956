"""GitHub's official REST description (npm ``@octokit/openapi``) as a request checker.

The local GitHub server (``tests/github_api.py``) asks it about every request PVE sends: is there
such an operation (path and method), are the query parameters ones GitHub knows, and does the
JSON body fit the operation's schema? Any "no" is a test failure, so PVE cannot drift from the
real API while only ever talking to a local server.

The spec is OpenAPI 3.0 (``nullable: true`` instead of JSON Schema's ``"null"`` type); it is
rewritten into draft-4 JSON Schema once, then checked with ``jsonschema``.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "node_modules" / "@octokit" / "openapi" / "generated" / "api.github.com.json"
_URI = "urn:github-rest"


@dataclass(frozen=True)
class Operation:
    template: str  # e.g. "/repos/{owner}/{repo}/issues/{issue_number}/comments"
    method: str
    operation_id: str
    params: dict[str, str]  # path parameters from the URL
    query: frozenset[str]  # query parameter names the operation accepts
    body_pointer: str | None  # JSON pointer to the request body's schema in the spec
    body_required: bool


def _nullable_to_jsonschema(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable_to_jsonschema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_jsonschema(v) for k, v in node.items()}
    if out.pop("nullable", False):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


class RestDescription:
    def __init__(self, path: Path = SPEC) -> None:
        if not path.exists():
            raise RuntimeError(f"{path} is missing: run `npm ci` (scripts/install.sh does)")
        raw = json.loads(path.read_text(encoding="utf-8"))
        self.version = raw["info"]["version"]
        self.spec = _nullable_to_jsonschema(raw)
        self.registry = Registry().with_resource(_URI, Resource(contents=self.spec, specification=DRAFT4))
        self.routes: list[tuple[re.Pattern[str], str, int, tuple[str, ...]]] = []
        for template in self.spec["paths"]:
            # The last parameter may hold slashes (a ref like heads/pve/fix-1, a file path).
            parts = re.split(r"(\{[^}]+\})", template)
            rx, names = "", []
            for i, part in enumerate(parts):
                if part.startswith("{"):
                    last = i >= len(parts) - 2 and not parts[-1]
                    rx += f"({'.+' if last else '[^/]+'})"
                    names.append(part[1:-1])
                else:
                    rx += re.escape(part)
            literal = sum(len(p) for p in parts if not p.startswith("{"))
            self.routes.append((re.compile(f"^{rx}$"), template, literal, tuple(names)))
        self.routes.sort(key=lambda r: -r[2])  # most literal first: /git/ref/{ref} before /{a}/{b}

    def _param(self, p: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in p:
            node: Any = self.spec
            for key in p["$ref"].lstrip("#/").split("/"):
                node = node[key]
            return node
        return p

    def operation(self, method: str, path: str) -> Operation | None:
        method = method.lower()
        for rx, template, _, names in self.routes:
            m = rx.match(path)
            if not m or method not in self.spec["paths"][template]:
                continue
            op = self.spec["paths"][template][method]
            params = [self._param(p) for p in op.get("parameters", [])]
            body = op.get("requestBody")
            pointer = None
            if body and "application/json" in body.get("content", {}):
                esc = template.replace("~", "~0").replace("/", "~1")
                pointer = f"#/paths/{esc}/{method}/requestBody/content/application~1json/schema"
            return Operation(template, method, op.get("operationId", ""), dict(zip(names, m.groups(), strict=True)),
                             frozenset(p["name"] for p in params if p.get("in") == "query"),
                             pointer, bool(body and body.get("required")))
        return None

    @functools.lru_cache(maxsize=256)  # noqa: B019 (one instance per test session)
    def _validator(self, pointer: str) -> jsonschema.Draft4Validator:
        return jsonschema.Draft4Validator({"$ref": _URI + pointer}, registry=self.registry)

    def check(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[Operation | None, list[str]]:
        """The operation a request is for, and what is wrong with it (empty: nothing)."""
        op = self.operation(method, path)
        if op is None:
            return None, [f"{method} {path}: no such operation in GitHub's REST description {self.version}"]
        problems = [f"{op.operation_id}: unknown query parameter {k!r}" for k in query if k not in op.query]
        if not body:
            if op.body_required and method.upper() != "GET":
                problems.append(f"{op.operation_id}: a request body is required")
            return op, problems
        if op.body_pointer is None:
            return op, [*problems, f"{op.operation_id}: takes no JSON body"]
        try:
            data = json.loads(body)
        except ValueError as exc:
            return op, [*problems, f"{op.operation_id}: body is not JSON ({exc})"]
        for err in self._validator(op.body_pointer).iter_errors(data):
            where = "/".join(str(p) for p in err.absolute_path) or "(body)"
            problems.append(f"{op.operation_id}: {where}: {err.message[:300]}")
        return op, problems


@functools.lru_cache(maxsize=1)
def rest_description() -> RestDescription:
    return RestDescription()
