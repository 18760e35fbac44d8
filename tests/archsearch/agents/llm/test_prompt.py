"""The LLM prompt: task and metric, the space with its groups, the budget, top 10 and bottom 5 by
val mAP, per-value marginal means with counts, failures by error type, this agent's and the other
agents' recent proposals with outcomes, the configs already taken (capped, with the omitted count),
the ask for exactly n configs with hypotheses; deterministic; no test metric (nor the word) leaks."""

from __future__ import annotations

from archsearch.agents.base import PastProposal, RoundContext
from archsearch.agents.llm.prompt import build_prompt, compact, repair_prompt
from archsearch.results import AgentView, ExperimentResult, SplitMetrics, to_agent_view
from archsearch.space import load_space

SPACE = load_space("demo")
N_OK = 20


def result(i: int, val: float | None, agent: str = "claude", status: str = "ok", error: str | None = None):
    config = SPACE.config_at(i * 997)
    metrics = None if val is None else SplitMetrics(val, val, val, val)
    test = None if val is None else SplitMetrics(0.31337, 0.31337, 0.31337, 0.31337)  # must never show
    return ExperimentResult(
        config_id=SPACE.config_id(config),
        config=config,
        agent=agent,
        round=i // 4,
        campaign="c",
        seed=0,
        status=status,
        error_type=error,
        error_message="CUDA out of memory" if error else None,
        val=metrics,
        test=test,
    )


def history():
    views = [to_agent_view(result(i, 0.40 + 0.02 * i, agent="claude" if i % 2 else "gemini")) for i in range(N_OK)]
    views += [to_agent_view(result(N_OK + j, None, status="failed", error="OutOfMemoryError")) for j in range(2)]
    views += [to_agent_view(result(N_OK + 2, None, status="failed", error="ValueError"))]
    pend = SPACE.config_at(5)
    views.append(
        AgentView.pending(config_id=SPACE.config_id(pend), config=pend, agent="claude", round=6, campaign="c", seed=0)
    )
    return views


def context(hist):
    props = tuple(
        PastProposal(
            config_id=v.config_id, config=v.config, agent=v.agent, round=v.round, rationale=f"hypothesis number {k}"
        )
        for k, v in enumerate(hist)
    )
    return RoundContext(campaign="c", round=7, budget_left=37, cost_left_usd=12.5, proposals=props)


def prompt(**kw):
    hist = history()
    return build_prompt(hist, SPACE, 4, agent="claude", context=context(hist), reply_format="REPLY-FORMAT", **kw)


def test_prompt_sections_budget_task_space_and_ask():
    p = prompt()
    assert "dashcam collision anticipation" in p and "500, 1000 and 1500 ms" in p and "frozen features" in p
    assert SPACE.to_prompt_text() in p and "architecture: backbone, encoder, pooling" in p
    assert "Left in this campaign: 37 experiments; LLM spend left: $12.50. This round: 4 experiments." in p
    assert "Propose exactly 4 new, distinct configurations" in p and "one-sentence hypothesis" in p
    assert p.endswith("REPLY-FORMAT") and "campaign c, round 7" in p


def test_prompt_leaderboard_top10_bottom5_marginals_failures():
    p = prompt()
    best, worst = SPACE.config_at((N_OK - 1) * 997), SPACE.config_at(0)
    row = lambda rank, c, v: f"| {rank} | " + " | ".join(str(c[d]) for d in SPACE.dims) + f" | {v:.4f} | 1 |"
    assert "20 distinct configs scored, 3 runs failed, 1 queued or running." in p
    assert "Top 10 by val mAP:" in p and row(1, best, 0.40 + 0.02 * (N_OK - 1)) in p
    assert "Bottom 5 by val mAP:" in p and row(N_OK, worst, 0.40) in p
    top = p.split("Top 10 by val mAP:")[1].split("Bottom 5")[0]
    assert top.count("\n| ") == 11  # header + 10 rows
    assert row(11, SPACE.config_at((N_OK - 11) * 997), 0.40 + 0.02 * (N_OK - 11)) not in p  # 11th: in neither table
    # marginal means: every value of every dimension, with counts summing to the scored configs
    line = next(x for x in p.splitlines() if x.startswith("encoder [architecture]: "))
    counts = [int(part.split("(n=")[1].rstrip(")")) for part in line.split(": ", 1)[1].split(", ")]
    assert len(counts) == len(SPACE.values("encoder")) and sum(counts) == N_OK
    ok = [(SPACE.config_at(i * 997), 0.40 + 0.02 * i) for i in range(N_OK)]
    zs = [v for c, v in ok if c["encoder"] == "zipformer"]
    assert f"zipformer {sum(zs) / len(zs):.4f} (n={len(zs)})" in line
    assert "- OutOfMemoryError: 2 runs (e.g. CUDA out of memory)" in p and "- ValueError: 1 run" in p


def test_prompt_proposals_outcomes_and_taken_list():
    p = prompt()
    own = p.split("## Your recent proposals")[1].split("##")[0]
    others = p.split("## Other agents' recent proposals")[1].split("##")[0]
    assert own.count("\n- ") == 10 and others.count("\n- ") == 10
    assert all(", claude: " in x for x in own.strip().splitlines())
    assert all("claude" not in x for x in others.strip().splitlines())
    assert "-> pending" in own and "-> failed (OutOfMemoryError)" in own  # newest own ones
    assert f"{compact(SPACE.config_at(19 * 997), SPACE)} -> val mAP 0.7800; hypothesis: hypothesis number 19" in p
    taken = p.split("## Already run or queued")[1].split("##")[0]
    assert taken.count("\n- ") == 24 and "not listed" not in taken
    capped = prompt(max_listed=5).split("## Already run or queued")[1].split("##")[0]
    assert capped.count("\n- ") == 5 and "... and 19 older ones not listed" in capped


def test_prompt_is_deterministic_and_leaks_no_test_metric():
    p = prompt()
    assert p == prompt()
    assert "test" not in p.lower() and "0.3134" not in p and "0.31337" not in p


def test_prompt_without_context_or_history():
    p = build_prompt([], SPACE, 1, agent="gemini", context=None, reply_format="JSON")
    assert "Left in this campaign: not limited. This round: 1 experiment." in p
    assert "No scores yet" in p and "(no failures)" in p and "Propose exactly 1 new" in p


def test_repair_prompt_feeds_reasons_back():
    rej = [{"index": 1, "item": "{}", "reason": "key 'lr': value 0.5 is not in the space"}]
    p = repair_prompt("BASE", rej, 2, [SPACE.config_at(3)], SPACE)
    assert p.startswith("BASE\n\n## Correction") and "item 1: key 'lr': value 0.5" in p
    assert compact(SPACE.config_at(3), SPACE) in p and "exactly 2 more new configurations" in p
