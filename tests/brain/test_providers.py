"""The model providers and the fallback chain, through the real SDKs (google-genai, openai, groq)
against local servers that speak each provider's wire protocol."""

from __future__ import annotations

import asyncio
import json

import pytest

from brain.models.answer import ModelAnswer
from brain.models.categorize import ErrorClass, classify
from brain.models.chain import CallLog, answers, call
from brain.models.providers import BrainConfig, make
from pve.errors import BadInput
from pve.models import Analysis, Category, ExceptionInfo, Frame
from tests.model_servers import ModelServers, error, say, stall

GOOD = json.dumps({"reproduction": "import app\nprint('ok')\n",
                   "candidates": [{"rationale": "fix it", "edits": [{"file": "app.py", "search": "a", "replace": "b"}]}]})


@pytest.fixture
def servers():
    s = ModelServers()
    yield s
    s.close()


def _chain(servers, *providers, **kw):
    cfg = BrainConfig.from_env(servers.env(*providers, **kw))
    return cfg, [make(p) for p in cfg.generators]


async def _collect(providers, log, max_retry_after_s=5.0):
    got = []
    async for a in answers(providers, lambda p: ("system: answer in json", "user"), log, max_retry_after_s=max_retry_after_s):
        got.append(a)
        break
    return got


def test_each_provider_answers_through_its_sdk_with_structured_output(servers):
    for p in ("gemini", "deepseek", "groq", "selfhosted"):
        servers.script(p, say(GOOD))
    cfg = BrainConfig.from_env(servers.env("gemini", "deepseek", "groq", "selfhosted"))
    assert [p.name for p in cfg.generators] == ["gemini", "deepseek", "openai"]
    assert cfg.categorizer is not None and cfg.categorizer.model == "llama-3.1-8b-instant"

    async def run():
        out = []
        for pc in (*cfg.generators, cfg.categorizer):
            out.append(await make(pc).complete("Answer in JSON.", "the bug", ModelAnswer))
        return out

    replies = asyncio.run(run())
    assert servers.violations == []
    assert all(ModelAnswer.model_validate_json(r.text) for r in replies)
    assert all(r.tokens_in > 0 and r.tokens_out > 0 for r in replies)
    gemini = servers.of("gemini")[0]
    assert gemini.path == "/gemini/v1beta/models/gemini-2.5-flash:generateContent"
    assert gemini.headers["x-goog-api-key"] == "test-gemini-key"
    schema = gemini.body["generationConfig"]["responseSchema"]
    assert set(schema["properties"]) == {"reproduction", "candidates"}
    assert servers.of("deepseek")[0].body["model"] == "deepseek-chat"
    assert servers.of("deepseek")[0].body["response_format"] == {"type": "json_object"}
    assert servers.of("selfhosted")[0].body["response_format"]["type"] == "json_schema"
    assert servers.of("groq")[0].headers["authorization"] == "Bearer test-groq-key"


def test_invalid_json_twice_falls_back_to_deepseek(servers):
    servers.script("gemini", say("Sure! Here is the fix: {reproduction: ..."), say('{"reproduction": "x = 1"}'))
    servers.script("deepseek", say(GOOD))
    _cfg, providers = _chain(servers, "gemini", "deepseek")
    log = CallLog()
    got = asyncio.run(_collect(providers, log))
    assert [a.provider.config.name for a in got] == ["deepseek"]
    assert [(c.provider, c.outcome.split(":")[0]) for c in log.calls] == [
        ("gemini", "invalid"), ("gemini", "invalid"), ("deepseek", "ok")]
    assert "not valid JSON" in log.calls[0].outcome and "candidates" in log.calls[1].outcome
    # the retry told the model what was wrong
    assert "Your previous answer was rejected: not valid JSON" in servers.of("gemini")[1].prompt
    assert servers.violations == []


def test_timeout_429_and_500_fall_back_without_crashing(servers):
    servers.script("gemini", stall(3))  # past the 1 s timeout
    servers.script("deepseek", error(429, retry_after="3600"))  # asks for longer than the bound: no wait
    servers.script("selfhosted", error(500), error(503))  # retried once, then given up
    _cfg, providers = _chain(servers, "gemini", "deepseek", "selfhosted", timeout_s=1, max_retry_after_s=5)
    log = CallLog()
    got = asyncio.run(_collect(providers, log))
    assert got == []
    assert [(c.provider, c.outcome) for c in log.calls] == [
        ("gemini", "timeout"), ("deepseek", "rate limited (429)"),
        ("openai", "server error (500)"), ("openai", "server error (503)")]
    assert all(c.tokens_in == 0 and c.tokens_out == 0 for c in log.calls)  # nothing billed for failures


