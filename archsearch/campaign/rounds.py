"""One campaign round: pick the agent, show it the shared leaderboard, store what it proposes.

A round is a pure function of the stores and the config: the agent is the smooth-WRR pick for the
round index (the number of round records), the rng is ``default_rng([seed, round])``, and the
history is every result of the campaign (validation metrics only) plus every proposal still
without a result as a ``pending`` view, so no agent proposes a queued config again. All proposals
of a round share one timestamp, so their order (the store's: time, then config id) is stable.

A round is atomic: it runs under the campaign's round lock (a second round waits for the first, then
sees its proposals and budget) and is published all or nothing (see :mod:`archsearch.campaign.commit`).
Everything an agent returned -- rationales, rejection reasons, errors, warnings -- passes through the
redactor with every configured API key before it is stored, logged or returned.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.agents import Agent, AgentCall, AgentLog, AgentProposal, PastProposal, RoundContext, redact
from archsearch.agents.log import redact_deep
from archsearch.campaign.agents import CampaignError, active_shares, build_agent
from archsearch.campaign.commit import commit_round, recover_pending
from archsearch.campaign.proposals import Proposal, ProposalStore
from archsearch.campaign.schedule import pick_agent
from archsearch.campaign.status import campaign_status
from archsearch.campaign.store import CampaignFiles
from archsearch.config.campaign import KEY_ENV, CampaignConfig
from archsearch.results import AgentView, ResultsStore, utc_now
from archsearch.space import InvalidConfigError, SearchSpace

RATIONALE_CHARS = 240  # per proposal in the round record and the asset metadata
LOCK_MARGIN_S = 60.0  # a round waits for another this long beyond that round's deadline
_log = logging.getLogger(__name__)

__all__ = ["CampaignError", "RoundReport", "run_round"]


@dataclass(frozen=True)
class RoundReport:
    """What one round did (also stored as the round record, minus ``stopped``)."""

    campaign: str
    round: int
    agent: str  # "" when no round ran (``stopped``)
    asked: int
    proposed: int  # new proposals written
    duplicates: int  # configs the campaign already had
    rejected: int  # items the agent's calls rejected (LLM replies), plus configs outside the campaign space
    rejection_reasons: tuple[str, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    campaign_cost_usd: float = 0.0
    fallback_count: int = 0  # proposals chosen by the fallback agent for an LLM agent
    keys: tuple[str, ...] = ()  # experiment keys of the new proposals, in proposal order
    agents: dict[str, int] = field(default_factory=dict)  # credited agent -> new proposals
    rationales: tuple[str, ...] = ()  # "<config_id> (<agent>): <rationale excerpt>"
    errors: tuple[str, ...] = ()  # API errors the agent recorded (it still filled the round)
    warnings: tuple[str, ...] = ()
    budget_left: int = 0  # after this round
    skipped_agents: tuple[str, ...] = ()
    stopped: str | None = None  # why no round ran (budget spent), else None
    created_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_round(
    cfg: CampaignConfig,
    space: SearchSpace,
    root: str | Path,
    *,
    env: Mapping[str, str] = os.environ,
    log: Callable[[str], None] | None = None,
    wait_s: float | None = None,
) -> RoundReport:
    """Run one round of campaign ``cfg`` over ``space``; ``log`` receives each warning as it happens.

    Waits up to ``wait_s`` (default: ``round_deadline_s`` + 60 s) for a round already running. Raises
    CampaignError when no agent can run (or a strict campaign misses a key), RoundBusyError when the
    other round does not finish in time. A spent budget is not an error: the report says ``stopped``
    and nothing is written.
    """
    secrets = api_keys(env)
    warnings: list[str] = []

    def warn(msg: str) -> None:
        msg = redact(msg, secrets)
        warnings.append(msg)
        (log or _log.warning)(msg)

    files = CampaignFiles(root, cfg.name)
    store = ProposalStore(root)
    wait = cfg.round_deadline_s + LOCK_MARGIN_S if wait_s is None else wait_s
    with files.round_lock(wait, note=f"a round of campaign {cfg.name}"):
        recover_pending(files, store, warn)
        report = locked_round(cfg, space, root, files, store, env, warn, warnings)
    return RoundReport(**redact_deep(report.to_dict(), secrets))


def api_keys(env: Mapping[str, str]) -> list[str]:
    """Every configured LLM API key: what the redactor removes from everything a round stores or logs."""
    return [env.get(var, "") for var in KEY_ENV.values()]


def locked_round(
    cfg: CampaignConfig,
    space: SearchSpace,
    root: str | Path,
    files: CampaignFiles,
    store: ProposalStore,
    env: Mapping[str, str],
    warn: Callable[[str], None],
    warnings: list[str],
) -> RoundReport:
    """The round itself, under the round lock: budget, agent, proposals, commit."""
    status = campaign_status(cfg, root)
    index = status.rounds
    if status.stop_reason:
        warn(f"campaign {cfg.name}: no round: {status.stop_reason}")
        return RoundReport(
            cfg.name,
            index,
            "",
            0,
            0,
            0,
            0,
            campaign_cost_usd=status.cost_usd,
            warnings=tuple(warnings),
            budget_left=status.budget_left,
            stopped=status.stop_reason,
        )
    name, skipped = choose_agent(cfg, files, index, env, warn)
    agent = build_agent(name, cfg, env, warn)
    past = store.list(cfg.name)
    n = min(cfg.round_size, status.budget_left)
    context = RoundContext(
        campaign=cfg.name,
        round=index,
        budget_left=status.budget_left,
        cost_left_usd=status.cost_left_usd,
        proposals=tuple(PastProposal(p.config_id, dict(p.config), p.agent, p.round, p.rationale) for p in past),
    )
    history = campaign_history(cfg.name, root, past)
    out = agent.propose(history, space, n, np.random.default_rng([cfg.seed, index]), context=context)
    calls = record_calls(agent, name, cfg, files, root, env, warn)
    reasons = [str(r.get("reason", r)) if isinstance(r, dict) else str(r) for c in calls for r in c.rejections]
    created_at = utc_now()
    new, duplicates = new_proposals(out[:n], name, cfg, space, store, index, created_at, reasons, env)
    report = RoundReport(
        campaign=cfg.name,
        round=index,
        agent=name,
        asked=n,
        proposed=len(new),
        duplicates=duplicates,
        rejected=len(reasons),
        rejection_reasons=tuple(reasons),
        input_tokens=sum(int(c.input_tokens or 0) for c in calls),
        output_tokens=sum(int(c.output_tokens or 0) for c in calls),
        cost_usd=float(sum(float(c.cost_usd or 0.0) for c in calls)),
        campaign_cost_usd=float(AgentLog(root).total_cost_usd(cfg.name)),
        fallback_count=sum(1 for p in new if p.agent != name),
        keys=tuple(p.key for p in new),
        agents=credited_counts(new),
        rationales=tuple(f"{p.config_id} ({p.agent}): {p.rationale[:RATIONALE_CHARS]}" for p in new),
        errors=tuple(c.error for c in calls if c.error),
        warnings=tuple(warnings),
        budget_left=status.budget_left - len(new),
        skipped_agents=skipped,
        created_at=created_at,
    )
    record = redact_deep(report.to_dict(), api_keys(env))
    record.pop("stopped")
    commit_round(files, store, record, new, warn)
    return report


def choose_agent(
    cfg: CampaignConfig, files: CampaignFiles, index: int, env: Mapping[str, str], warn: Callable[[str], None]
) -> tuple[str, tuple[str, ...]]:
    """The agent of round ``index`` among those that may run now, and the configured agents skipped."""
    state = files.state()
    warned = set(state.get("skip_warned", []))
    shares = active_shares(cfg, env, state["disabled"], warn, warned)
    if warned != set(state.get("skip_warned", [])):
        state["skip_warned"] = sorted(warned)
        files.write_state(state)
    return pick_agent(shares, index), tuple(a for a in cfg.shares if a not in shares)


def campaign_history(campaign: str, root: str | Path, past: list[Proposal]) -> list[AgentView]:
    """What agents see: every result's validation view, plus queued proposals as pending (never twice)."""
    history = ResultsStore(root).agent_history(campaign)
    done = {v.config_id for v in history}
    return history + [
        AgentView.pending(
            config_id=p.config_id,
            config=p.config,
            agent=p.agent,
            round=p.round,
            campaign=p.campaign,
            seed=p.seed,
            created_at=p.created_at,
        )
        for p in past
        if p.config_id not in done
    ]


