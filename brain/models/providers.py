"""Model providers behind one small interface: a system text and a user text in, JSON text out.

- Gemini through ``google-genai`` (native structured output: a response schema);
- DeepSeek through the ``openai`` SDK at DeepSeek's base URL (JSON mode);
- any OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp) through the ``openai`` SDK (JSON schema);
- Groq through the ``groq`` SDK (JSON mode), used as the fast error categorizer.

The SDKs' own retries are off (``max_retries=0``; google-genai retries only when asked): the
retry and fallback policy lives in one place, ``brain.models.chain``. Every failure becomes a
``ProviderError`` with a kind the policy understands. SDKs are imported on first use, so PVE
starts as fast without keys as before.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from pve.errors import BadInput
from pve.settings import env_int, env_number

GENERATORS = ("gemini", "deepseek", "openai")
_DEFAULT_MODEL = {"gemini": "gemini-2.5-flash", "deepseek": "deepseek-chat", "groq": "llama-3.1-8b-instant"}
_DEFAULT_URL = {"deepseek": "https://api.deepseek.com"}
# Context each provider is given (estimated tokens). Self-hosted models often run with small windows.
_DEFAULT_CONTEXT = {"gemini": 60_000, "deepseek": 40_000, "openai": 8_000, "groq": 2_000}


@dataclass(frozen=True)
class ProviderConfig:
    name: str  # gemini | deepseek | openai | groq
    model: str
    api_key: str
    base_url: str | None
    timeout_s: float
    context_tokens: int

    def label(self) -> str:
        return f"{self.name}:{self.model}"


@dataclass(frozen=True)
class BrainConfig:
    """Which providers are on, from keys in the environment / config file / AWS (pve.config)."""

    generators: tuple[ProviderConfig, ...] = ()
    categorizer: ProviderConfig | None = None
    candidates: int = 3  # candidates asked of each generator
    max_retry_after_s: float = 20.0  # a 429 asking to wait longer than this falls back instead

    @property
    def off_reason(self) -> str | None:
        if self.generators:
            return None
        return ("model brain off: no GEMINI_API_KEY, DEEPSEEK_API_KEY or PVE_OPENAI_BASE_URL set "
                "(the offline engine still runs)")

    def describe(self) -> str:
        return self.off_reason or " -> ".join(p.label() for p in self.generators)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BrainConfig:
        timeout = env_number(env, "PVE_MODEL_TIMEOUT", 60.0, 1, 600)
        found: dict[str, ProviderConfig] = {}
        for name, key_var in (("gemini", "GEMINI_API_KEY"), ("deepseek", "DEEPSEEK_API_KEY"),
                              ("groq", "GROQ_API_KEY")):
            key = env.get(key_var, "").strip()
            if key:
                up = name.upper()
                found[name] = ProviderConfig(
                    name=name, model=env.get(f"PVE_{up}_MODEL") or _DEFAULT_MODEL[name], api_key=key,
                    base_url=env.get(f"PVE_{up}_BASE_URL") or _DEFAULT_URL.get(name), timeout_s=timeout,
                    context_tokens=env_int(env, f"PVE_{up}_CONTEXT_TOKENS", _DEFAULT_CONTEXT[name], 500, 2_000_000))
        if env.get("PVE_OPENAI_BASE_URL"):
            if not env.get("PVE_OPENAI_MODEL"):
                raise BadInput("PVE_OPENAI_BASE_URL is set but PVE_OPENAI_MODEL is not (which model does the endpoint serve?)")
            found["openai"] = ProviderConfig(
                name="openai", model=env["PVE_OPENAI_MODEL"], api_key=env.get("PVE_OPENAI_API_KEY") or "none",
                base_url=env["PVE_OPENAI_BASE_URL"], timeout_s=timeout,
                context_tokens=env_int(env, "PVE_OPENAI_CONTEXT_TOKENS", _DEFAULT_CONTEXT["openai"], 500, 2_000_000))
        order = [x.strip() for x in env.get("PVE_MODEL_ORDER", ",".join(GENERATORS)).split(",") if x.strip()]
        unknown = [x for x in order if x not in GENERATORS]
        if unknown:
            raise BadInput(f"PVE_MODEL_ORDER: unknown provider {unknown[0]!r} (use {', '.join(GENERATORS)})")
        return cls(generators=tuple(found[x] for x in order if x in found), categorizer=found.get("groq"),
                   candidates=env_int(env, "PVE_MODEL_CANDIDATES", 3, 1, 10),
                   max_retry_after_s=env_number(env, "PVE_MODEL_MAX_RETRY_AFTER", 20.0, 0, 600))


@dataclass
class Reply:
    text: str
    tokens_in: int
    tokens_out: int
    latency_ms: float


class ProviderError(Exception):
    """A request that did not produce text. ``kind``: timeout, rate_limited, server, client, connection."""

    def __init__(self, kind: str, detail: str, *, status: int | None = None, retry_after: float | None = None,
                 latency_ms: float = 0.0) -> None:
        super().__init__(detail)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.latency_ms = latency_ms

    def outcome(self) -> str:
        words = {"timeout": "timeout", "rate_limited": "rate limited", "server": "server error",
                 "client": "refused", "connection": "connection failed"}[self.kind]
        return f"{words} ({self.status})" if self.status else words


class Provider(Protocol):
    config: ProviderConfig

    async def complete(self, system: str, user: str, schema: type[BaseModel]) -> Reply: ...

    async def aclose(self) -> None:
        """Close the SDK's HTTP connections inside the event loop that opened them."""
        ...


