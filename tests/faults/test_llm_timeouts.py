"""A hanging LLM provider costs a round at most its deadline, each retry is logged, and the round is still full.

The real Claude and Gemini SDKs talk to the local fake server, which here never answers in time
(it sleeps 30 s per request). Timeouts, retries and the round deadline come from the project
config (`campaign.llm.<agent>.timeout_s / max_retries / backoff_s`, `campaign.round_deadline_s`),
so the test also checks that what a user configures is what the agent does.
"""

from __future__ import annotations

import time

import pytest

from archsearch.agents import AgentLog
from archsearch.campaign import campaign_space, run_round
from archsearch.config import load_config
from tests.archsearch.agents.llm.fake_llm_server import FakeLLMServer, Scripted, claude_tool, gemini_json
from tests.faults.campaign_faults import campaign_project

KEYS = {
    "claude": ("ANTHROPIC_API_KEY", "sk-ant-timeout-test-0123456789"),
    "gemini": ("GEMINI_API_KEY", "gm-timeout-test-0123456789"),
}
REPLY = {"claude": lambda: claude_tool({"proposals": []}), "gemini": lambda: gemini_json({"proposals": []})}


def hanging(provider: str, n: int = 40) -> list[Scripted]:
    """Answers that arrive after 30 s: every attempt times out first."""
    return [Scripted(**{**REPLY[provider]().__dict__, "delay_s": 30.0}) for _ in range(n)]


def round_with(tmp_path, provider: str, server: FakeLLMServer, deadline_s: float, **llm):
    config = campaign_project(
        tmp_path, agents={provider: 1}, round_deadline_s=deadline_s, llm={provider: {"base_url": server.url, **llm}}
    )
    project = load_config(config)
    var, key = KEYS[provider]
    warnings: list[str] = []
    started = time.monotonic()
    report = run_round(
        project.campaign, campaign_space(project), tmp_path / "home", env={var: key}, log=warnings.append
    )
    return report, warnings, time.monotonic() - started, AgentLog(tmp_path / "home").records("c1")


@pytest.mark.parametrize("provider", ["claude", "gemini"])
def test_hanging_provider_costs_one_deadline_with_a_line_per_retry(provider, tmp_path):
    import anthropic  # noqa: F401 -- imported first, so the round's time is its calls, not the SDK's import
    from google import genai  # noqa: F401

    with FakeLLMServer() as server:
        server.push(*hanging(provider))
        report, warnings, took, (call,) = round_with(
            tmp_path, provider, server, deadline_s=2.0, timeout_s=0.5, max_retries=20, backoff_s=0.05
        )
        requests = len(server.requests)
    # Without the deadline: 21 attempts of 0.5 s (> 10 s). With it: about 2 s (measured 2.0 s on an idle machine;
    # the margin is for a loaded one, where each attempt's own CPU time is not covered by its timeout).
    assert call["latency_s"] < 2.0 + 3.0 and took < 2.0 + 5.0, f"the round took {took:.1f} s; its deadline is 2 s"
    assert report.proposed == 4 and report.fallback_count == 4, "the fallback agent filled the round"
    assert call["kind"] == "propose" and 2 <= call["attempts"] == requests <= 5, "0.5 s attempts until the deadline"
    assert "timed out" in call["error"] and "deadline" in call["error"]
    retries = [w for w in warnings if "retry" in w]
    assert len(retries) == requests - 1, "one log line per retry"
    assert retries[0].startswith(f"{provider} agent (") and "attempt 1 failed (timeout" in retries[0]
    assert "retry 1 of 20 in " in retries[0]
    assert tuple(retries) == tuple(w for w in report.warnings if "retry" in w), "the round record keeps them too"


@pytest.mark.parametrize("provider", ["claude", "gemini"])
def test_per_agent_timeout_and_retries_come_from_the_config(provider, tmp_path):
    with FakeLLMServer() as server:
        server.push(*hanging(provider))
        report, warnings, _took, (call,) = round_with(
            tmp_path, provider, server, deadline_s=60.0, timeout_s=0.3, max_retries=1, backoff_s=0.01
        )
        requests = len(server.requests)
    assert requests == call["attempts"] == 2, "max_retries 1: two attempts"
    assert call["latency_s"] < 0.3 * 2 + 3.0, f"two attempts of 0.3 s took {call['latency_s']:.1f} s"
    assert "gave up after 2 attempts" in call["error"] and "deadline" not in call["error"]
    assert len([w for w in warnings if "retry 1 of 1" in w]) == 1
    assert report.proposed == 4
