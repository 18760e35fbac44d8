"""A study's campaigns: the config's ``study:`` section expanded into one campaign per seed x agent x dataset.

Every campaign searches from scratch with one agent, one seed (the training seed of its experiments
and the agent's random seed) and the same budget of N experiments, so an agent's K campaigns are
independent replicates and a comparison between agents has campaigns as its units. The campaign
machinery is the ordinary one (``archsearch.campaign``): a study campaign is a ``CampaignConfig``
whose fields are set by :func:`campaign_config`, which the ``proposals`` asset uses too, so a round
run by the study driver and a round run by hand from the UI with the same overrides are the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from archsearch.campaign.space import restrict_backbones
from archsearch.config import (
    KEY_ENV,
    LLM_AGENTS,
    OFFLINE_AGENTS,
    CampaignConfig,
    ConfigError,
    ProjectConfig,
    StudyConfig,
    campaign_name,
)


def campaign_config(
    project: ProjectConfig,
    *,
    name: str | None = None,
    agent: str | None = None,
    seed: int | None = None,
    dataset: str | None = None,
    max_experiments: int | None = None,
    round_size: int | None = None,
    backbones: Sequence[str] | None = None,
    max_cost_usd: float | None = None,
) -> CampaignConfig:
    """The project's campaign with the given fields replaced (None keeps the configured value).

    ``agent`` makes a single-agent campaign (that agent takes every round); ``backbones`` restricts
    the campaign's sub-space. Bad values raise ConfigError naming the field and what was expected.
    """
    base = project.campaign
    where = f"{project.source}: campaign override"
    if agent is not None and agent not in (*OFFLINE_AGENTS, *LLM_AGENTS):
        raise ConfigError(f"{where} agent: unknown agent {agent!r}; known: {[*OFFLINE_AGENTS, *LLM_AGENTS]}")
    names = [d.name for d in project.datasets]
    if dataset is not None and dataset not in names:
        raise ConfigError(f"{where} dataset: no dataset named {dataset!r}; configured: {names}")
    for key, value, lo in (("seed", seed, 0), ("max_experiments", max_experiments, 1), ("round_size", round_size, 1)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < lo):
            raise ConfigError(f"{where} {key}: expected an integer >= {lo}, got {value!r}")
    if max_cost_usd is not None and not max_cost_usd >= 0:
        raise ConfigError(f"{where} max_cost_usd: expected a number >= 0, got {max_cost_usd!r}")
    if backbones is not None and (not backbones or len(set(backbones)) != len(backbones)):
        raise ConfigError(f"{where} backbones: expected a non-empty list of distinct names, got {list(backbones)}")
    fields: dict[str, Any] = {
        "name": name,
        "seed": seed,
        "dataset": dataset,
        "max_experiments": max_experiments,
        "round_size": round_size,
        "max_cost_usd": max_cost_usd,
        "backbones": None if backbones is None else tuple(backbones),
        "agents": None if agent is None else ((agent, 1.0),),
    }
    return replace(base, **{k: v for k, v in fields.items() if v is not None})


@dataclass(frozen=True)
class CampaignSpec:
    """One campaign of a study: which agent searches which dataset with which seed, and its budget."""

    study: str
    dataset: str
    agent: str
    seed: int
    n: int  # budget: experiments
    round_size: int
    backbones: tuple[str, ...] | None  # None: the space's backbones
    max_cost_usd: float

    @property
    def name(self) -> str:
        return campaign_name(self.study, self.dataset, self.agent, self.seed)

    def overrides(self) -> dict[str, Any]:
        """The ``proposals`` asset's run config for one round of this campaign (None fields left out)."""
        out = {
            "campaign": self.name,
            "agent": self.agent,
            "seed": self.seed,
            "dataset": self.dataset,
            "max_experiments": self.n,
            "n": self.round_size,
            "max_cost_usd": self.max_cost_usd,
            "backbones": None if self.backbones is None else list(self.backbones),
        }
        return {k: v for k, v in out.items() if v is not None}

    def config(self, project: ProjectConfig) -> CampaignConfig:
        """This campaign as a CampaignConfig (what campaign_status and run_round read)."""
        return campaign_config(
            project,
            name=self.name,
            agent=self.agent,
            seed=self.seed,
            dataset=self.dataset,
            max_experiments=self.n,
            round_size=self.round_size,
            backbones=self.backbones,
            max_cost_usd=self.max_cost_usd,
        )


