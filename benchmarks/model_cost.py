"""Cost of one model-brain verification, per provider. ``uv run python benchmarks/model_cost.py``

Runs ``pve``'s real pipeline (sandbox included) on ``examples/shop`` with ``--brain models``, once
per generator (Gemini, DeepSeek, a self-hosted endpoint), with Groq as the categorizer. The
providers are the local wire-protocol servers the tests use (``tests/model_servers.py``): the
real SDKs send PVE's real prompts to them, and they answer with a three-candidate fix. Token
counts are the servers' estimate of ceil(characters / 4) for the prompt PVE sent and the answer
it got; cost is those counts at each provider's published price (``brain/models/pricing.py``).

What this does not include: a real model's answer is usually longer than the scripted one, and
Gemini 2.5 Flash also bills its thinking tokens as output. The table therefore also gives the
cost with 2,000 output tokens, and the worst case of a prompt filling the provider's default
context budget.

Prints a table and writes ``benchmarks/model_cost.json``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from brain.models.pricing import cost_usd  # noqa: E402
from brain.models.providers import BrainConfig  # noqa: E402
from entrypoints import bootstrap  # noqa: E402
from pve.models import SessionStatus, VerifyRequest  # noqa: E402
from pve.settings import Settings  # noqa: E402
from statemachine.runner import verify  # noqa: E402
from tests.model_servers import ModelServers, say  # noqa: E402
from tests.test_models_e2e import FIX, answer  # noqa: E402

THREE = answer(
    ("list.sort() sorts in place and returns None; sorted() returns a new list", [FIX]),
    ("copy before sorting so the caller's list is untouched",
     [{**FIX, "replace": "    ranked = list(prices)\n    ranked.sort(reverse=True)\n"}]),
    ("sort a copy ascending and reverse it", [{**FIX, "replace": "    ranked = sorted(prices)[::-1]\n"}]),
)
LONG_ANSWER_TOKENS = 2_000


def measure(provider: str, tmp: Path) -> dict:
    servers = ModelServers()
    try:
        servers.script("groq", say('{"error_class": "type", "reason": "a None result is iterated"}'))
        servers.script(provider, say(THREE))
        settings = replace(Settings.from_env({}), home=tmp / provider / "home")
        svc = bootstrap.services(settings, models=BrainConfig.from_env(servers.env(provider, "groq")))
        project = shutil.copytree(ROOT / "examples" / "shop", tmp / provider / "shop")
        session = asyncio.run(verify(VerifyRequest(path=Path(project), error_log=(ROOT / "examples/shop/pytest.log").read_bytes(),
                                                   brain="models", cache=False), svc))
    finally:
        servers.close()
    assert session.status is SessionStatus.VERIFIED, session.message
    assert servers.violations == [], servers.violations
    calls = session.brain.calls
    gen = next(c for c in calls if c.purpose == "generate")
    cat = next(c for c in calls if c.purpose == "categorize")
    cfg = BrainConfig.from_env(servers.env(provider))
    context = cfg.generators[0].context_tokens
    long_cost = cost_usd(gen.provider, gen.model, gen.tokens_in, LONG_ANSWER_TOKENS) + (cat.cost_usd or 0.0)
    worst = cost_usd(gen.provider, gen.model, context, LONG_ANSWER_TOKENS) + (cat.cost_usd or 0.0)
    return {"provider": f"{gen.provider}:{gen.model}", "categorizer": f"{cat.provider}:{cat.model}",
            "tokens_in": gen.tokens_in, "tokens_out": gen.tokens_out,
            "categorize_tokens": [cat.tokens_in, cat.tokens_out],
            "cost_usd": session.brain.cost_usd(), "cost_usd_2k_out": long_cost,
            "context_budget_tokens": context, "cost_usd_full_context": worst,
            "verified_by": session.winning_candidate().source, "candidates_run": len(session.verdicts),
            "total_ms": round(session.timings_ms.get("total", 0.0))}


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for provider in ("gemini", "deepseek", "selfhosted"):
            rows.append(measure(provider, Path(tmp)))
    print(f"{'generator':32} {'in':>6} {'out':>5} {'cost':>10} {'2k out':>10} {'full ctx':>10}  verified in")
    for r in rows:
        print(f"{r['provider']:32} {r['tokens_in']:>6} {r['tokens_out']:>5} ${r['cost_usd']:>9.6f} "
              f"${r['cost_usd_2k_out']:>9.6f} ${r['cost_usd_full_context']:>9.6f}  {r['total_ms']} ms")
    print(f"(categorizer {rows[0]['categorizer']}: {rows[0]['categorize_tokens'][0]} in / "
          f"{rows[0]['categorize_tokens'][1]} out per verification, included)")
    (ROOT / "benchmarks" / "model_cost.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
