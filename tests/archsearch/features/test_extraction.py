"""Feature extraction into the store: cached, resumable after kill -9, invalidated by content."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from archsearch.data.manifest import file_digest
from archsearch.features import FeatureStore
from archsearch.features.extraction import (
    BackboneRecipe,
    ExtractionError,
    extract_dataset,
    load_split_features,
    open_group,
)
from tests.conftest import toy_manifest, write_test_video


def _manifest(tmp_path, n=6, n_frames=40):
    return toy_manifest(tmp_path, n=n, n_frames=n_frames)


@pytest.fixture(scope="module")
def pixels():
    return BackboneRecipe("pixels").build()


def test_extract_then_cache_hit(tmp_path, pixels):
    manifest = _manifest(tmp_path)
    store = FeatureStore(tmp_path / "features")
    first = extract_dataset(manifest, pixels, store, progress=False)
    assert (first.hits, first.misses) == (0, 6) and first.packed
    group = open_group(store, "toy", pixels)
    feats, times = group.read("00000")
    assert feats.shape == (11, 256) and feats.dtype == np.float16  # 40 frames at 20 fps -> t = 0..2.0 at 5 Hz
    np.testing.assert_allclose(times, np.arange(11) / 5.0)
    again = extract_dataset(manifest, pixels, store, progress=False)
    assert (again.hits, again.misses, again.packed) == (6, 0, False)
    split = load_split_features(group, manifest, "val")
    assert sorted(split) == ["00001", "00004"]
    np.testing.assert_array_equal(split["00001"][0], group.read("00001")[0])


def test_a_file_listed_in_two_datasets_is_decoded_once(tmp_path, pixels, monkeypatch):
    """Features are keyed by the file's content: a clip of dataset `toy` listed again in `other` is copied, not run."""
    import archsearch.features.extraction as extraction

    manifest = _manifest(tmp_path, n=4)
    store = FeatureStore(tmp_path / "features")
    extract_dataset(manifest, pixels, store, progress=False)
    extra = write_test_video(tmp_path / "vids" / "new.mp4", n_frames=33, fps=20)
    other = pl.concat(
        [
            manifest.head(3).with_columns(
                pl.lit("other").alias("dataset"), (pl.lit("o") + pl.col("video_id")).alias("video_id")
            ),
            pl.DataFrame(
                [
                    {
                        "dataset": "other",
                        "video_id": "onew",
                        "path": str(extra),
                        "video_digest": file_digest(extra),
                        "split": "test",
                        "label": 1,
                    }
                ]
            ),
        ]
    )
    decoded = []
    real = extraction.decode_job
    monkeypatch.setattr(extraction, "decode_job", lambda job, *a, **k: decoded.append(job[0]) or real(job, *a, **k))
    report = extract_dataset(other, pixels, store, progress=False)
    assert (report.misses, report.copied, decoded) == (4, 3, ["onew"])
    group, source = open_group(store, "other", pixels), open_group(store, "toy", pixels)
    for i in range(3):
        np.testing.assert_array_equal(group.read(f"o{i:05d}")[0], source.read(f"{i:05d}")[0])
    assert report.as_dict()["copied_from_other_datasets"] == 3


def test_changed_video_is_recomputed_alone(tmp_path, pixels):
    manifest = _manifest(tmp_path)
    store = FeatureStore(tmp_path / "features")
    extract_dataset(manifest, pixels, store, progress=False)
    victim = manifest.row(2, named=True)
    write_test_video(Path(victim["path"]), n_frames=60, fps=20)  # new content, same id
    manifest = manifest.with_columns(
        pl.when(pl.col("video_id") == victim["video_id"])
        .then(pl.lit(file_digest(victim["path"])))
        .otherwise(pl.col("video_digest"))
        .alias("video_digest")
    )
    report = extract_dataset(manifest, pixels, store, progress=False)
    assert (report.hits, report.misses) == (5, 1)
    assert open_group(store, "toy", pixels).read(victim["video_id"])[0].shape[0] == 16


def test_a_bad_video_is_named_and_the_rest_is_kept(tmp_path, pixels):
    manifest = _manifest(tmp_path, n=4)
    bad = manifest.row(1, named=True)["path"]
    with open(bad, "r+b") as f:
        f.truncate(os.path.getsize(bad) // 2)
    store = FeatureStore(tmp_path / "features")
    with pytest.raises(ExtractionError, match=r"(?s)1 of 4 videos failed .*toy/00001: VideoDecodeError"):
        extract_dataset(manifest, pixels, store, progress=False)
    done, missing = open_group(store, "toy", pixels).status(
        dict(manifest.select("video_id", "video_digest").iter_rows())
    )
    assert missing == ["00001"] and len(done) == 3


def test_worker_processes_give_identical_features(tmp_path, pixels):
    manifest = _manifest(tmp_path, n=4)
    a = FeatureStore(tmp_path / "a")
    b = FeatureStore(tmp_path / "b")
    extract_dataset(manifest, pixels, a, progress=False)
    extract_dataset(manifest, pixels, b, recipe=BackboneRecipe("pixels"), workers=2, progress=False)
    ga, gb = open_group(a, "toy", pixels), open_group(b, "toy", pixels)
    for vid in manifest["video_id"]:
        np.testing.assert_array_equal(ga.read(vid)[0], gb.read(vid)[0])


@pytest.mark.slow
def test_kill_9_mid_extraction_then_rerun_matches_uninterrupted(tmp_path, pixels):
    manifest = _manifest(tmp_path, n=24, n_frames=60)
    manifest.write_parquet(tmp_path / "m.parquet")
    script = textwrap.dedent(
        f"""
        import time, polars as pl
        from archsearch.features.extraction import BackboneRecipe, extract_dataset
        from archsearch.features import FeatureStore
        import archsearch.features.extraction as ex
        slow = ex.decode_video
        def decode(*a, **k):
            time.sleep(0.15)  # slow enough that the kill lands mid-run
            return slow(*a, **k)
        ex.decode_video = decode
        m = pl.read_parquet({str(tmp_path / "m.parquet")!r})
        extract_dataset(m, BackboneRecipe("pixels").build(), FeatureStore({str(tmp_path / "killed")!r}), progress=False)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=os.getcwd())
    store = FeatureStore(tmp_path / "killed")
    expected = dict(manifest.select("video_id", "video_digest").iter_rows())
    deadline = time.time() + 60
    while time.time() < deadline:
        if store.groups() and len(open_group(store, "toy", pixels).status(expected)[0]) >= 3:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = open_group(FeatureStore(tmp_path / "killed"), "toy", pixels)
    done, missing = partial.status(expected)
    assert 3 <= len(done) < 24 and missing, "the kill should land mid-extraction"
    resumed = extract_dataset(manifest, pixels, FeatureStore(tmp_path / "killed"), progress=False)
    assert resumed.hits == len(done) and resumed.misses == len(missing)
    clean = FeatureStore(tmp_path / "clean")
    extract_dataset(manifest, pixels, clean, progress=False)
    a, b = open_group(FeatureStore(tmp_path / "killed"), "toy", pixels), open_group(clean, "toy", pixels)
    for vid in expected:
        fa, ta = a.read(vid)
        fb, tb = b.read(vid)
        np.testing.assert_array_equal(fa, fb)
        np.testing.assert_array_equal(ta, tb)
    assert a.verify(expected).ok
