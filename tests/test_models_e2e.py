"""The model brain end to end: real pipeline, real sandbox, real SDKs against local provider servers.

The project (``examples/shop``) has a bug the offline engine has no operator for (``list.sort()``
returns None), so the fix has to come from a model, and everything the model says is checked by
running it.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from brain.models.providers import BrainConfig
from entrypoints import bootstrap
from pve.errors import BadInput
from pve.models import SessionStatus, Solution, VerifyRequest
from pve.settings import Settings
from statemachine.runner import verify
from tests.model_servers import ModelServers, Request, error, say, stall

from .conftest import EXAMPLES

pytestmark = pytest.mark.sandbox

SHOP = EXAMPLES / "shop"  # the bundled example: shop/report.py, tests/test_report.py
REPORT = (SHOP / "shop" / "report.py").read_text()
TEST = (SHOP / "tests" / "test_report.py").read_text()
FIX = {"file": "shop/report.py", "search": "    ranked = prices.sort(reverse=True)\n",
       "replace": "    ranked = sorted(prices, reverse=True)\n"}


def marker_of(req: Request) -> str:
    return re.search(r"PVE-FIXED [0-9a-f]{16}", req.prompt).group(0)


def repro_script(req: Request) -> str:
    return ("from shop.report import top_prices\n\nprices = [3, 1, 2]\nassert top_prices(prices, 2) == [3, 2]\n"
            f"assert prices == [3, 1, 2], 'the caller list changed'\nprint({marker_of(req)!r})\n")


def answer(*candidates, repro=repro_script):
    def reply(req: Request) -> str:
        return json.dumps({"reproduction": repro(req), "candidates": [
            {"rationale": why, "edits": edits} for why, edits in candidates]})
    return reply


GOOD = answer(("list.sort() returns None; sorted() returns a new list", [FIX]))


@pytest.fixture
def servers():
    s = ModelServers()
    yield s
    s.close()


@pytest.fixture
def project(tmp_path):
    return Path(shutil.copytree(SHOP, tmp_path / "shop-project"))


def services(tmp_path, servers, *providers, max_candidates=10, **env):
    settings = replace(Settings.from_env({}), home=tmp_path / "home", max_candidates=max_candidates)
    return bootstrap.services(settings, models=BrainConfig.from_env({**servers.env(*providers), **env}))


def run(svc, project, brain="models", **kw):
    return asyncio.run(verify(VerifyRequest(path=project, test="tests/test_report.py::test_top_two", brain=brain, **kw), svc))


def test_auto_offline_finds_nothing_then_gemini_fix_is_verified(tmp_path, servers, project):
    servers.script("groq", say('{"error_class": "type", "reason": "None is not iterable"}'))
    servers.script("gemini", say(GOOD))
    svc = services(tmp_path, servers, "gemini", "groq")
    session = run(svc, project, brain="auto")
    assert session.status is SessionStatus.VERIFIED, session.message
    winner = session.winning_candidate()
    assert winner.source == "gemini:gemini-2.5-flash" and "sorted(prices, reverse=True)" in winner.diff
    assert session.search.tried >= 1  # the offline engine ran first and found nothing verified
    b = session.brain
    assert (b.error_class, b.classified_by) == ("type", "groq:llama-3.1-8b-instant")
    assert [(c.purpose, c.provider, c.outcome) for c in b.calls] == [
        ("categorize", "groq", "ok"), ("generate", "gemini", "ok")]
    assert all(c.tokens_in > 0 and c.tokens_out > 0 and c.cost_usd > 0 for c in b.calls)
    assert any(n.startswith("gemini:gemini-2.5-flash reproduction verified") for n in b.notes)
    verdict = session.winning_verdict()
    assert verdict.model_repro is not None and verdict.model_repro.exit_code == 0
    # of the two tests that passed before, test_top_of_one_price enters _highest: it runs again,
    # and is the evidence (test_cheapest never enters it)
    assert verdict.regression is not None
    assert verdict.regression_scope.startswith("1 of 2 tests that passed before run the changed code (shop/report.py")
    assert verdict.covered.endswith("shop/report.py: _highest (1 test)")
    proof = (tmp_path / "home").rglob("proof.txt").__next__().read_text()
    assert "== brains" in proof and "generate   gemini:gemini-2.5-flash  ok" in proof
    assert "after: the model's reproduction" in proof
    assert servers.violations == []


def test_the_prompt_carries_the_frame_code_the_traceback_and_the_test(tmp_path, servers, project):
    servers.script("gemini", say(GOOD))
    run(services(tmp_path, servers, "gemini"), project)
    prompt = servers.of("gemini")[0].prompt
    assert "TypeError: 'NoneType' object is not iterable" in prompt
    assert 'File "shop/report.py", line 6, in top_prices' in prompt
    assert 'File "shop/report.py", line 13, in _highest' in prompt
    assert ">>   13     return list(ranked)" in prompt
    assert "   12     ranked = prices.sort(reverse=True)" in prompt
    assert "## Failing test tests/test_report.py::test_top_two" in prompt


def test_invalid_json_twice_then_deepseek_fixes_it(tmp_path, servers, project):
    servers.script("gemini", say("I think the bug is in line 6."), say('{"candidates": "sorted"}'))
    servers.script("deepseek", say(GOOD))
    session = run(services(tmp_path, servers, "gemini", "deepseek"), project)
    assert session.status is SessionStatus.VERIFIED
    assert session.winning_candidate().source == "deepseek:deepseek-chat"
    assert [(c.provider, c.outcome.split(":")[0]) for c in session.brain.calls] == [
        ("gemini", "invalid"), ("gemini", "invalid"), ("deepseek", "ok")]


def test_provider_failures_fall_back_to_the_offline_engine_without_crashing(tmp_path, servers, project):
    # an offline-fixable bug this time: `<` for `<=`
    (project / "shop" / "report.py").write_text(REPORT + "\n\ndef affordable(prices, budget):\n"
                                                "    return [p for p in prices if p < budget]\n")
    (project / "tests" / "test_report.py").write_text(TEST + "\n\ndef test_affordable():\n"
                                                      "    from shop.report import affordable\n"
                                                      "    assert affordable([1, 5, 9], 5) == [1, 5]\n\n\n"
                                                      "def test_nothing_affordable():\n"
                                                      "    from shop.report import affordable\n"
                                                      "    assert affordable([9], 5) == []\n")
    servers.script("gemini", stall(4))
    servers.script("deepseek", error(500), error(502))
    servers.script("selfhosted", error(429, retry_after="600"))
    svc = services(tmp_path, servers, "gemini", "deepseek", "selfhosted", PVE_MODEL_TIMEOUT="1",
                   PVE_MODEL_MAX_RETRY_AFTER="1")
    session = asyncio.run(verify(VerifyRequest(path=project, test="tests/test_report.py::test_affordable",
                                               brain="models"), svc))
    assert [(c.provider, c.outcome) for c in session.brain.calls] == [
        ("gemini", "timeout"), ("deepseek", "server error (500)"), ("deepseek", "server error (502)"),
        ("openai", "rate limited (429)")]
    assert session.status is SessionStatus.VERIFIED
    assert session.winning_candidate().source == "offline" and "p <= budget" in session.winning_candidate().diff


def test_cheating_candidates_are_rejected_by_preflight(tmp_path, servers, project):
    swallow = {"file": "shop/report.py", "search": "    ranked = prices.sort(reverse=True)\n    return list(ranked)\n",
               "replace": "    try:\n        ranked = prices.sort(reverse=True)\n        return list(ranked)\n"
                          "    except Exception:\n        return []\n"}
    # skips the failing helper: the call on the failure's path is gone
    delete = {"file": "shop/report.py", "search": "    return _highest(prices)[:n]\n", "replace": "    return [3, 2][:n]\n"}
    edit_test = {"file": "tests/test_report.py", "search": "    assert top_prices(prices, 2) == [3, 2]\n",
                 "replace": "    assert True\n"}
    servers.script("gemini", say(answer(("swallow", [swallow]), ("hard-code", [delete]), ("relax", [edit_test]))))
    session = run(services(tmp_path, servers, "gemini", max_candidates=1), project)
    model = [v for v in session.verdicts if next(c for c in session.candidates if c.id == v.candidate_id).source != "offline"]
    reasons = [v.reason for v in model]
    assert len(model) == 3 and not any(v.verified for v in model)
    assert reasons[0].startswith("preflight:") and "broad 'except'" in reasons[0]
    assert reasons[1].startswith("preflight:") and "removes the call to _highest()" in reasons[1]
    assert reasons[2].startswith("preflight:") and "edits the reproduction tests/test_report.py" in reasons[2]
    assert all(v.run is None for v in model)  # none of them ever ran


def test_a_model_reproduction_that_does_not_fail_is_not_trusted(tmp_path, servers, project):
    def passes_already(req):
        return f"print({marker_of(req)!r})\n"

    servers.script("gemini", say(answer(("sorted", [FIX]), repro=passes_already)))
    servers.script("deepseek", say(GOOD))
    session = run(services(tmp_path, servers, "gemini", "deepseek"), project)
    notes = session.brain.notes
    assert any(n.startswith("gemini:gemini-2.5-flash reproduction rejected: the reproduction passed") for n in notes)
    assert session.status is SessionStatus.VERIFIED and session.winning_candidate().source == "deepseek:deepseek-chat"
    assert {c.source for c in session.candidates if c.source != "offline"} == {"deepseek:deepseek-chat"}


def test_cache_hit_is_re_verified_and_skips_the_models(tmp_path, servers, project):
    servers.script("gemini", say(GOOD))
    svc = services(tmp_path, servers, "gemini")
    first = run(svc, project)
    assert first.status is SessionStatus.VERIFIED and first.brain.cache == "miss; stored"
    second = run(svc, project)  # same error, same code; nothing more is scripted on the server
    assert second.status is SessionStatus.VERIFIED and second.brain.cache == "hit, re-verified"
    assert second.winning_candidate().source == "cache (gemini:gemini-2.5-flash)"
    assert second.winning_verdict().run is not None  # it ran again, in the sandbox
    assert second.brain.calls == [] and len(servers.of("gemini")) == 1
    assert servers.violations == []


def test_a_cached_fix_that_no_longer_passes_is_dropped_and_replaced(tmp_path, servers, project):
    servers.script("gemini", say(GOOD))
    svc = services(tmp_path, servers, "gemini")
    first = run(svc, project)
    signature = first.brain.signature
    stored = svc.store.get_solution(signature)
    bad = stored.candidate.model_copy(update={"diff": "(poisoned)", "edits": [
        e.model_copy(update={"new_text": e.new_text.replace("sorted(prices, reverse=True)", "sorted(prices)")})
        for e in stored.candidate.edits]})
    svc.store.put_solution(Solution(**{**stored.model_dump(), "candidate": bad}))
    servers.script("gemini", say(GOOD))
    second = run(svc, project)
    assert second.brain.cache.startswith("hit, no longer passes")
    assert second.status is SessionStatus.VERIFIED
    assert second.winning_candidate().source == "gemini:gemini-2.5-flash"
    assert svc.store.get_solution(signature).candidate.diff != "(poisoned)"  # replaced by the new fix


# --------------------------------------------------------------------------- a report with no way to reproduce it

TABLEKIT = EXAMPLES / "tablekit"
# The bug report without its code block: only the installed copy's traceback is left.
NO_CODE = "Table.column() fails after upgrading:\n\n```\n" + (TABLEKIT / "report.md").read_text().split("```\n")[2] + "```\n"


def tablekit_repro(req: Request) -> str:
    return ("from tablekit import Table\n\nt = Table(['item', 'count'], [['x', 1], ['y', 2]])\n"
            f"assert t.column('count') == [1, 2]\nprint({marker_of(req)!r})\n")


TABLEKIT_FIX = ("the attribute is headers", [{"file": "src/tablekit/table.py",
                                              "search": "        index = self.header.index(name)\n",
                                              "replace": "        index = self.headers.index(name)\n"}])


def test_with_no_code_block_a_model_writes_the_reproduction_and_it_must_fail_as_reported(tmp_path, servers):
    project = Path(shutil.copytree(TABLEKIT, tmp_path / "tablekit"))
    servers.script("gemini", say(answer(TABLEKIT_FIX, repro=tablekit_repro)))
    svc = services(tmp_path, servers, "gemini")
    session = asyncio.run(verify(VerifyRequest(path=project, error_log=NO_CODE.encode(), brain="auto"), svc))
    assert "Traceback" in NO_CODE and "```python" not in NO_CODE
    # Table.column() fails on every call: no test that passed before runs it, so the fix is shown
    # as what it is (TRUTH.md): it passed the model's reproduction, nothing else checks it
    assert session.status is SessionStatus.PLAUSIBLE, session.message
    assert "no test that passed before runs" in session.message
    repro = session.reproduction
    assert repro.derived_from == "model: gemini:gemini-2.5-flash (reproduce_issue.py)"
    assert repro.script == tablekit_repro(servers.of("gemini")[0]) and repro.pythonpath == ["src"]
    assert "failed as reported" in session.notes[-1]
    assert session.before.record.exception.type == "AttributeError"
    # the offline engine then fixed it against the model's reproduction; the model was asked once
    assert "self.headers.index(name)" in session.winning_candidate().diff
    assert [c.purpose for c in session.brain.calls] == ["generate"]
    assert any("reproduction verified" in n for n in session.brain.notes)


def test_a_model_reproduction_that_does_not_fail_as_reported_is_refused(tmp_path, servers):
    project = Path(shutil.copytree(TABLEKIT, tmp_path / "tablekit"))
    servers.script("gemini", say(answer(TABLEKIT_FIX, repro=lambda req: "print('all good')\n")))
    svc = services(tmp_path, servers, "gemini")
    with pytest.raises(BadInput, match="no model's reproduction failed as reported") as caught:
        asyncio.run(verify(VerifyRequest(path=project, error_log=NO_CODE.encode(), brain="auto"), svc))
    assert caught.value.code == "no-reproduction"
    # without models the same report is refused before anything runs, saying what it lacks: the
    # traceback's own line needs `t`, which the report never shows
    offline = services(tmp_path, servers)
    with pytest.raises(BadInput, match="uses t, and the report does not show its value"):
        asyncio.run(verify(VerifyRequest(path=project, error_log=NO_CODE.encode()), offline))
