"""The `proposals` asset runs one campaign round: proposals written, partitions added, metadata shown."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from archsearch.campaign.proposals import ProposalStore
from assets.experiments import EXPERIMENTS
from assets.proposals import proposals
from assets.resources import LLMKeysResource, llm_keys_from_env
from pipelines import cli
from tests.projects import resources, write_project


def test_materialize_runs_one_round_and_adds_partitions(tmp_path):
    cfg = write_project(tmp_path, agents={"architecture_first": 1, "claude": 1})
    instance = dg.DagsterInstance.ephemeral()
    res = dg.materialize([proposals], resources=resources(tmp_path, cfg), instance=instance)
    assert res.success
    meta = {k: getattr(v, "value", v) for k, v in res.asset_materializations_for_node("proposals")[0].metadata.items()}
    stored = ProposalStore(tmp_path / "home").list("c1")
    assert [p.key for p in stored] == meta["new_keys"] == instance.get_dynamic_partitions(EXPERIMENTS.name)
    counts = (meta["round"], meta["agent"], meta["proposed"], meta["duplicates"], meta["rejected"])
    assert counts == (0, "architecture_first", 4, 0, 0)
    assert meta["budget_left"] == 8 and meta["cost_usd"] == 0.0 and meta["credited_agents"] == {"architecture_first": 4}
    assert stored[0].config_id in meta["rationales"]
    assert "ANTHROPIC_API_KEY" in meta["warnings"], "the keyless LLM agent is skipped with a warning"
    assert all(p.agent == "architecture_first" and p.dataset == "synth" for p in stored)

    again = dg.materialize(
        [proposals],
        resources=resources(tmp_path, cfg),
        instance=instance,
        run_config={"ops": {"proposals": {"config": {"n": 2}}}},
    )
    meta2 = again.asset_materializations_for_node("proposals")[0].metadata
    assert meta2["round"].value == 1 and meta2["proposed"].value == 2, "architecture_first again: claude is skipped"
    assert len(instance.get_dynamic_partitions(EXPERIMENTS.name)) == 6


def test_campaign_override_and_budget_stop(tmp_path):
    cfg = write_project(tmp_path, max_experiments=4)
    instance = dg.DagsterInstance.ephemeral()
    run_config = {"ops": {"proposals": {"config": {"campaign": "other"}}}}
    assert dg.materialize(
        [proposals], resources=resources(tmp_path, cfg), instance=instance, run_config=run_config
    ).success
    assert len(ProposalStore(tmp_path / "home").list("other")) == 4 and not ProposalStore(tmp_path / "home").list("c1")
    done = dg.materialize([proposals], resources=resources(tmp_path, cfg), instance=instance, run_config=run_config)
    meta = done.asset_materializations_for_node("proposals")[0].metadata
    assert meta["proposed"].value == 0 and "max_experiments reached" in meta["stopped"].value


def test_strict_campaign_fails_clearly_without_the_key(tmp_path):
    cfg = write_project(tmp_path, agents={"random": 1, "gemini": 1}, strict_agents=True)
    with pytest.raises(dg.Failure, match="GEMINI_API_KEY is not set.*strict_agents"):
        dg.materialize([proposals], resources=resources(tmp_path, cfg), instance=dg.DagsterInstance.ephemeral())
    assert ProposalStore(tmp_path / "home").list() == []


def test_keys_resource_reads_only_the_environment(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", "g-secret")
    res = llm_keys_from_env()
    assert "g-secret" not in repr(res), "the field is an EnvVar, resolved only when a run initialises it"
    assert res.process_config_and_initialize().env() == {"GEMINI_API_KEY": "g-secret"}
    assert LLMKeysResource().env() == {}


def test_definitions_wire_the_campaign():
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    assert dg.AssetKey("proposals") in graph.get(dg.AssetKey("experiments")).parent_keys
    assert graph.get(dg.AssetKey("proposals")).group_name == "agents"
    assert defs.resolve_job_def("proposals_job") is not None
    assert defs.resolve_sensor_def("agent_sensor").default_status == dg.DefaultSensorStatus.STOPPED


def test_cli_campaign_round_and_status(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARCHSEARCH_CONFIG", write_project(tmp_path))
    monkeypatch.setenv("ARCHSEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    (tmp_path / "dh").mkdir()
    assert cli.main(["campaign", "round"]) == 0
    out = capsys.readouterr().out
    assert "campaign c1 round 0 (architecture_first): 4 proposed" in out
    instance = dg.DagsterInstance.get()
    assert len(instance.get_dynamic_partitions(EXPERIMENTS.name)) == 4
    run = instance.get_runs(filters=dg.RunsFilter(job_name="proposals_job"))[0]
    assert run.tags["archsearch/campaign"] == "c1" and run.tags["archsearch/round"] == "0"
    assert cli.main(["campaign", "status"]) == 0
    out = capsys.readouterr().out
    assert "1 round(s), 4 proposed, 0 ok, 0 failed, 4 queued" in out and "8 experiment(s) left" in out
    assert cli.main(["campaign", "reset-breaker"]) == 0
    state = json.loads((tmp_path / "home/campaigns/c1/state.json").read_text())
    assert state["breaker_reset_at"]
