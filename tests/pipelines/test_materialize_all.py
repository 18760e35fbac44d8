"""`dagster asset materialize` over every unpartitioned asset, from a real CLI process.

Dagster's CLI refuses ``--select '*'`` whenever the graph holds partitioned assets (it asks for
``--partition``), and `features` (by backbone) and `experiments` (by proposal) are partitioned by
design; the README gives the selection that means "every unpartitioned asset", and this runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from tests.projects import TINY_SPACE_YAML as SPACE
from tests.projects import nexar_project

pytestmark = pytest.mark.slow

UNPARTITIONED = "not key:features and not key:experiments"


def test_every_unpartitioned_asset_materializes_from_the_cli(tmp_path):
    cfg = nexar_project(tmp_path, n=8)
    (tmp_path / "space.yaml").write_text(SPACE)  # pixels only, 4 cells
    cfg.write_text(
        cfg.read_text() + f"space: {tmp_path / 'space.yaml'}\n"
        "campaign: {agents: {random: 1}, round_size: 3, max_experiments: 6}\n"
    )
    (tmp_path / "dh").mkdir()
    env = {
        **os.environ,
        "ARCHSEARCH_CONFIG": str(cfg),
        "ARCHSEARCH_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dh"),
    }
    dagster = str(Path(sys.executable).with_name("dagster"))
    run = subprocess.run(
        [dagster, "asset", "materialize", "-m", "pipelines.definitions", "--select", UNPARTITIONED],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # From the instance, not the console: Dagster's log capture can drop a step process's last lines.
    with dg.DagsterInstance.from_config(str(tmp_path / "dh")) as instance:
        for asset in ("videos", "proposals", "leaderboard", "analysis_report", "study_report"):
            assert instance.get_latest_materialization_event(dg.AssetKey(asset)) is not None, asset
        for key in ("features", "experiments"):
            assert instance.get_latest_materialization_event(dg.AssetKey(key)) is None, f"{key} is partitioned"
    assert (tmp_path / "home" / "reports" / "latest" / "report.md").is_file()
    assert len(list((tmp_path / "home" / "proposals").glob("*/*.json"))) == 3  # one round of the campaign