def make(config: ProviderConfig) -> Provider:
    if config.name == "gemini":
        return GeminiProvider(config)
    if config.name == "groq":
        return ChatProvider(config, sdk="groq", structured="json_object")
    if config.name == "deepseek":
        return ChatProvider(config, sdk="openai", structured="json_object")
    return ChatProvider(config, sdk="openai", structured="json_schema")


def _retry_after(headers: Any) -> float | None:
    raw = headers.get("retry-after") if headers is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None  # an HTTP date: treat as unknown rather than parse clocks we do not trust


async def _bounded(coro: Any, timeout_s: float, started: float) -> Any:
    """The SDK call under PVE's own wall clock too: a stalled stream must not stall a verification."""
    try:
        return await asyncio.wait_for(coro, timeout_s + 1.0)
    except TimeoutError:
        raise ProviderError("timeout", f"no answer in {timeout_s:g} s",
                            latency_ms=(time.monotonic() - started) * 1000) from None


class GeminiProvider:
    def __init__(self, config: ProviderConfig) -> None:
        from google import genai
        from google.genai import types

        self.config = config
        self._types = types
        http = types.HttpOptions(base_url=config.base_url, timeout=int(config.timeout_s * 1000))
        self._client = genai.Client(api_key=config.api_key, http_options=http)

    async def complete(self, system: str, user: str, schema: type[BaseModel]) -> Reply:
        import httpx
        from google.genai import errors

        t0 = time.monotonic()
        cfg = self._types.GenerateContentConfig(system_instruction=system, temperature=0.2,
                                                response_mime_type="application/json", response_schema=schema)
        try:
            resp = await _bounded(self._client.aio.models.generate_content(
                model=self.config.model, contents=user, config=cfg), self.config.timeout_s, t0)
        except errors.APIError as exc:
            ms = (time.monotonic() - t0) * 1000
            code = int(exc.code or 0)
            headers = getattr(exc.response, "headers", None)
            if code == 429:
                raise ProviderError("rate_limited", str(exc.message), status=429,
                                    retry_after=_retry_after(headers), latency_ms=ms) from None
            kind = "server" if code >= 500 else "client"
            raise ProviderError(kind, str(exc.message or exc), status=code or None, latency_ms=ms) from None
        except httpx.TimeoutException:
            raise ProviderError("timeout", f"no answer in {self.config.timeout_s:g} s",
                                latency_ms=(time.monotonic() - t0) * 1000) from None
        except httpx.TransportError as exc:
            raise ProviderError("connection", str(exc) or type(exc).__name__,
                                latency_ms=(time.monotonic() - t0) * 1000) from None
        usage = resp.usage_metadata
        tokens_in = (usage.prompt_token_count or 0) if usage else 0
        tokens_out = ((usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)) if usage else 0
        try:
            text = resp.text or ""
        except ValueError:  # no text part (e.g. blocked): an empty answer, judged by the parser
            text = ""
        return Reply(text=text, tokens_in=tokens_in, tokens_out=tokens_out,
                     latency_ms=(time.monotonic() - t0) * 1000)

    async def aclose(self) -> None:
        await self._client.aio.aclose()


