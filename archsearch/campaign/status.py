"""Where a campaign stands: proposed, finished, queued, spent, and whether it must stop or pause.

Everything is derived from the stores (proposals, results, agent log, round records) on each call,
so the sensor, the CLI and the UI agree and nothing can drift. Two kinds of "no":

* **stop** (``stop_reason``): the budget is spent -- ``max_experiments`` proposed or the LLM cost in
  the agent log has reached ``max_cost_usd`` -- or the last round found no new config (the space
  is exhausted; agents return fewer than asked only then). No new rounds; proposals already queued still run
  (they are paid for), and the campaign is ``finished`` once none is left.
* **pause** (``breaker.tripped``): too many recent experiments failed; nothing is launched or
  proposed until the cause is fixed and :func:`reset_breaker` is called (results before the reset
  are then ignored by the breaker, never deleted).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from archsearch.campaign.proposals import ProposalStore
from archsearch.campaign.store import CampaignFiles
from archsearch.config.campaign import BreakerConfig, CampaignConfig
from archsearch.results import ResultsStore, utc_now


@dataclass(frozen=True)
class BreakerState:
    """The circuit breaker over the last ``window`` finished results (since the last reset)."""

    tripped: bool
    considered: int  # finished results in the window
    failed: int
    reason: str


@dataclass(frozen=True)
class CampaignStatus:
    campaign: str
    rounds: int
    proposed: int
    finished_ok: int
    finished_failed: int
    queued: tuple[str, ...]  # experiment keys proposed and without a result, in proposal order
    cost_usd: float  # LLM spend so far (agent log)
    budget_left: int  # experiments the campaign may still propose
    cost_left_usd: float | None  # None: no cost limit
    stop_reason: str | None
    breaker: BreakerState
    disabled_agents: dict[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """Stopped by a budget and nothing left to run."""
        return self.stop_reason is not None and not self.queued

    def summary(self) -> str:
        cost_cap = "no limit" if self.cost_left_usd is None else f"${self.cost_left_usd:.4f} left"
        lines = [
            f"campaign {self.campaign}: {self.rounds} round(s), {self.proposed} proposed, "
            f"{self.finished_ok} ok, {self.finished_failed} failed, {len(self.queued)} queued",
            f"budget: {self.budget_left} experiment(s) left; LLM cost ${self.cost_usd:.4f} ({cost_cap})",
            f"breaker: {'TRIPPED -- ' if self.breaker.tripped else ''}{self.breaker.reason}",
        ]
        if self.stop_reason:
            lines.append(
                f"stopped: {self.stop_reason}" + (" (finished)" if self.finished else " (queued runs continue)")
            )
        lines += [f"disabled agent {a}: {why}" for a, why in self.disabled_agents.items()]
        return "\n".join(lines)


def breaker_state(records: list[dict], cfg: BreakerConfig, since: str | None = None) -> BreakerState:
    """Trip when more than ``max_failure_rate`` of the last ``window`` results (``>= min_results``) failed."""
    done = [
        r
        for r in records
        if r.get("status") in ("ok", "failed") and (since is None or str(r.get("created_at", "")) > since)
    ]
    window = done[-cfg.window :]
    failed = [r for r in window if r.get("status") == "failed"]
    n, k = len(window), len(failed)
    rate = k / n if n else 0.0
    limit = f"{cfg.max_failure_rate:.0%}"
    if n < cfg.min_results:
        return BreakerState(
            False,
            n,
            k,
            f"ok: {k} of {n} recent experiments failed; the breaker needs {cfg.min_results} results before it can trip",
        )
    if rate <= cfg.max_failure_rate:
        return BreakerState(False, n, k, f"ok: {k} of the last {n} experiments failed ({rate:.0%} <= {limit})")
    ((error, count),) = Counter(str(r.get("error_type") or "unknown") for r in failed).most_common(1)
    return BreakerState(
        True,
        n,
        k,
        f"circuit breaker: {k} of the last {n} experiments failed ({rate:.0%} > {limit}); "
        f"most common error: {error} x{count}. Fix the cause, then run "
        "`python -m pipelines.cli campaign reset-breaker`",
    )


def campaign_status(cfg: CampaignConfig, root: str | Path) -> CampaignStatus:
    from archsearch.agents.log import AgentLog

    files = CampaignFiles(root, cfg.name)
    state = files.state()
    proposals = ProposalStore(root).list(cfg.name)
    records = ResultsStore(root).records(cfg.name)
    done = {r["config_id"] for r in records}
    ok = sum(r.get("status") == "ok" for r in records)
    cost = float(AgentLog(root).total_cost_usd(cfg.name))
    budget_left = max(0, cfg.max_experiments - len(proposals))
    cost_left = None if cfg.max_cost_usd is None else cfg.max_cost_usd - cost
    stop = None
    if budget_left == 0:
        stop = f"max_experiments reached ({len(proposals)} of {cfg.max_experiments} proposed)"
    elif cost_left is not None and cost_left <= 0:
        stop = f"max_cost_usd reached (${cost:.4f} of ${cfg.max_cost_usd:.2f} spent on LLM calls)"
    elif (
        (last := files.last_round()) is not None
        and last["asked"] > 0
        and last["proposed"] == 0
        and not last["duplicates"]
    ):
        stop = f"search space exhausted: round {last['round']} ({last['agent']}) found no new config"
    return CampaignStatus(
        campaign=cfg.name,
        rounds=files.n_rounds(),
        proposed=len(proposals),
        finished_ok=ok,
        finished_failed=len(records) - ok,
        queued=tuple(p.key for p in proposals if p.config_id not in done),
        cost_usd=cost,
        budget_left=budget_left,
        cost_left_usd=cost_left,
        stop_reason=stop,
        breaker=breaker_state(records, cfg.breaker, state["breaker_reset_at"]),
        disabled_agents=dict(state["disabled"]),
    )


def reset_breaker(cfg: CampaignConfig, root: str | Path) -> str:
    """Make the breaker ignore results so far (after fixing the cause); returns the reset time."""
    files = CampaignFiles(root, cfg.name)
    state = files.state()
    state["breaker_reset_at"] = utc_now()
    files.write_state(state)
    return state["breaker_reset_at"]
