"""`leaderboard` and `analysis_report` materialize over a filled results store and write what they promise."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from assets.analysis_report import analysis_report
from assets.leaderboard import leaderboard
from assets.resources import ArchsearchResource
from tests.archsearch.analysis.synth import fill

FAST = {"ops": {"analysis_report": {"config": {"boot": 100, "draws": 20, "shuffles": 2}}}}


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    home = tmp_path / "home"
    fill(home, agents=("random", "tpe"), n=15, datasets=("synth_front", "synth_side"), failed_every=5)
    return home


def _materialize(root, run_config=None):
    return dg.materialize(
        [leaderboard, analysis_report],
        resources={"archsearch": ArchsearchResource(data_root=str(root))},
        instance=dg.DagsterInstance.ephemeral(),
        run_config=run_config or FAST,
    )


def _metadata(result, key):
    (mat,) = result.asset_materializations_for_node(key)
    return mat.metadata


def test_both_assets_materialize_and_write_files(root):
    result = _materialize(root)
    assert result.success
    lb = _metadata(result, "leaderboard")
    assert lb["dagster/row_count"].value == 60 and lb["ok"].value == 48 and lb["failed"].value == 12
    assert "| 1 |" in lb["top_10"].value and "test" not in lb["top_10"].value.lower()
    assert "| random | 24 | 6 | 30 |" in lb["by_agent"].value
    table = pl.read_parquet(root / "leaderboard" / "leaderboard.parquet")
    assert table.height == 60 and {"order", "agent_order", "val_map", "backbone"} <= set(table.columns)

    rep = _metadata(result, "analysis_report")
    assert rep["results"].value == 60 and rep["ok"].value == 48
    per_task = {"results": 30, "ok": 24}
    assert rep["sample_sizes"].value == {"synth_front": per_task, "synth_side": per_task}
    assert "data:image/png;base64," in rep["report"].value and "## Cross-task" in rep["report"].value
    latest = root / "reports" / "latest"
    assert rep["path"].value == str(latest / "report.md")
    assert sorted(p.name for p in latest.glob("*.png")) == sorted(rep["figures"].value)
    assert len(rep["figures"].value) == 12
    stamped = [p for p in (root / "reports").iterdir() if p.name != "latest"]
    assert len(stamped) == 1 and (stamped[0] / "report.md").read_text() == (latest / "report.md").read_text()


def test_empty_store_still_materializes(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    result = _materialize(tmp_path / "empty")
    assert result.success
    assert _metadata(result, "leaderboard")["top_10"].value == "_no finished experiments yet_"
    assert _metadata(result, "analysis_report")["results"].value == 0


def test_assets_are_in_the_analysis_group_downstream_of_experiments():
    assert leaderboard.group_names_by_key[leaderboard.key] == "analysis"
    assert analysis_report.group_names_by_key[analysis_report.key] == "analysis"
    assert dg.AssetKey("experiments") in leaderboard.asset_deps[leaderboard.key]
    assert {dg.AssetKey("experiments"), dg.AssetKey("leaderboard")} <= analysis_report.asset_deps[analysis_report.key]


def test_the_report_warns_when_results_were_scored_on_a_split_with_few_positives(root):
    """README, "Splits that never move": the warning is in the report, not only in `videos`' metadata."""
    from archsearch.common import DataLayout
    from archsearch.data.manifest import MANIFEST_SCHEMA

    rows = [
        {"dataset": d, "video_id": f"{d}-{i}", "label": int(i % 3 == 0), "split": s}
        for d, n in (("synth_front", 300), ("synth_side", 60))
        for i in range(n)
        for s in [("train", "val", "test")[i % 3 if d == "synth_side" else (0 if i < 120 else 1 + i % 2)]]
    ]
    manifest = pl.DataFrame(rows).with_columns(
        *[pl.lit(None).cast(t).alias(c) for c, t in MANIFEST_SCHEMA.items() if c not in rows[0]]
    )
    path = DataLayout(root).manifest
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest.select(list(MANIFEST_SCHEMA)).cast(MANIFEST_SCHEMA).write_parquet(path)

    flags = _metadata(_materialize(root), "analysis_report")["flags"].value
    assert "dataset 'synth_side': val has" in flags and "dataset 'synth_side': test has" in flags
    assert "rankings on this split are mostly noise" in flags
    assert "synth_front" not in flags, "30 or more positives in each of its val and test splits"