@dataclass(frozen=True)
class StudyPlan:
    """The campaigns a study runs now, and the configured agents left out (with why)."""

    study: StudyConfig
    campaigns: tuple[CampaignSpec, ...]
    datasets: tuple[str, ...]
    agents: tuple[str, ...]  # the agents that run, in config order
    skipped: tuple[str, ...]  # "claude: ANTHROPIC_API_KEY is not set"

    @property
    def experiments(self) -> int:
        return sum(c.n for c in self.campaigns)

    def scale(self) -> str:
        """'5 seeds x 3 agents x 2 datasets = 30 campaigns of N = 30 (900 experiments)'."""
        return (
            f"{len(self.study.seeds)} seeds x {len(self.agents)} agents x {len(self.datasets)} datasets = "
            f"{len(self.campaigns)} campaigns of N = {self.study.n} ({self.experiments} experiments)"
        )


def study_plan(project: ProjectConfig, env: Mapping[str, str]) -> StudyPlan:
    """Expand ``project.study`` into campaigns; an LLM agent runs only when its key is in ``env``."""
    study = project.study
    datasets = study.datasets or tuple(d.name for d in project.datasets)
    agents, skipped = [], []
    for agent in study.agents:
        if agent in LLM_AGENTS and not env.get(KEY_ENV[agent]):
            skipped.append(f"{agent}: {KEY_ENV[agent]} is not set")
        else:
            agents.append(agent)
    if not agents:
        raise ConfigError(
            f"{study.source}: study.agents: no agent can run ({'; '.join(skipped)}); "
            "add an offline agent (random, tpe, architecture_first)"
        )
    if study.backbones is not None:  # checked here, where the space is known, so the error names study.backbones
        restrict_backbones(project.search_space(), study.backbones, f"{study.source}: study.backbones")
    backbones = study.backbones if study.backbones is not None else project.campaign.backbones
    specs = tuple(
        CampaignSpec(study.name, d, a, s, study.n, study.round_size, backbones, study.max_cost_usd)
        for d in datasets
        for a in agents
        for s in study.seeds
    )
    return StudyPlan(study, specs, tuple(datasets), tuple(agents), tuple(skipped))


def study_campaign_names(project: ProjectConfig) -> tuple[str, ...]:
    """Every campaign name the study's config can produce (LLM agents included, keys or not)."""
    study = project.study
    datasets = study.datasets or tuple(d.name for d in project.datasets)
    return tuple(campaign_name(study.name, d, a, s) for d in datasets for a in study.agents for s in study.seeds)


def study_campaign_spec(project: ProjectConfig, name: str | None) -> CampaignSpec | None:
    """The study campaign called ``name`` (LLM agents included, keys or not), or None when it is not one."""
    study = project.study
    datasets = study.datasets or tuple(d.name for d in project.datasets)
    backbones = study.backbones if study.backbones is not None else project.campaign.backbones
    for d in datasets:
        for a in study.agents:
            for seed in study.seeds:
                spec = CampaignSpec(study.name, d, a, seed, study.n, study.round_size, backbones, study.max_cost_usd)
                if spec.name == name:
                    return spec
    return None


def named_campaign_config(project: ProjectConfig, name: str | None) -> CampaignConfig:
    """The config of campaign ``name``: a study campaign's own (its agent, seed, dataset, N), else the
    project's campaign under that name (None: the project's campaign as configured)."""
    if name is None:
        return project.campaign
    spec = study_campaign_spec(project, name)
    return spec.config(project) if spec is not None else replace(project.campaign, name=name)
