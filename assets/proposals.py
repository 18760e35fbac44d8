"""The `proposals` asset: one campaign round -- the next agent proposes configs, their partitions are added.

The LLM call (if this round's agent is an LLM) happens here, in a run, never in the sensor: a sensor
tick has 60 s, an LLM round with retries may need minutes. The work is `archsearch.campaign.run_round`.
"""

import dagster as dg
from pydantic import Field

from assets.experiments import EXPERIMENTS
from assets.resources import ArchsearchResource, LLMKeysResource

EXCERPTS_SHOWN = 12


class ProposalsConfig(dg.Config):
    """Per-run overrides of the project's `campaign:` section (API keys are never run config).

    With ``agent``, ``seed``, ``dataset`` and a budget a round can run for any campaign, e.g. one of
    a study's (``make study`` sets them from the ``study:`` section, one campaign per seed x agent x dataset).
    """

    campaign: str | None = Field(
        default=None, description="campaign name (default: campaign.name of the project config)"
    )
    n: int | None = Field(default=None, ge=1, description="proposals this round (default: campaign.round_size)")
    agent: str | None = Field(default=None, description="the one agent of this campaign (default: campaign.agents)")
    seed: int | None = Field(default=None, ge=0, description="training and agent seed (default: campaign.seed)")
    dataset: str | None = Field(default=None, description="dataset of the campaign (default: campaign.dataset)")
    max_experiments: int | None = Field(default=None, ge=1, description="budget in experiments (default: campaign's)")
    max_cost_usd: float | None = Field(default=None, ge=0, description="LLM budget in USD (default: campaign's)")
    backbones: list[str] | None = Field(default=None, description="backbones searched (default: campaign.backbones)")


def round_metadata(report) -> dict:
    """What the UI shows for a round: who, how many, what it cost, and why (rationale excerpts)."""
    lines = [f"- `{cid}` {rest}" for cid, _, rest in (r.partition(" ") for r in report.rationales[:EXCERPTS_SHOWN])]
    if len(report.rationales) > EXCERPTS_SHOWN:
        lines.append(f"- ... and {len(report.rationales) - EXCERPTS_SHOWN} more")
    meta = {
        "campaign": report.campaign,
        "round": report.round,
        "agent": report.agent or "-",
        "credited_agents": dg.MetadataValue.json(report.agents),
        "asked": report.asked,
        "proposed": report.proposed,
        "rejected": report.rejected,
        "duplicates": report.duplicates,
        "fallback_count": report.fallback_count,
        "input_tokens": report.input_tokens,
        "output_tokens": report.output_tokens,
        "cost_usd": dg.MetadataValue.float(float(round(report.cost_usd, 6))),
        "campaign_cost_usd": dg.MetadataValue.float(float(round(report.campaign_cost_usd, 6))),
        "budget_left": report.budget_left,
        "new_keys": dg.MetadataValue.json(list(report.keys)),
        "rationales": dg.MetadataValue.md("\n".join(lines) or "(nothing proposed)"),
    }
    if report.rejection_reasons:
        meta["rejection_reasons"] = dg.MetadataValue.json(list(report.rejection_reasons[:50]))
    if report.warnings:
        meta["warnings"] = dg.MetadataValue.md("\n".join(f"- {w}" for w in report.warnings))
    if report.stopped:
        meta["stopped"] = report.stopped
    return meta


@dg.asset(
    name="proposals",
    group_name="agents",
    kinds={"python"},
    description="One agent round of the campaign: proposed configs with agent, round and rationale; adds "
    "their `experiments` partitions.",
)
def proposals(
    context: dg.AssetExecutionContext,
    config: ProposalsConfig,
    archsearch: ArchsearchResource,
    llm_keys: LLMKeysResource,
) -> dg.MaterializeResult:
    from dataclasses import replace

    from archsearch.campaign.agents import CampaignError
    from archsearch.campaign.rounds import run_round
    from archsearch.campaign.space import campaign_space
    from archsearch.config import ConfigError
    from archsearch.study import campaign_config

    project = archsearch.project()
    try:
        cfg = campaign_config(
            project,
            name=config.campaign,
            agent=config.agent,
            seed=config.seed,
            dataset=config.dataset,
            max_experiments=config.max_experiments,
            round_size=config.n,
            backbones=config.backbones,
            max_cost_usd=config.max_cost_usd,
        )
        space = campaign_space(replace(project, campaign=cfg))
        report = run_round(cfg, space, archsearch.root(), env=llm_keys.env(), log=context.log.warning)
    except (CampaignError, ConfigError) as exc:
        raise dg.Failure(description=str(exc)) from exc
    if report.keys:
        context.instance.add_dynamic_partitions(EXPERIMENTS.name, list(report.keys))
    context.log.info(
        f"round {report.round} ({report.agent or 'none'}): {report.proposed} new, {report.duplicates} "
        f"duplicate(s), {report.rejected} rejected; ${report.cost_usd:.4f}"
    )
    return dg.MaterializeResult(metadata=round_metadata(report))