class ChatProvider:
    """OpenAI-style chat completions: DeepSeek and self-hosted endpoints (openai SDK), Groq (groq SDK)."""

    def __init__(self, config: ProviderConfig, *, sdk: str, structured: str) -> None:
        # The two SDKs share one shape (client, errors); typed as Any so one code path serves both.
        module: Any
        client: Any
        if sdk == "groq":
            import groq
            module = groq
            client = groq.AsyncGroq(api_key=config.api_key, base_url=config.base_url,
                                    timeout=config.timeout_s, max_retries=0)
        else:
            import openai
            module = openai
            client = openai.AsyncOpenAI(api_key=config.api_key, base_url=config.base_url,
                                        timeout=config.timeout_s, max_retries=0)
        self.config = config
        self._sdk = module
        self._client = client
        self._structured = structured

    async def aclose(self) -> None:
        await self._client.close()

    def _response_format(self, schema: type[BaseModel]) -> dict[str, Any]:
        if self._structured == "json_schema":
            return {"type": "json_schema",
                    "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema()}}
        return {"type": "json_object"}

    async def complete(self, system: str, user: str, schema: type[BaseModel]) -> Reply:
        sdk = self._sdk
        t0 = time.monotonic()
        if self._structured == "json_object":
            # JSON mode needs the schema in words: it only promises *some* JSON object.
            system = f"{system}\n\nAnswer with one JSON object matching this JSON schema:\n" \
                     f"{json.dumps(schema.model_json_schema(), separators=(',', ':'))}"
        try:
            resp = await _bounded(self._client.chat.completions.create(
                model=self.config.model, temperature=0.2, response_format=self._response_format(schema),
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}]),
                self.config.timeout_s, t0)
        except sdk.APITimeoutError:
            raise ProviderError("timeout", f"no answer in {self.config.timeout_s:g} s",
                                latency_ms=(time.monotonic() - t0) * 1000) from None
        except sdk.APIStatusError as exc:
            ms = (time.monotonic() - t0) * 1000
            if exc.status_code == 429:
                raise ProviderError("rate_limited", exc.message, status=429,
                                    retry_after=_retry_after(exc.response.headers), latency_ms=ms) from None
            kind = "server" if exc.status_code >= 500 else "client"
            raise ProviderError(kind, exc.message, status=exc.status_code, latency_ms=ms) from None
        except sdk.APIConnectionError as exc:
            raise ProviderError("connection", str(exc), latency_ms=(time.monotonic() - t0) * 1000) from None
        except sdk.APIResponseValidationError as exc:
            raise ProviderError("server", f"malformed response: {exc}",
                                latency_ms=(time.monotonic() - t0) * 1000) from None
        text = resp.choices[0].message.content if resp.choices else ""
        usage = resp.usage
        return Reply(text=text or "", tokens_in=usage.prompt_tokens if usage else 0,
                     tokens_out=usage.completion_tokens if usage else 0,
                     latency_ms=(time.monotonic() - t0) * 1000)
