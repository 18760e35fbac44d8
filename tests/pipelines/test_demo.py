"""The demo driver end to end on a tiny project: every stage runs, the campaign stops at its budget."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines import demo
from tests.projects import TINY_SPACE_YAML as SPACE
from tests.projects import nexar_project

pytestmark = pytest.mark.slow


def test_demo_runs_a_campaign_to_its_budget_and_reports(tmp_path, monkeypatch, capsys):
    cfg = nexar_project(tmp_path, n=12)
    (tmp_path / "space.yaml").write_text(SPACE)  # pixels only, 4 cells
    cfg.write_text(
        cfg.read_text().replace("backbones: [pixels, motion]", "backbones: [pixels]")
        + f"space: {tmp_path / 'space.yaml'}\n"
        "campaign: {agents: {random: 1, tpe: 1}, round_size: 2, max_experiments: 4, run_batch_size: 2}\n"
    )
    monkeypatch.setenv("ARCHSEARCH_CONFIG", str(cfg))
    monkeypatch.setenv("ARCHSEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    (tmp_path / "dh").mkdir()

    assert demo.main(["--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "demo finished: 4 ok and 0 failed" in out and "best config by validation" in out
    assert (tmp_path / "home" / "reports" / "latest" / "report.md").is_file()

    instance = dg.DagsterInstance.get()
    jobs = sorted({r.job_name for r in instance.get_runs()})
    assert jobs == ["experiments_job", "features_job", "proposals_job", "refresh_videos_job", "report_job"]
    experiment_runs = instance.get_runs(filters=dg.RunsFilter(job_name="experiments_job"))
    assert len(experiment_runs) == 2, "each round of 2 trains as one range run"
    assert len(instance.get_materialized_partitions(dg.AssetKey("experiments"))) == 4

    assert demo.main(["--no-progress"]) == 0  # a finished campaign is only reported again
    assert len(instance.get_runs(filters=dg.RunsFilter(job_name="experiments_job"))) == 2
