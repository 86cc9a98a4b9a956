"""Local stand-ins for the model providers, speaking their wire protocols on 127.0.0.1.

One HTTP server, four prefixes, each a provider as its real SDK reaches it:

- ``/gemini``   Gemini API ``POST /v1beta/models/{model}:generateContent`` (google-genai, ``x-goog-api-key``)
- ``/deepseek`` OpenAI-style ``POST /chat/completions`` (openai SDK at DeepSeek's URL layout)
- ``/groq``     ``POST /openai/v1/chat/completions`` (groq SDK)
- ``/selfhosted/v1`` ``POST /chat/completions`` (openai SDK at an Ollama / vLLM style endpoint)

Every request is checked against the protocol's shape (method, path, auth header, body
fields, the structured-output setting PVE must send); a violation is answered 400 and kept in
``violations`` so a test fails on it. Replies are scripted per provider: a queue of
``Script`` steps (an answer function of the request, an HTTP error with headers, a delay).
Usage counts are estimated by the server as ceil(characters / 4) of the prompt and of the
answer, the way the real services report tokens (their tokenizers are not available offline).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROVIDERS = ("gemini", "deepseek", "groq", "selfhosted")
_GEMINI_PATH = re.compile(r"^/gemini/v1beta/models/([\w.\-]+):generateContent$")
_CHAT_PATHS = {"deepseek": "/deepseek/chat/completions", "groq": "/groq/openai/v1/chat/completions",
               "selfhosted": "/selfhosted/v1/chat/completions"}


def tokens(text: str) -> int:
    return (len(text) + 3) // 4


@dataclass
class Request:
    provider: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def prompt(self) -> str:
        """All the text PVE sent: system instruction and messages."""
        if self.provider == "gemini":
            parts = [p.get("text", "") for c in self.body.get("contents", []) for p in c.get("parts", [])]
            system = self.body.get("systemInstruction", self.body.get("system_instruction", {}))
            parts += [p.get("text", "") for p in system.get("parts", [])]
            return "\n".join(parts)
        return "\n".join(str(m.get("content", "")) for m in self.body.get("messages", []))


@dataclass
class Script:
    """One scripted reply. ``answer`` gets the request and returns the model's text."""

    answer: Callable[[Request], str] | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def say(text_or_fn: str | Callable[[Request], str]) -> Script:
    return Script(answer=text_or_fn if callable(text_or_fn) else (lambda _r, t=text_or_fn: t))


def error(status: int, **headers: str) -> Script:
    return Script(status=status, headers={k.replace("_", "-"): v for k, v in headers.items()})


def stall(seconds: float) -> Script:
    return Script(answer=lambda _r: "{}", delay_s=seconds)


class ModelServers:
    def __init__(self) -> None:
        self.scripts: dict[str, deque[Script]] = {p: deque() for p in PROVIDERS}
        self.requests: list[Request] = []
        self.violations: list[str] = []
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"servers": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def script(self, provider: str, *steps: Script) -> None:
        self.scripts[provider].extend(steps)

    def env(self, *providers: str, timeout_s: float = 20, max_retry_after_s: float = 5) -> dict[str, str]:
        """The settings that point PVE's real SDK clients here."""
        env = {"PVE_MODEL_TIMEOUT": str(timeout_s), "PVE_MODEL_MAX_RETRY_AFTER": str(max_retry_after_s)}
        if "gemini" in providers:
            env |= {"GEMINI_API_KEY": "test-gemini-key", "PVE_GEMINI_BASE_URL": f"{self.url}/gemini"}
        if "deepseek" in providers:
            env |= {"DEEPSEEK_API_KEY": "test-deepseek-key", "PVE_DEEPSEEK_BASE_URL": f"{self.url}/deepseek"}
        if "groq" in providers:
            env |= {"GROQ_API_KEY": "test-groq-key", "PVE_GROQ_BASE_URL": f"{self.url}/groq"}
        if "selfhosted" in providers:
            env |= {"PVE_OPENAI_BASE_URL": f"{self.url}/selfhosted/v1", "PVE_OPENAI_MODEL": "qwen2.5-coder:7b"}
        return env

    def of(self, provider: str) -> list[Request]:
        return [r for r in self.requests if r.provider == provider]


