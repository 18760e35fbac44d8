"""A study expands into one single-agent campaign per seed x agent x dataset, with its own seed, dataset and budget."""

from __future__ import annotations

import inspect
from dataclasses import replace

import numpy as np
import pytest

from archsearch.campaign import campaign_status, run_round
from archsearch.campaign.space import campaign_space
from archsearch.config import ConfigError, StudyConfig, load_config, parse_config
from archsearch.study import campaign_config, study_campaign_names, study_plan
from tests.projects import write_project

DATASETS = [{"name": "front", "kind": "synthetic"}, {"name": "side", "kind": "synthetic"}]


def project(study=None, **campaign):
    raw = {"datasets": DATASETS, "study": study or {}}
    if campaign:
        raw["campaign"] = campaign
    return parse_config(raw, "cfg.yaml")


def test_expansion_is_seeds_x_agents_x_datasets_and_llm_agents_need_their_key():
    p = project({"seeds": 3, "n": 20, "agents": ["random", "tpe", "claude"]})
    plan = study_plan(p, env={})
    assert len(plan.campaigns) == 3 * 2 * 2 and plan.experiments == 240
    assert plan.agents == ("random", "tpe") and plan.skipped == ("claude: ANTHROPIC_API_KEY is not set",)
    assert plan.datasets == ("front", "side")
    names = [c.name for c in plan.campaigns]
    assert len(set(names)) == len(names) and "study-side-tpe-s2" in names
    assert plan.scale() == "3 seeds x 2 agents x 2 datasets = 12 campaigns of N = 20 (240 experiments)"

    with_key = study_plan(p, env={"ANTHROPIC_API_KEY": "k"})
    assert with_key.agents == ("random", "tpe", "claude") and not with_key.skipped
    assert len(with_key.campaigns) == 18
    assert set(study_campaign_names(p)) == {c.name for c in with_key.campaigns}


def test_study_backbones_must_be_in_the_space():
    with pytest.raises(ConfigError, match=r"cfg\.yaml: study\.backbones: backbone\(s\) \['nope'\] are not in space"):
        study_plan(project({"backbones": ["nope"]}), env={})


def test_no_runnable_agent_is_a_config_error():
    with pytest.raises(ConfigError, match=r"study\.agents: no agent can run.*GEMINI_API_KEY"):
        study_plan(project({"agents": ["gemini"]}), env={})


def test_each_campaign_is_one_agent_one_seed_one_dataset_and_the_study_budget():
    p = project(
        {"seeds": [4], "n": 7, "round_size": 3, "datasets": ["side"], "agents": ["tpe"], "backbones": ["motion"]},
        max_experiments=60,
        seed=0,
    )
    (spec,) = study_plan(p, env={}).campaigns
    cfg = spec.config(p)
    assert (cfg.name, cfg.agents, cfg.seed, cfg.dataset, cfg.max_experiments, cfg.round_size) == (
        "study-side-tpe-s4",
        (("tpe", 1.0),),
        4,
        "side",
        7,
        3,
    )
    assert cfg.backbones == ("motion",) and cfg.max_cost_usd == 2.0
    assert cfg.breaker == p.campaign.breaker, "everything the study does not set is the project's campaign's"
    assert spec.overrides() == {
        "campaign": "study-side-tpe-s4",
        "agent": "tpe",
        "seed": 4,
        "dataset": "side",
        "max_experiments": 7,
        "n": 3,
        "max_cost_usd": 2.0,
        "backbones": ["motion"],
    }


def test_overrides_are_the_proposals_asset_config_fields():
    from assets.proposals import ProposalsConfig

    spec = study_plan(project({"backbones": ["motion"]}), env={}).campaigns[0]
    assert set(spec.overrides()) <= set(ProposalsConfig.model_fields)
    renamed = {"project", "name", "round_size"}  # the asset's `campaign` and `n`
    assert set(inspect.signature(campaign_config).parameters) - renamed <= set(ProposalsConfig.model_fields)


@pytest.mark.parametrize(
    "kw, fragment",
    [
        ({"agent": "human"}, "agent: unknown agent 'human'"),
        ({"dataset": "nexar"}, "dataset: no dataset named 'nexar'"),
        ({"seed": -1}, "seed: expected an integer >= 0"),
        ({"max_experiments": 0}, "max_experiments: expected an integer >= 1"),
        ({"round_size": 0}, "round_size: expected an integer >= 1"),
        ({"max_cost_usd": -0.5}, "max_cost_usd: expected a number >= 0"),
        ({"backbones": ["a", "a"]}, "backbones: expected a non-empty list of distinct names"),
    ],
)
def test_bad_overrides_name_the_field(kw, fragment):
    with pytest.raises(ConfigError, match=r"cfg\.yaml: campaign override") as info:
        campaign_config(project(), **kw)
    assert fragment in str(info.value)


def test_a_study_campaign_runs_rounds_of_its_own_agent_seed_and_dataset(tmp_path):
    path = write_project(tmp_path)
    base = load_config(path)
    p = replace(base, study=StudyConfig(seeds=(3,), n=5, agents=("random",), round_size=2, source=path))
    (spec,) = study_plan(p, env={}).campaigns
    cfg = spec.config(p)
    space = campaign_space(p)
    rounds = [run_round(cfg, space, tmp_path / "home", env={}) for _ in range(4)]
    assert [r.proposed for r in rounds] == [2, 2, 1, 0] and rounds[-1].stopped.startswith("max_experiments")
    assert {r.agent for r in rounds[:3]} == {"random"}
    status = campaign_status(cfg, tmp_path / "home")
    assert status.proposed == 5 and len(status.queued) == 5 and status.stop_reason
    first = run_round(cfg, space, tmp_path / "other", env={})
    assert first.keys == rounds[0].keys, "same seed, same first round: campaigns are reproducible"
    assert np.all([k.startswith("study-synth-random-s3:") for k in first.keys])


def test_a_study_campaign_by_name_gets_its_own_agent_seed_dataset_and_budget():
    """`pipelines.cli campaign status|round --campaign <study campaign>` reads the study's N, not the demo's budget."""
    from archsearch.config import DEFAULT_CONFIG_PATH, load_config
    from archsearch.study import named_campaign_config, study_campaign_spec

    project = load_config(DEFAULT_CONFIG_PATH)
    name = f"{project.study.name}-synth_side-tpe-s3"
    cfg = named_campaign_config(project, name)
    assert (cfg.name, cfg.dataset, cfg.seed, cfg.max_experiments) == (name, "synth_side", 3, project.study.n)
    assert dict(cfg.agents) == {"tpe": 1.0}
    assert study_campaign_spec(project, name).overrides()["agent"] == "tpe"
    other = named_campaign_config(project, "my-own")
    assert (other.name, other.max_experiments) == ("my-own", project.campaign.max_experiments)
    assert study_campaign_spec(project, "my-own") is None