def test_429_retry_after_within_the_bound_is_honoured(servers):
    servers.script("gemini", error(429, retry_after="1"), say(GOOD))
    _cfg, providers = _chain(servers, "gemini")
    log = CallLog()
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    async def run():
        return await call(providers[0], "json please", "u", ModelAnswer, log, purpose="generate",
                          max_retry_after_s=5, sleep=sleep)

    reply = asyncio.run(run())
    assert reply is not None and slept == [1.0]
    assert [c.outcome for c in log.calls] == ["rate limited (429)", "ok"]


def test_a_500_then_an_answer_is_retried_once(servers):
    servers.script("deepseek", error(500), say(GOOD))
    _cfg, providers = _chain(servers, "deepseek")
    log = CallLog()
    got = asyncio.run(_collect(providers, log, max_retry_after_s=0))
    assert len(got) == 1 and [c.outcome for c in log.calls] == ["server error (500)", "ok"]


def test_unreachable_provider_is_a_recorded_failure(servers):
    cfg = BrainConfig.from_env({"DEEPSEEK_API_KEY": "k", "PVE_DEEPSEEK_BASE_URL": "http://127.0.0.1:9/v1",
                                "PVE_MODEL_TIMEOUT": "2"})
    log = CallLog()
    got = asyncio.run(_collect([make(p) for p in cfg.generators], log))
    assert got == [] and log.calls[0].outcome == "connection failed"


def test_cost_is_recorded_from_token_counts_and_published_prices(servers):
    servers.script("gemini", say(GOOD))
    _cfg, providers = _chain(servers, "gemini")
    log = CallLog()
    asyncio.run(_collect(providers, log))
    c = log.calls[0]
    assert c.tokens_in > 0 and c.tokens_out > 0
    assert c.cost_usd == pytest.approx((c.tokens_in * 0.30 + c.tokens_out * 2.50) / 1e6)


def _analysis() -> Analysis:
    exc = ExceptionInfo(type="KeyError", qualified_type="KeyError", message="'port'",
                        frames=[Frame(file="app.py", line=3, function="load", code="return cfg['port']",
                                      project_path="app.py")])
    return Analysis(exception=exc, category=Category.KEY, failing_frame=exc.frames[0], project_frames=exc.frames)


def test_groq_classifies_and_offline_steps_in_when_it_cannot(servers):
    servers.script("groq", say('{"error_class": "data", "reason": "missing key"}'), error(500), error(500),
                   say("not json"))
    cfg = BrainConfig.from_env(servers.env("groq"))
    groq = make(cfg.categorizer)

    async def run():
        log = CallLog()
        first = await classify(groq, _analysis(), "return cfg['port']", log, max_retry_after_s=0)
        second = await classify(groq, _analysis(), None, log, max_retry_after_s=0)
        third = await classify(groq, _analysis(), None, log, max_retry_after_s=0)
        return first, second, third, log

    first, second, third, log = asyncio.run(run())
    assert first == (ErrorClass.DATA, "groq:llama-3.1-8b-instant")
    assert second == (ErrorClass.DATA, "offline (groq unavailable)")  # KeyError: data, offline too
    assert third == (ErrorClass.DATA, "offline (groq answer invalid)")
    assert [c.purpose for c in log.calls] == ["categorize"] * 4
    assert "return cfg['port']" in servers.of("groq")[0].prompt
    assert asyncio.run(classify(None, _analysis(), None, CallLog(), max_retry_after_s=0)) == (ErrorClass.DATA, "offline")


def test_config_names_providers_and_refuses_half_settings():
    assert BrainConfig.from_env({}).off_reason.startswith("model brain off")
    cfg = BrainConfig.from_env({"GEMINI_API_KEY": "g", "PVE_GEMINI_MODEL": "gemini-2.5-pro", "DEEPSEEK_API_KEY": "d",
                                "PVE_MODEL_ORDER": "deepseek,gemini"})
    assert [p.label() for p in cfg.generators] == ["deepseek:deepseek-chat", "gemini:gemini-2.5-pro"]
    assert cfg.generators[0].base_url == "https://api.deepseek.com"
    with pytest.raises(BadInput, match="PVE_OPENAI_MODEL"):
        BrainConfig.from_env({"PVE_OPENAI_BASE_URL": "http://localhost:11434/v1"})
    with pytest.raises(BadInput, match="unknown provider 'claude'"):
        BrainConfig.from_env({"GEMINI_API_KEY": "g", "PVE_MODEL_ORDER": "claude"})
    with pytest.raises(BadInput, match="PVE_MODEL_TIMEOUT"):
        BrainConfig.from_env({"PVE_MODEL_TIMEOUT": "soon"})
