"""The `videos` and `features` assets on a tiny Nexar-format folder, in process and from the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets.resources import ArchsearchResource
from assets.videos import videos, videos_decode_and_disjoint
from tests.projects import default_features, nexar_project

features, features_complete = default_features()


def test_videos_and_features_materialize(tmp_path):
    cfg = nexar_project(tmp_path)
    res = {"archsearch": ArchsearchResource(config_path=str(cfg), data_root=str(tmp_path / "home"))}
    result = dg.materialize([videos], resources=res, selection=None)
    assert result.success
    meta = result.asset_materializations_for_node("videos")[0].metadata
    assert meta["num_videos"].value == 8 and len(meta["split_hash"].value) == 16
    assert "collision_preview" in meta
    # 8 clips: val and test hold a few positives at most, and the metadata says rankings there are noise
    assert "(fewer than 30)" in meta["split_warnings"].value and "mostly noise" in meta["split_warnings"].value
    manifest = pl.read_parquet(tmp_path / "home" / "manifests" / "manifest.parquet")
    assert manifest.height == 8 and set(manifest["split"]) == {"train", "val", "test"}

    first = dg.materialize([videos.to_source_asset(), features], resources=res, partition_key="pixels")
    m1 = first.asset_materializations_for_node("features")[0].metadata
    assert m1["cache_misses"].value == 8 and m1["feature_dim"].value == 256
    second = dg.materialize([videos.to_source_asset(), features], resources=res, partition_key="pixels")
    m2 = second.asset_materializations_for_node("features")[0].metadata
    assert (m2["cache_hits"].value, m2["cache_misses"].value) == (8, 0)

    # The features check re-runs with its asset (a cache hit): Dagster resolves a run's
    # partition from the selected assets, so a check alone cannot carry the partition key.
    for assets, check, partition in (
        ([videos], videos_decode_and_disjoint, None),
        ([features], features_complete, "pixels"),
    ):
        run = dg.materialize([*assets, check], resources=res, partition_key=partition)
        evaluations = run.get_asset_check_evaluations()
        assert len(evaluations) == 1 and evaluations[0].passed, evaluations[0].metadata
        if check is videos_decode_and_disjoint:
            assert "(fewer than 30)" in evaluations[0].metadata["split_warnings"].value


def test_cli_materializes_videos(tmp_path):
    cfg = nexar_project(tmp_path, n=8)
    env = {
        **os.environ,
        "ARCHSEARCH_CONFIG": str(cfg),
        "ARCHSEARCH_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dh"),
    }
    (tmp_path / "dh").mkdir()
    dagster = Path(sys.executable).with_name("dagster")
    out = subprocess.run(
        [str(dagster), "asset", "materialize", "-m", "pipelines.definitions", "--select", "videos"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "home" / "manifests" / "manifest.parquet").is_file()


def test_bad_row_fails_the_asset_with_the_row_named(tmp_path):
    cfg = nexar_project(tmp_path, n=8)
    csv = tmp_path / "nexar" / "train.csv"
    csv.write_text(csv.read_text().replace("00001,1,2.5,2.0", "00001,1,99,2.0"))
    res = {"archsearch": ArchsearchResource(config_path=str(cfg), data_root=str(tmp_path / "home"))}
    with pytest.raises(Exception, match=r"train.csv: row 2 \(id='00001'\), field 'event_time'"):
        dg.materialize([videos], resources=res)


@pytest.mark.slow
def test_precomputed_h5_partition_from_the_cli(tmp_path):
    """External features in HDF5 become backbone `precomputed:<name>`, validated against the manifest."""
    import h5py
    import numpy as np

    cfg = nexar_project(tmp_path, n=8)
    home = tmp_path / "home"
    env = {
        **os.environ,
        "ARCHSEARCH_CONFIG": str(cfg),
        "ARCHSEARCH_HOME": str(home),
        "DAGSTER_HOME": str(tmp_path / "dh"),
    }
    (tmp_path / "dh").mkdir()
    dagster = str(Path(sys.executable).with_name("dagster"))
    run = lambda *sel: subprocess.run(
        [dagster, "asset", "materialize", "-m", "pipelines.definitions", *sel],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run("--select", "videos").returncode == 0
    manifest = pl.read_parquet(home / "manifests" / "manifest.parquet")
    h5 = tmp_path / "ext.h5"
    rng = np.random.default_rng(0)
    with h5py.File(h5, "w") as f:
        f.attrs["feature_rate"] = 5.0
        f.attrs["dim"] = 8
        for vid in manifest["video_id"]:
            f.create_dataset(vid, data=rng.standard_normal((15, 8)).astype(np.float16))
    cfg.write_text(
        cfg.read_text().replace("backbones: [pixels, motion]", "backbones: [pixels, 'precomputed:ext']")
        + f"precomputed:\n  ext: {{path: {h5}, dataset: nx}}\n"
    )
    out = run("--select", "features", "--partition", "precomputed:ext")
    assert out.returncode == 0, out.stderr[-3000:]

    from archsearch.features import FeatureStore

    store = FeatureStore(home / "features")
    (group,) = [store.group(d, k) for d, k in store.groups()]
    assert group.attrs["backbone"] == "precomputed:ext"
    with h5py.File(h5) as f:
        for vid in manifest["video_id"]:
            np.testing.assert_array_equal(group.read(vid)[0], f[vid][()])

    with h5py.File(h5, "a") as f:  # a NaN in one video: the import is refused, naming it
        data = f["00002"][()]
        data[3, 1] = np.nan
        del f["00002"]
        f.create_dataset("00002", data=data)
    store_dir = home / "features"
    import shutil

    shutil.rmtree(store_dir)
    out = run("--select", "features", "--partition", "precomputed:ext")
    assert out.returncode != 0 and "00002" in out.stderr + out.stdout
