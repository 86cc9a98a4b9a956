"""The retry and fallback policy for model calls, in one place.

Per request: a timeout (the provider's), a 429 waits out ``retry-after`` once if the wait is
within the bound, a 5xx is retried once; anything else gives up on that provider. Per provider:
an answer that is not valid (JSON, schema, a reproduction that compiles) is asked for once more,
with the reason; then the chain moves to the next provider. Every request is recorded as a
``ModelCall`` with tokens, latency and cost, whatever happened to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import BaseModel

from brain.models.answer import InvalidAnswer, ModelAnswer, parse_answer
from brain.models.pricing import cost_usd
from brain.models.providers import Provider, ProviderError, Reply
from pve.models import ModelCall

Sleep = Callable[[float], Awaitable[None]]
_SERVER_RETRY_DELAY_S = 1.0
_RATE_LIMIT_DEFAULT_WAIT_S = 2.0  # a 429 without retry-after


@dataclass
class CallLog:
    """Where the chain records its calls (the session's BrainReport.calls)."""

    calls: list[ModelCall] = field(default_factory=list)

    def record(self, provider: Provider, purpose: str, outcome: str, reply: Reply | None = None,
               latency_ms: float = 0.0) -> ModelCall:
        cfg = provider.config
        tin, tout = (reply.tokens_in, reply.tokens_out) if reply else (0, 0)
        call = ModelCall(provider=cfg.name, model=cfg.model, purpose=purpose, outcome=outcome, tokens_in=tin,
                         tokens_out=tout, latency_ms=reply.latency_ms if reply else latency_ms,
                         cost_usd=cost_usd(cfg.name, cfg.model, tin, tout))
        self.calls.append(call)
        return call


async def call(provider: Provider, system: str, user: str, schema: type[BaseModel], log: CallLog, *,
               purpose: str, max_retry_after_s: float, sleep: Sleep = asyncio.sleep) -> Reply | None:
    """One request under the transport policy; None when the provider gave up."""
    waited_429 = retried_5xx = False
    while True:
        try:
            reply = await provider.complete(system, user, schema)
        except ProviderError as exc:
            log.record(provider, purpose, exc.outcome(), latency_ms=exc.latency_ms)
            if exc.kind == "rate_limited" and not waited_429:
                wait = _RATE_LIMIT_DEFAULT_WAIT_S if exc.retry_after is None else exc.retry_after
                if wait <= max_retry_after_s:
                    waited_429 = True
                    await sleep(wait)
                    continue
            if exc.kind == "server" and not retried_5xx:
                retried_5xx = True
                await sleep(min(_SERVER_RETRY_DELAY_S, max_retry_after_s))
                continue
            return None
        except Exception as exc:  # an SDK bug or an answer it cannot decode: never crash a verification
            log.record(provider, purpose, f"failed: {type(exc).__name__}: {str(exc)[:160]}")
            return None
        log.record(provider, purpose, "ok", reply)
        return reply


@dataclass
class Answer:
    provider: Provider
    answer: ModelAnswer


async def answers(generators: list[Provider], prompt_for: Callable[[Provider], tuple[str, str]], log: CallLog, *,
                  max_retry_after_s: float, sleep: Sleep = asyncio.sleep) -> AsyncIterator[Answer]:
    """Valid answers, one per provider that gives one, in chain order. The caller stops iterating
    as soon as an answer yields a verified fix, so later providers are only asked when needed."""
    for provider in generators:
        system, user = prompt_for(provider)
        for attempt in (1, 2):
            reply = await call(provider, system, user, ModelAnswer, log, purpose="generate",
                               max_retry_after_s=max_retry_after_s, sleep=sleep)
            if reply is None:
                break  # transport gave up: next provider
            try:
                parsed = parse_answer(reply.text)
            except InvalidAnswer as exc:
                log.calls[-1] = log.calls[-1].model_copy(update={"outcome": f"invalid: {exc}"[:200]})
                if attempt == 1:
                    user = (f"{user}\n\nYour previous answer was rejected: {exc}. Answer again with only "
                            "the JSON object described above.")
                continue
            yield Answer(provider, parsed)
            break
