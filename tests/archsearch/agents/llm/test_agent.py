"""Claude and Gemini agents through their real SDKs against a local fake server: a valid reply is
accepted; malformed JSON and out-of-space values lead to one repair call and, if still short, a
flagged fallback top-up; duplicates (in the reply, already run) are rejected; 429 is retried then
succeeds; 500 is retried until give-up; 401 disables the agent with a message naming its env var;
a spent cost budget makes no call. No case raises, every round returns n proposals, the API key
appears in nothing logged, and a round's fallback draws do not depend on how many retries it took."""

from __future__ import annotations

import json

import numpy as np
import pytest

from archsearch.agents import make_agent
from archsearch.agents.base import PastProposal, RoundContext
from archsearch.agents.llm import COST_EXHAUSTED, KEY_ENV, LLMAgentError, make_llm_agent  # noqa: F401
from archsearch.agents.llm.replies import value_text
from archsearch.agents.log import REDACTED
from archsearch.results import AgentView
from archsearch.space import load_space
from tests.archsearch.agents.llm.fake_llm_server import (
    FakeLLMServer,
    Scripted,
    claude_error,
    claude_text,
    claude_tool,
    gemini_error,
    gemini_json,
    gemini_text,
)

SPACE = load_space("demo")
KEY = "sk-fake-KEY-0123456789abcdef"
CFG = [SPACE.config_at(i * 4111) for i in range(8)]
CTX = RoundContext(campaign="camp", round=3, budget_left=20, cost_left_usd=5.0)

PROVIDERS = {
    "claude": dict(
        ok=lambda items, **kw: claude_tool({"proposals": items}, **kw),
        malformed=lambda: claude_text('{"proposals": [{"config": {"backbone": '),
        error=claude_error,
        fmt=lambda v: v,
    ),
    "gemini": dict(
        ok=lambda items, **kw: gemini_json({"proposals": items}),
        malformed=lambda: gemini_text('{"proposals": [{"config": {"backbone": ', finish_reason="MAX_TOKENS"),
        error=gemini_error,
        fmt=value_text,
    ),
}


def items(provider, *configs):
    fmt = PROVIDERS[provider]["fmt"]
    return [
        {"config": {k: fmt(v) for k, v in c.items()}, "hypothesis": f"hypothesis {i}"} for i, c in enumerate(configs)
    ]


def ok_view(config, val=0.5):
    return AgentView(
        config_id=SPACE.config_id(config),
        config=config,
        agent="random",
        round=0,
        campaign="camp",
        seed=0,
        status="ok",
        error_type=None,
        error_message=None,
        val_ap_500=val,
        val_ap_1000=val,
        val_ap_1500=val,
        val_map=val,
        epochs_run=1,
        best_epoch=1,
        train_seconds=1.0,
        param_count=1,
        val_map_curve=(val,),
        train_loss_curve=(1.0,),
        created_at="",
    )


@pytest.fixture
def server():
    with FakeLLMServer() as srv:
        yield srv


def agent(provider, server, **kw):
    opts = dict(
        api_key=KEY, fallback=make_agent("random"), base_url=server.url, max_retries=2, backoff_s=0.001, timeout_s=10.0
    )
    return make_llm_agent(provider, **{**opts, **kw})


def run(a, n, history=(), context=CTX, seed=0):
    out = a.propose(list(history), SPACE, n, np.random.default_rng(seed), context)
    calls = a.drain_calls()
    assert KEY not in json.dumps([c.to_dict() for c in calls])  # the key never reaches the log
    assert len(out) == n and len({SPACE.config_id(p.config) for p in out}) == n
    assert all(c.campaign == "camp" and c.round == 3 for c in calls) or context is None
    return out, calls