class _Handler(BaseHTTPRequestHandler):
    servers: ModelServers
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._fail(404, f"GET {self.path}: no such endpoint")

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        raw = self.rfile.read(length)
        provider, problem = self._route()
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            body, problem = {}, problem or "body is not JSON"
        if provider and not problem:
            problem = self._check(provider, body)
        if problem:
            with self.servers._lock:
                self.servers.violations.append(f"POST {self.path}: {problem}")
            self._fail(400, problem)
            return
        req = Request(provider, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        with self.servers._lock:
            self.servers.requests.append(req)
            queue = self.servers.scripts[provider]
            step = queue.popleft() if queue else None
        if step is None:
            with self.servers._lock:
                self.servers.violations.append(f"{provider}: unexpected request (nothing scripted)")
            self._fail(418, "nothing scripted for this request")
            return
        if step.delay_s:
            time.sleep(step.delay_s)
        if step.status != 200:
            self._error(provider, step)
            return
        text = step.answer(req) if step.answer else ""
        self._send(200, self._reply(provider, req, text))

    def _route(self) -> tuple[str, str | None]:
        if _GEMINI_PATH.match(self.path):
            return "gemini", None
        for provider, path in _CHAT_PATHS.items():
            if self.path == path:
                return provider, None
        return "", f"unknown path {self.path}"

    def _check(self, provider: str, body: dict[str, Any]) -> str | None:
        h = {k.lower(): v for k, v in self.headers.items()}
        if provider == "gemini":
            if not h.get("x-goog-api-key"):
                return "missing x-goog-api-key"
            contents = body.get("contents")
            if not isinstance(contents, list) or not contents or not all(
                    isinstance(c, dict) and isinstance(c.get("parts"), list) for c in contents):
                return "contents must be a non-empty list of {role, parts}"
            cfg = body.get("generationConfig", {})
            if cfg.get("responseMimeType") != "application/json":
                return "generationConfig.responseMimeType must be application/json (structured output)"
            if not (cfg.get("responseSchema") or cfg.get("responseJsonSchema")):
                return "generationConfig.responseSchema missing (structured output)"
            return None
        if not h.get("authorization", "").startswith("Bearer "):
            return "missing Authorization: Bearer"
        if not isinstance(body.get("model"), str) or not body["model"]:
            return "model missing"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and m.get("role") in ("system", "user", "assistant") and "content" in m
                for m in messages):
            return "messages must be a non-empty list of {role, content}"
        fmt = body.get("response_format", {})
        want = "json_schema" if provider == "selfhosted" else "json_object"
        if fmt.get("type") != want:
            return f"response_format.type must be {want}"
        if want == "json_schema" and not isinstance(fmt.get("json_schema", {}).get("schema"), dict):
            return "response_format.json_schema.schema missing"
        if want == "json_object" and "json" not in "".join(str(m["content"]) for m in messages).lower():
            return "JSON mode needs the word 'json' in the messages"  # DeepSeek and Groq refuse otherwise
        return None

    def _reply(self, provider: str, req: Request, text: str) -> dict[str, Any]:
        tin, tout = tokens(req.prompt), tokens(text)
        if provider == "gemini":
            model = _GEMINI_PATH.match(self.path).group(1)
            return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"},
                                    "finishReason": "STOP", "index": 0}],
                    "usageMetadata": {"promptTokenCount": tin, "candidatesTokenCount": tout, "totalTokenCount": tin + tout},
                    "modelVersion": model, "responseId": "local-1"}
        return {"id": "chatcmpl-local", "object": "chat.completion", "created": int(time.time()),
                "model": req.body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout}}

    def _error(self, provider: str, step: Script) -> None:
        if provider == "gemini":
            status = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}.get(step.status, "INVALID_ARGUMENT")
            body = {"error": {"code": step.status, "message": f"scripted {step.status}", "status": status}}
        else:
            body = {"error": {"message": f"scripted {step.status}", "type": "scripted", "code": None}}
        self._send(step.status, body, step.headers)

    def _fail(self, status: int, message: str) -> None:
        self._send(status, {"error": {"code": status, "message": message, "status": "INVALID_ARGUMENT"}})

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)
