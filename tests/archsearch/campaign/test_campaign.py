"""Campaigns without Dagster: config parsing, the round schedule, rounds, budgets, status and the breaker."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from archsearch.agents import Agent, AgentProposal, make_agent
from archsearch.agents.log import AgentCall, AgentLog
from archsearch.campaign import agents as campaign_agents
from archsearch.campaign.agents import CampaignError
from archsearch.campaign.proposals import ProposalStore
from archsearch.campaign.rounds import run_round
from archsearch.campaign.schedule import pick_agent
from archsearch.campaign.space import campaign_space, restrict_backbones
from archsearch.campaign.status import campaign_status, reset_breaker
from archsearch.campaign.store import CampaignFiles
from archsearch.config import ConfigError, load_config, parse_config
from archsearch.config.campaign import CampaignConfig, parse_campaign
from archsearch.results import ExperimentResult, ResultsStore, SplitMetrics, utc_now
from archsearch.space import SearchSpace

TINY = {
    "name": "tiny",
    "groups": {
        "architecture": {
            "backbone": ["motion", "pixels"],
            "encoder": ["gru", "retention", "zipformer"],
            "pooling": ["mean", "max"],
        },
        "training": {"lr": [1.0e-3, 3.0e-3], "epochs": [5, 10]},
    },
}
SECRET = "sk-test-secret-key-0123456789"


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace.from_dict(TINY, "tiny.yaml")


def cfg(**kw) -> CampaignConfig:
    base = dict(name="t", dataset="d", agents=(("random", 1.0),), round_size=3, max_experiments=20, max_cost_usd=1.0)
    return CampaignConfig(**{**base, **kw})


def result(
    campaign: str, i: int, status: str, error: str = "CUDAOutOfMemory", val_map: float = 0.5
) -> ExperimentResult:
    config = {"backbone": "motion", "i": i}
    if status == "ok":
        m = SplitMetrics(val_map, val_map, val_map, val_map)
        return ExperimentResult(f"c{i:04d}", config, "random", 0, campaign, 0, status="ok", val=m, test=m)
    return ExperimentResult(
        f"c{i:04d}", config, "random", 0, campaign, 0, status="failed", error_type=error, error_message="boom"
    )


# ----------------------------------------------------------------------------------------- config


def test_embedded_default_campaign():
    c = load_config().campaign
    assert c.name == "demo" and c.dataset == "synth_front" and c.seed == 0
    assert dict(c.agents) == {"architecture_first": 1, "tpe": 1, "random": 1, "claude": 1, "gemini": 1}
    assert (c.max_experiments, c.round_size, c.max_in_flight, c.strict_agents, c.fallback) == (
        60,
        6,
        2,
        False,
        "random",
    )
    assert (c.breaker.window, c.breaker.max_failure_rate) == (20, 0.5)


def test_missing_section_gives_defaults_and_first_dataset():
    p = parse_config({"datasets": [{"name": "a", "kind": "synthetic"}, {"name": "b", "kind": "synthetic"}]}, "cfg.yaml")
    assert p.campaign.dataset == "a" and p.campaign.shares == CampaignConfig().shares


@pytest.mark.parametrize(
    "section, fragment",
    [
        ({"agents": {"gpt": 1}}, "campaign.agents.gpt: unknown agent"),
        ({"agents": {"tpe": -1}}, "campaign.agents.tpe: expected a number in [0.0"),
        ({"agents": {"tpe": 0, "claude": 0}}, "campaign.agents: every share is 0"),
        ({"agents": {"tpe": "1"}}, "campaign.agents.tpe"),
        ({"agents": []}, "campaign.agents: expected a mapping"),
        ({"round_size": 0}, "campaign.round_size: expected an integer >= 1"),
        ({"max_experiments": 2.5}, "campaign.max_experiments"),
        ({"max_cost_usd": -1}, "campaign.max_cost_usd"),
        ({"max_in_flight": True}, "campaign.max_in_flight"),
        ({"min_queued": -1}, "campaign.min_queued"),
        ({"run_batch_size": 0}, "campaign.run_batch_size"),
        ({"seed": -3}, "campaign.seed"),
        ({"strict_agents": "yes"}, "campaign.strict_agents: expected true or false"),
        ({"fallback": "claude"}, "campaign.fallback: expected an offline agent"),
        ({"dataset": "nope"}, "campaign.dataset: no dataset named 'nope'"),
        ({"name": "a b"}, "campaign.name"),
        ({"backbones": []}, "campaign.backbones"),
        ({"breaker": {"window": 5, "min_results": 6}}, "campaign.breaker.min_results: must be <= window"),
        ({"breaker": {"max_failure_rate": 1.5}}, "campaign.breaker.max_failure_rate"),
        ({"breaker": {"size": 3}}, "campaign.breaker.size: unknown key"),
        ({"llm": {"claude": {"temperature": 1}}}, "campaign.llm.claude.temperature: unknown key"),
        ({"llm": {"claude": {"timeout": 1}}}, "campaign.llm.claude.timeout: unknown key (did you mean 'timeout_s'?)"),
        ({"llm": {"claude": {"max_output_tokens": 0}}}, "campaign.llm.claude.max_output_tokens"),
        ({"llm": {"claude": {"timeout_s": 0}}}, "campaign.llm.claude.timeout_s: expected a number in [0.001"),
        ({"llm": {"gemini": {"max_retries": -1}}}, "campaign.llm.gemini.max_retries: expected an integer >= 0"),
        ({"llm": {"gpt": {}}}, "campaign.llm.gpt: unknown key"),
        ({"budget": 3}, "campaign.budget: unknown key"),
        ({"max_experiment": 3}, "campaign.max_experiment: unknown key (did you mean 'max_experiments'?)"),
        ({"agents": {"rnadom": 1}}, "campaign.agents.rnadom: unknown agent (did you mean 'random'?)"),
        ({"round_deadline_s": 0}, "campaign.round_deadline_s: expected a number in [1.0"),
    ],
)
def test_bad_campaign_names_file_and_key(section, fragment):
    with pytest.raises(ConfigError) as info:
        parse_config({"datasets": [{"name": "x", "kind": "synthetic"}], "campaign": section}, "cfg.yaml")
    assert str(info.value).startswith("cfg.yaml: ") and fragment in str(info.value)


def test_parse_keeps_share_order_and_llm_options():
    c = parse_campaign(
        {
            "agents": {"tpe": 2, "claude": 0, "random": 1},
            "max_cost_usd": None,
            "llm": {"claude": {"model": "m", "base_url": "http://127.0.0.1:1"}},
        },
        "f.yaml",
        ["x"],
    )
    assert c.shares == {"tpe": 2.0, "random": 1.0} and c.max_cost_usd is None
    assert c.llm["claude"].options() == {"model": "m", "base_url": "http://127.0.0.1:1"}
    assert c.llm["gemini"].options() == {}
    c = parse_campaign({"llm": {"gemini": {"timeout_s": 5, "max_retries": 0, "backoff_s": 0.5}}}, "f.yaml", ["x"])
    assert c.llm["gemini"].options() == {"timeout_s": 5.0, "max_retries": 0, "backoff_s": 0.5}


# ----------------------------------------------------------------------------------------- schedule and space


def test_smooth_weighted_round_robin_interleaves_by_share():
    seq = [pick_agent({"a": 2, "b": 1, "off": 0}, r) for r in range(9)]
    assert seq == ["a", "b", "a"] * 3
    seq = [pick_agent({"x": 1, "y": 1, "z": 1}, r) for r in range(6)]
    assert seq == ["x", "y", "z", "x", "y", "z"]
    many = [pick_agent({"a": 3, "b": 1}, r) for r in range(400)]
    assert many.count("a") == 300
    with pytest.raises(ValueError):
        pick_agent({"a": 0}, 0)


def test_restrict_backbones_keeps_ids_and_names_bad_ones(space):
    sub = restrict_backbones(space, ["pixels"])
    assert sub.values("backbone") == ("pixels",) and sub.size == space.size // 2
    c = sub.config_at(0)
    assert sub.config_id(c) == space.config_id(c)
    with pytest.raises(ConfigError, match="vjepa"):
        restrict_backbones(space, ["vjepa"])


def test_campaign_space_from_project_config(tmp_path):
    p = load_config()
    p = replace(p, campaign=replace(p.campaign, backbones=("motion", "pixels")))
    assert campaign_space(p).values("backbone") == ("motion", "pixels")


# ----------------------------------------------------------------------------------------- rounds


def test_rounds_interleave_agents_attribute_and_never_repeat(space, tmp_path):
    c = cfg(agents=(("architecture_first", 1.0), ("tpe", 1.0), ("random", 1.0)), round_size=4)
    reports = [run_round(c, space, tmp_path, env={}) for _ in range(4)]
    assert [r.agent for r in reports] == ["architecture_first", "tpe", "random", "architecture_first"]
    assert [r.round for r in reports] == [0, 1, 2, 3] and all(r.proposed == 4 for r in reports)
    proposals = ProposalStore(tmp_path).list("t")
    assert len({p.config_id for p in proposals}) == 16, "pending proposals are in every agent's history"
    assert {(p.round, p.agent) for p in proposals} == {(r.round, r.agent) for r in reports}
    assert all(p.dataset == "d" and p.seed == 0 and p.space == "tiny" for p in proposals)
    record = json.loads((tmp_path / "campaigns/t/rounds/00002.json").read_text())
    assert record["agent"] == "random" and record["keys"] == list(reports[2].keys) and record["asked"] == 4
    assert [p.key for p in proposals if p.round == 1] == list(reports[1].keys), "keys come in proposal order"


def test_rounds_are_deterministic(space, tmp_path):
    c = cfg(agents=(("tpe", 1.0), ("random", 1.0)))
    a = [run_round(c, space, tmp_path / "a", env={}).keys for _ in range(3)]
    b = [run_round(c, space, tmp_path / "b", env={}).keys for _ in range(3)]
    assert a == b


def test_budget_caps_the_last_round_then_stops(space, tmp_path):
    c = cfg(round_size=4, max_experiments=6)
    assert run_round(c, space, tmp_path, env={}).proposed == 4
    second = run_round(c, space, tmp_path, env={})
    assert (second.asked, second.proposed, second.budget_left) == (2, 2, 0)
    warnings = []
    third = run_round(c, space, tmp_path, env={}, log=warnings.append)
    assert third.proposed == 0 and "max_experiments reached (6 of 6" in third.stopped
    assert warnings and CampaignFiles(tmp_path, "t").n_rounds() == 2, "a stopped round writes no record"


def test_exhausted_space_stops_the_campaign(space, tmp_path):
    c = cfg(round_size=space.size, max_experiments=100)
    assert run_round(c, space, tmp_path, env={}).proposed == space.size
    assert run_round(c, space, tmp_path, env={}).proposed == 0
    assert "search space exhausted" in campaign_status(c, tmp_path).stop_reason


def test_llm_agent_without_key_is_skipped_with_one_warning(space, tmp_path):
    c = cfg(agents=(("claude", 1.0), ("random", 1.0)))
    warnings = []
    report = run_round(c, space, tmp_path, env={}, log=warnings.append)
    assert report.agent == "random" and report.proposed == 3 and report.skipped_agents == ("claude",)
    assert len(warnings) == 1 and "ANTHROPIC_API_KEY" in warnings[0] and "continues" in warnings[0]
    with pytest.raises(CampaignError, match="ANTHROPIC_API_KEY.*strict_agents"):
        run_round(replace(c, strict_agents=True), space, tmp_path, env={})
    with pytest.raises(CampaignError, match="no agent can take a round"):
        run_round(cfg(agents=(("gemini", 1.0),)), space, tmp_path / "x", env={})


class FakeLLM(Agent):
    """Behaves like an LLM agent: logs calls with tokens and cost, rejects one item, may be topped up or disabled."""

    def __init__(self, name, api_key, fallback, disable=False):
        self.name, self.api_key, self.fallback, self.disable = name, api_key, fallback, disable
        self.disabled_reason = None
        self._calls = []

    def propose(self, history, space, n, rng, context=None):
        own = self.fallback.propose(history, space, n, rng, context)
        self._calls.append(
            AgentCall(
                campaign=context.campaign,
                round=context.round,
                agent=self.name,
                model="fake",
                kind="propose",
                started_at=utc_now(),
                prompt=f"budget {context.budget_left}",
                rejections=[{"index": 0, "item": {}, "reason": "lr 0.5 not in the space"}],
                input_tokens=1000,
                output_tokens=200,
                cost_usd=0.25,
                error=f"authentication failed ({self.api_key})" if self.disable else None,
            )
        )
        if self.disable:
            self.disabled_reason = "authentication failed (HTTP 401): check ANTHROPIC_API_KEY"
        half = n // 2
        return [AgentProposal(p.config, "llm: hypothesis") for p in own[:half]] + [
            AgentProposal(p.config, "fallback top-up", proposed_by=self.fallback.name) for p in own[half:]
        ]

    def drain_calls(self):
        calls, self._calls = self._calls, []
        return calls


def _fake_llm(monkeypatch, **kw):
    made = []

    def factory(name, cfg, api_key, log=None):
        agent = FakeLLM(name, api_key, campaign_agents.offline_agent(cfg.fallback, cfg), **kw)
        made.append(agent)
        return agent

    monkeypatch.setattr(campaign_agents, "llm_agent", factory)
    return made


def test_llm_round_logs_cost_credits_fallback_and_hides_the_key(space, tmp_path, monkeypatch):
    made = _fake_llm(monkeypatch)
    c = cfg(agents=(("claude", 1.0),), round_size=4, max_cost_usd=0.6)
    report = run_round(c, space, tmp_path, env={"ANTHROPIC_API_KEY": SECRET})
    assert made[0].api_key == SECRET
    assert (report.agent, report.proposed, report.rejected, report.fallback_count) == ("claude", 4, 1, 2)
    assert (report.input_tokens, report.output_tokens, report.cost_usd, report.campaign_cost_usd) == (
        1000,
        200,
        0.25,
        0.25,
    )
    assert report.agents == {"claude": 2, "random": 2} and "lr 0.5" in report.rejection_reasons[0]
    assert sorted(p.agent for p in ProposalStore(tmp_path).list("t")) == ["claude", "claude", "random", "random"]
    run_round(c, space, tmp_path, env={"ANTHROPIC_API_KEY": SECRET})
    status = campaign_status(c, tmp_path)
    assert status.cost_usd == pytest.approx(0.5) and status.stop_reason is None
    run_round(c, space, tmp_path, env={"ANTHROPIC_API_KEY": SECRET})
    assert "max_cost_usd reached" in campaign_status(c, tmp_path).stop_reason
    assert run_round(c, space, tmp_path, env={"ANTHROPIC_API_KEY": SECRET}).stopped
    assert len(AgentLog(tmp_path).records("t")) == 3
    for f in tmp_path.rglob("*.json"):
        assert SECRET not in f.read_text(), f


def test_auth_failure_disables_the_agent_for_later_rounds(space, tmp_path, monkeypatch):
    _fake_llm(monkeypatch, disable=True)
    c = cfg(agents=(("claude", 1.0), ("random", 1.0)))
    env = {"ANTHROPIC_API_KEY": SECRET}
    first = run_round(c, space, tmp_path, env=env)
    assert first.agent == "claude" and first.proposed == 3, "the round is still filled"
    assert any("disabled" in w for w in first.warnings)
    assert "claude" in campaign_status(c, tmp_path).disabled_agents
    later = [run_round(c, space, tmp_path, env=env) for _ in range(2)]
    assert [r.agent for r in later] == ["random", "random"] and later[0].skipped_agents == ("claude",)


def test_offline_campaigns_never_import_llm_sdks(space, tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, tempfile; from archsearch.campaign.rounds import run_round; "
        "from tests.archsearch.campaign.test_campaign import cfg, TINY; from archsearch.space import SearchSpace; "
        "run_round(cfg(), SearchSpace.from_dict(TINY), tempfile.mkdtemp(), env={}); "
        "print(any(m in sys.modules for m in ('anthropic', 'google.genai', 'archsearch.agents.llm')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------------------- status and breaker


def test_status_counts_and_queue_order(space, tmp_path):
    c = cfg(round_size=5)
    keys = run_round(c, space, tmp_path, env={}).keys
    store = ResultsStore(tmp_path)
    for key, status in zip(keys[:2], ("ok", "failed"), strict=True):
        p = ProposalStore(tmp_path).get(key)
        r = result("t", 0, status)
        store.write(replace(r, config_id=p.config_id, config=p.config))
    s = campaign_status(c, tmp_path)
    assert (s.rounds, s.proposed, s.finished_ok, s.finished_failed, s.queued) == (1, 5, 1, 1, keys[2:])
    assert s.budget_left == 15 and s.cost_left_usd == 1.0 and not s.finished
    assert "5 proposed" in s.summary()


def test_breaker_trips_over_the_rate_names_the_error_and_resets(tmp_path):
    c = cfg()
    store = ResultsStore(tmp_path)
    for i in range(9):  # below min_results (10): never trips, however bad
        store.write(result("t", i, "failed"))
    assert not campaign_status(c, tmp_path).breaker.tripped
    for i in range(9, 20):  # 20 results: 12 failed (60%), most common CUDAOutOfMemory
        store.write(result("t", i, "ok" if i >= 12 else "failed", error="ValueError" if i in (9, 10, 11) else "x"))
    b = campaign_status(c, tmp_path).breaker
    assert b.tripped and (b.considered, b.failed) == (20, 12)
    assert b.reason.startswith("circuit breaker: 12 of the last 20 experiments failed (60% > 50%)")
    assert "most common error: CUDAOutOfMemory x9" in b.reason
    reset_breaker(c, tmp_path)
    assert not campaign_status(c, tmp_path).breaker.tripped
    s = campaign_status(replace(c, breaker=replace(c.breaker, max_failure_rate=0.6)), tmp_path)
    assert not s.breaker.tripped


def test_breaker_looks_only_at_the_window(tmp_path):
    c = cfg()
    store = ResultsStore(tmp_path)
    for i in range(30):  # 10 failures, then 20 successes: the window of 20 holds no failure
        store.write(result("t", i, "failed" if i < 10 else "ok"))
    assert campaign_status(c, tmp_path).breaker.failed == 0
    store.write(result("t", 99, "failed"))
    assert campaign_status(c, tmp_path).breaker.failed == 1


def test_agent_rng_depends_on_seed_and_round(space, tmp_path):
    a = run_round(cfg(seed=1), space, tmp_path / "a", env={}).keys
    b = run_round(cfg(seed=2), space, tmp_path / "b", env={}).keys
    assert a != b
    agent = make_agent("random")
    again = agent.propose([], space, 2, np.random.default_rng([1, 0]))
    assert agent.propose([], space, 2, np.random.default_rng([1, 0])) == again


def test_real_claude_agent_auth_failure_through_a_campaign(space, tmp_path):
    """The real LLM agent and SDK against a local server: a 401 fills the round from the fallback, then disables it."""
    from archsearch.config.campaign import LLMSettings
    from tests.archsearch.agents.llm.fake_llm_server import FakeLLMServer, claude_error

    with FakeLLMServer() as server:
        server.push(claude_error(401, "invalid x-api-key"))
        c = cfg(
            agents=(("claude", 1.0), ("random", 1.0)),
            llm={"claude": LLMSettings(base_url=server.url), "gemini": LLMSettings()},
        )
        first = run_round(c, space, tmp_path, env={"ANTHROPIC_API_KEY": SECRET})
        assert len(server.requests) == 1 and server.requests[0]["path"].endswith("/v1/messages")
    assert first.agent == "claude" and first.proposed == 3 and first.fallback_count == 3
    assert first.agents == {"random": 3} and first.errors and "401" in first.errors[0]
    assert "claude" in campaign_status(c, tmp_path).disabled_agents
    assert [run_round(c, space, tmp_path, env={"ANTHROPIC_API_KEY": SECRET}).agent for _ in range(2)] == ["random"] * 2
    assert AgentLog(tmp_path).records("t"), "the failed call is in the agent log"
    for f in tmp_path.rglob("*.json"):
        assert SECRET not in f.read_text(), f