def record_calls(
    agent: Agent,
    name: str,
    cfg: CampaignConfig,
    files: CampaignFiles,
    root: str | Path,
    env: Mapping[str, str],
    warn: Callable[[str], None],
) -> list[AgentCall]:
    """Write the round's LLM calls to the agent log; persist an agent the provider refused (401/403) as disabled."""
    agent_log = AgentLog(root, secrets=[env.get(v, "") for v in KEY_ENV.values()])  # belt and braces
    calls = agent.drain_calls()
    for call in calls:
        agent_log.write(call)
    disabled = getattr(agent, "disabled_reason", None)
    if disabled:
        state = files.state()
        state["disabled"][name] = disabled
        files.write_state(state)
        warn(f"agent {name} disabled for the rest of campaign {cfg.name}: {disabled}")
    return calls


def new_proposals(
    items: list[AgentProposal],
    name: str,
    cfg: CampaignConfig,
    space: SearchSpace,
    store: ProposalStore,
    index: int,
    created_at: str,
    reasons: list[str],
    env: Mapping[str, str],
) -> tuple[list[Proposal], int]:
    """The round's new proposals (in the store's order, rationales redacted) and the number of duplicates.

    Nothing is written here (see :func:`commit_round`); configs outside the space go to ``reasons``.
    """
    secrets = api_keys(env)
    new: list[Proposal] = []
    seen: set[str] = set()
    duplicates = 0
    for item in items:
        try:
            config = space.canonical(item.config)
        except InvalidConfigError as exc:  # offline agents never do this; a defect must not poison the store
            reasons.append(f"{name}: {exc}")
            continue
        proposal = Proposal(
            campaign=cfg.name,
            config_id=space.config_id(config),
            config=config,
            dataset=cfg.dataset,
            seed=cfg.seed,
            agent=item.proposed_by or name,
            round=index,
            rationale=redact(item.rationale, secrets),
            space=space.name,
            created_at=created_at,
        )
        if proposal.config_id in seen or store.exists(cfg.name, proposal.config_id):
            duplicates += 1
            continue
        seen.add(proposal.config_id)
        new.append(proposal)
    new.sort(key=lambda p: (p.created_at, p.config_id))  # the store's order: partitions are added in it
    return new, duplicates


def credited_counts(proposals: list[Proposal]) -> dict[str, int]:
    """Credited agent -> new proposals (fallback top-ups count for the agent that chose them)."""
    out: dict[str, int] = {}
    for p in proposals:
        out[p.agent] = out.get(p.agent, 0) + 1
    return out
