"""One experiment partition: proposed from the CLI, trained by the asset, recorded once."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from archsearch.campaign.proposals import ProposalStore
from archsearch.results import ResultsStore
from assets.experiments import EXPERIMENTS, experiments
from assets.resources import ArchsearchResource
from assets.videos import videos
from pipelines import cli
from tests.projects import TINY_SPACE_YAML, default_features, nexar_project

features, features_complete = default_features()


@pytest.fixture
def project(tmp_path, monkeypatch):
    cfg = nexar_project(tmp_path, n=12)
    (tmp_path / "space.yaml").write_text(TINY_SPACE_YAML)
    cfg.write_text(
        cfg.read_text().replace("backbones: [pixels, motion]", "backbones: [pixels]")
        + f"space: {tmp_path / 'space.yaml'}\n"
    )
    monkeypatch.setenv("ARCHSEARCH_CONFIG", str(cfg))
    monkeypatch.setenv("ARCHSEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    (tmp_path / "dh").mkdir()
    return tmp_path


def test_propose_then_materialize_one_partition(project, capsys):
    instance = dg.DagsterInstance.get()
    res = {"archsearch": ArchsearchResource()}
    assert dg.materialize([videos], resources=res, instance=instance).success
    assert dg.materialize(
        [videos.to_source_asset(), features], resources=res, instance=instance, partition_key="pixels"
    ).success

    config = {
        "backbone": "pixels",
        "encoder": "gru",
        "pooling": "mean",
        "loss": "bce",
        "lr": 3e-3,
        "weight_decay": 0.0,
        "window_length": 8,
        "epochs": 3,
    }
    assert cli.main(["propose", "--config", json.dumps(config), "--campaign", "t1"]) == 0
    key = capsys.readouterr().out.split()[0]
    assert key.startswith("t1:") and instance.get_dynamic_partitions(EXPERIMENTS.name) == [key]
    assert cli.main(["propose", "--config", json.dumps(config), "--campaign", "t1"]) == 0
    assert "already proposed" in capsys.readouterr().out

    run = dg.materialize([features.to_source_asset(), experiments], resources=res, instance=instance, partition_key=key)
    meta = run.asset_materializations_for_node("experiments")[0].metadata
    assert meta["status"].value == "ok" and 0.0 <= meta["val_map"].value <= 1.0
    assert "curves" in meta and not any(k.startswith("test") for k in meta)
    rows = ResultsStore(project / "home").read()
    assert rows.height == 1 and rows["status"][0] == "ok"
    first = rows["val_map"][0]

    again = dg.materialize(
        [features.to_source_asset(), experiments], resources=res, instance=instance, partition_key=key
    )
    assert again.success
    rows = ResultsStore(project / "home").read()
    assert rows.height == 1 and rows["val_map"][0] == first, "same config + seed + data => same metric, one row"


def test_bad_config_is_rejected_naming_the_key(project, capsys):
    bad = {
        "backbone": "pixels",
        "encoder": "lstm",
        "pooling": "mean",
        "loss": "bce",
        "lr": 3e-3,
        "weight_decay": 0.0,
        "window_length": 8,
        "epochs": 3,
    }
    assert cli.main(["propose", "--config", json.dumps(bad)]) == 2
    err = capsys.readouterr().err
    assert "encoder" in err and "lstm" in err
    assert ProposalStore(project / "home").list() == []


def test_missing_features_fail_with_the_command_to_fix_it(project, capsys):
    instance = dg.DagsterInstance.get()
    res = {"archsearch": ArchsearchResource()}
    assert dg.materialize([videos], resources=res, instance=instance).success
    assert cli.main(["propose", "--random", "1", "--campaign", "t2"]) == 0
    key = capsys.readouterr().out.split()[0]
    with pytest.raises(dg.Failure, match="--select features --partition pixels"):
        dg.materialize([features.to_source_asset(), experiments], resources=res, instance=instance, partition_key=key)


def test_cli_add_partition_then_materialize(project):
    """The documented path: `python -m pipelines.cli propose`, then `dagster asset materialize --partition`."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    instance = dg.DagsterInstance.get()
    res = {"archsearch": ArchsearchResource()}
    assert dg.materialize([videos], resources=res, instance=instance).success
    assert dg.materialize(
        [videos.to_source_asset(), features], resources=res, instance=instance, partition_key="pixels"
    ).success
    out = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "propose", "--random", "1", "--campaign", "cli"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert out.returncode == 0, out.stderr
    key = out.stdout.split()[0]
    dagster = str(Path(sys.executable).with_name("dagster"))
    run = subprocess.run(
        [dagster, "asset", "materialize", "-m", "pipelines.definitions", "--select", "experiments", "--partition", key],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert ResultsStore(project / "home").read()["config_id"].to_list() == [key.split(":")[1]]


def test_a_batch_of_partitions_runs_in_one_run_with_one_materialization_each(project, capsys):
    """A backfill range is one run (one pool of workers) yet every config keeps its own partition."""
    from archsearch.campaign.proposals import ProposalStore
    from pipelines.jobs import experiments_job

    instance = dg.DagsterInstance.get()
    res = {"archsearch": ArchsearchResource()}
    assert dg.materialize([videos], resources=res, instance=instance).success
    assert dg.materialize(
        [videos.to_source_asset(), features], resources=res, instance=instance, partition_key="pixels"
    ).success
    assert cli.main(["propose", "--random", "3", "--campaign", "batch"]) == 0
    keys = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.startswith("batch:")]
    assert instance.get_dynamic_partitions(EXPERIMENTS.name) == keys

    defs = dg.Definitions(
        assets=[features, experiments],
        jobs=[experiments_job],
        resources={"archsearch": ArchsearchResource(experiment_workers=2)},
    )
    result = defs.resolve_job_def("experiments_job").execute_in_process(
        instance=instance,
        tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
    )
    assert result.success
    mats = result.asset_materializations_for_node("experiments")
    assert sorted(m.partition for m in mats) == sorted(keys)
    assert instance.get_materialized_partitions(dg.AssetKey("experiments")) == set(keys)
    batch = ResultsStore(project / "home").read().sort("config_id")
    assert batch.height == 3 and (batch["status"] == "ok").all()

    # The same configs one at a time, in this process: identical metrics (workers do not change results).
    single = dg.Definitions(
        assets=[features, experiments],
        jobs=[experiments_job],
        resources={"archsearch": ArchsearchResource(experiment_workers=1)},
    )
    job = single.resolve_job_def("experiments_job")
    for key in keys:
        assert job.execute_in_process(instance=instance, partition_key=key).success
    again = ResultsStore(project / "home").read().sort("config_id")
    assert again["val_map"].to_list() == batch["val_map"].to_list()
    assert again["test_map"].to_list() == batch["test_map"].to_list()
    assert len(ProposalStore(project / "home").list("batch")) == 3