@pytest.mark.parametrize("provider", PROVIDERS)
def test_valid_structured_reply_is_accepted(provider, server):
    server.push(PROVIDERS[provider]["ok"](items(provider, *CFG[:3])))
    out, calls = run(agent(provider, server), 3)
    assert [p.config for p in out] == CFG[:3] and [p.rationale for p in out] == [
        "hypothesis 0",
        "hypothesis 1",
        "hypothesis 2",
    ]
    assert all(p.proposed_by is None for p in out)
    (c,) = calls
    assert c.kind == "propose" and c.attempts == 1 and c.error is None and c.fallback_count == 0
    assert c.accepted == [SPACE.config_id(x) for x in CFG[:3]] and c.rejections == [] and len(c.parsed) == 3
    assert c.input_tokens > 0 and c.output_tokens > 0 and c.cost_usd > 0 and c.note == ""
    assert "Propose exactly 3 new" in c.prompt and c.raw_reply
    body = server.requests[0]["body"]
    if provider == "claude":
        assert server.requests[0]["path"] == "/v1/messages" and body["model"] == "claude-opus-5-5"
        assert body["tools"][0]["input_schema"]["properties"]["proposals"]["items"]["properties"]["config"][
            "properties"
        ]["lr"]["enum"] == [1e-4, 3e-4, 1e-3, 3e-3]
        assert body["tool_choice"] == {"type": "auto"}  # Opus 5.5 rejects forced tool use
        assert KEY in json.dumps(server.requests[0]["headers"])  # x-api-key or bearer, per SDK version
    else:
        assert server.requests[0]["path"].endswith("/models/gemini-2.5-pro:generateContent")
        gen = body["generationConfig"]
        assert gen["responseMimeType"] == "application/json" and gen["maxOutputTokens"] == 16_000
        assert gen["responseSchema"]["properties"]["proposals"]["items"]["properties"]["config"]["properties"][
            "window_length"
        ]["enum"] == ["8", "12", "16", "20", "24"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_malformed_json_gets_one_repair_call(provider, server):
    p = PROVIDERS[provider]
    server.push(p["malformed"](), p["ok"](items(provider, *CFG[:2])))
    out, calls = run(agent(provider, server), 2)
    assert [x.config for x in out] == CFG[:2]
    assert [c.kind for c in calls] == ["propose", "repair"] and calls[-1].fallback_count == 0
    assert calls[0].rejections[0]["reason"].count("malformed JSON") == 1 and calls[0].accepted == []
    assert "## Correction" in calls[1].prompt and "malformed JSON" in calls[1].prompt
    assert "exactly 2 more new configurations" in calls[1].prompt


@pytest.mark.parametrize("provider", PROVIDERS)
def test_out_of_space_values_then_bad_repair_fall_back(provider, server):
    p = PROVIDERS[provider]
    bad = items(provider, CFG[0], {**CFG[1], "lr": 0.5}, {**CFG[2], "encoder": "transformer"})
    server.push(p["ok"](bad), p["malformed"]())
    out, calls = run(agent(provider, server), 3)
    assert out[0].config == CFG[0] and out[0].proposed_by is None
    assert [x.proposed_by for x in out[1:]] == ["random", "random"]
    assert all(x.rationale.startswith("fallback (random) for " + provider) for x in out[1:])
    reasons = [r["reason"] for r in calls[0].rejections]
    assert "key 'lr'" in reasons[0] and "0.5" in reasons[0] and "is not in the space" in reasons[0]
    assert "value 'transformer' is not in the space" in reasons[1]
    assert reasons[0] in calls[1].prompt
    assert [c.fallback_count for c in calls] == [0, 2]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_duplicates_in_reply_and_already_run_are_rejected(provider, server):
    p = PROVIDERS[provider]
    history = [ok_view(CFG[0])]
    ctx = RoundContext(
        campaign="camp", round=3, proposals=(PastProposal(SPACE.config_id(CFG[5]), CFG[5], "gemini", 2),)
    )
    server.push(p["ok"](items(provider, CFG[0], CFG[1], CFG[1], CFG[5])), p["ok"](items(provider, CFG[1], CFG[2])))
    out, calls = run(agent(provider, server), 2, history=history, context=ctx)
    assert [x.config for x in out] == [CFG[1], CFG[2]]
    reasons = {r["index"]: r["reason"] for r in calls[0].rejections}
    assert "already run" in reasons[0] and "duplicate of item 1" in reasons[2] and "already run" in reasons[3]
    assert calls[1].accepted == [SPACE.config_id(CFG[2])] and "already run" in calls[1].rejections[0]["reason"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_then_success_is_retried(provider, server):
    p = PROVIDERS[provider]
    server.push(p["error"](429, "slow down"), p["ok"](items(provider, CFG[3])))
    out, calls = run(agent(provider, server), 1)
    assert out[0].config == CFG[3] and calls[0].attempts == 2 and calls[0].error is None
    assert len(server.requests) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_500_until_give_up_falls_back_without_repair(provider, server):
    p = PROVIDERS[provider]
    server.push(*[p["error"](500, "boom")] * 3)
    a = agent(provider, server)
    out, calls = run(a, 3)
    assert len(server.requests) == 3 and server.remaining == 0  # 1 try + max_retries=2, then no repair call
    (c,) = calls
    assert c.error.startswith("server error: gave up after 3 attempts (HTTP 500)") and c.attempts == 3
    assert c.fallback_count == 3 and all(x.proposed_by == "random" for x in out)
    assert a.disabled_reason is None
    # determinism: the fallback's draws do not depend on how many retries the round took
    server.push(p["error"](400, "bad request"))
    out2, _ = run(agent(provider, server), 3)
    assert [x.config for x in out2] == [x.config for x in out]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_401_disables_the_agent_with_a_clear_message(provider, server):
    p = PROVIDERS[provider]
    server.push(p["error"](401, f"invalid x-api-key {KEY}"))
    a = agent(provider, server)
    out, calls = run(a, 2)
    assert len(server.requests) == 1  # never retried
    assert calls[0].error.startswith("authentication failed (HTTP 401)") and REDACTED in calls[0].error
    assert a.disabled_reason and KEY_ENV[provider] in a.disabled_reason
    assert calls[0].fallback_count == 2 and all(x.proposed_by == "random" for x in out)
    out, calls = run(a, 2)  # a disabled agent makes no call and says why
    assert len(server.requests) == 1 and [c.kind for c in calls] == ["skipped"]
    assert "disabled" in calls[0].error and calls[0].fallback_count == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_spent_cost_budget_makes_no_call(provider, server):
    ctx = RoundContext(campaign="camp", round=3, cost_left_usd=0.0)
    _out, calls = run(agent(provider, server), 2, context=ctx)
    assert server.requests == [] and [c.kind for c in calls] == ["skipped"]
    assert calls[0].error == COST_EXHAUSTED and calls[0].fallback_count == 2 and calls[0].attempts == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_timeout_is_classified_and_gives_up(provider, server):
    server.push(Scripted(200, {}, delay_s=0.6))
    out, calls = run(agent(provider, server, timeout_s=0.2, max_retries=0), 1)
    assert calls[0].error.startswith("timed out: gave up after 1 attempt (timeout)") and out[0].proposed_by == "random"


def test_gemini_bad_key_400_counts_as_auth(server):
    server.push(gemini_error(400, "API key not valid. Please pass a valid API key. [reason: API_KEY_INVALID]"))
    a = agent("gemini", server)
    run(a, 1)
    assert a.disabled_reason and "GEMINI_API_KEY" in a.disabled_reason


def test_claude_forced_tool_choice_refused_switches_to_auto(server):
    server.push(
        claude_error(400, "tool_choice forces tool use, which this model does not support"),
        claude_tool({"proposals": items("claude", CFG[4])}),
    )
    out, calls = run(agent("claude", server, model="claude-opus-5"), 1)
    assert out[0].config == CFG[4] and calls[0].attempts == 2
    assert [r["body"]["tool_choice"]["type"] for r in server.requests] == ["tool", "auto"]
    assert calls[0].cost_usd == pytest.approx((1200 * 5 + 300 * 25) / 1e6)


def test_unknown_model_price_is_noted_and_override_used(server):
    server.push(
        claude_tool({"proposals": items("claude", CFG[0])}), claude_tool({"proposals": items("claude", CFG[1])})
    )
    _, calls = run(agent("claude", server, model="claude-future-9"), 1)
    assert calls[0].cost_usd == 0.0 and "price unknown" in calls[0].note
    _, calls = run(agent("claude", server, model="claude-future-9", price_per_mtok=(1.0, 2.0)), 1)
    assert calls[0].cost_usd == pytest.approx((1200 * 1 + 300 * 2) / 1e6) and calls[0].note == ""


def test_construction_errors_are_clear():
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY"):
        make_llm_agent("claude", api_key="", fallback=make_agent("random"))
    with pytest.raises(ValueError, match="unknown LLM agent"):
        make_llm_agent("gpt", api_key="k", fallback=make_agent("random"))
    with pytest.raises(ValueError, match="fallback"):
        make_llm_agent("gemini", api_key="k", fallback="random")
