"""Extraction around the runtime: the store key records it, progress shows clips / frames/s / ETA, decode ahead."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from archsearch.config import ConfigError, parse_config
from archsearch.features import FeatureStore
from archsearch.features.extraction import (
    BackboneRecipe,
    compiled_cache_dir,
    decoded_clips,
    default_workers,
    extract_dataset,
    open_group,
)
from archsearch.features.progress import ExtractionProgress, format_eta
from models.backbones.engines import openvino_installed
from tests.conftest import toy_manifest

SYNTH = [{"name": "x", "kind": "synthetic"}]


def _manifest(tmp_path, n=4, n_frames=30) -> pl.DataFrame:
    return toy_manifest(tmp_path, n=n, n_frames=n_frames, frames_step=4, size=(64, 64))


def test_features_runtime_config_key():
    assert parse_config({"datasets": SYNTH}).features.runtime == "auto"
    assert parse_config({"datasets": SYNTH, "features": {"runtime": "torch"}}).features.runtime == "torch"
    with pytest.raises(
        ConfigError,
        match=r"^cfg.yaml: features.runtime: expected one of auto, torch, openvino, "
        r"openvino-bf16, got 'onnx'",
    ):
        parse_config({"datasets": SYNTH, "features": {"runtime": "onnx"}}, "cfg.yaml")


def test_progress_line_and_throttled_log():
    now = [0.0]
    lines: list[str] = []
    p = ExtractionProgress(4, "features bb/toy", lines.append, bar=False, every_s=10.0, clock=lambda: now[0])
    now[0] = 2.0
    p.step(50)  # 2 s in: too soon for a log line
    assert lines == [] and p.line() == "features bb/toy: 1/4 clips, 25.0 frames/s, ETA 6s"
    now[0] = 12.0
    p.step(50)
    assert lines == ["features bb/toy: 2/4 clips, 8.3 frames/s, ETA 12s"]
    now[0] = 13.0
    p.step(0)  # a failed clip counts as done, with no frames
    assert len(lines) == 1
    now[0] = 14.0
    p.step(50)  # the last clip always logs
    assert lines[-1] == "features bb/toy: 4/4 clips, 10.7 frames/s, ETA 0s"
    assert [format_eta(s) for s in (float("inf"), 59.4, 185, 3725)] == ["?", "59s", "3m05s", "1h02m"]


def test_extraction_logs_progress_and_reports_frames(tmp_path):
    manifest = _manifest(tmp_path)
    lines: list[str] = []
    report = extract_dataset(
        manifest, BackboneRecipe("pixels").build(), FeatureStore(tmp_path / "f"), progress=False, log=lines.append
    )
    assert lines[-1].startswith("features pixels/toy: 4/4 clips, ") and "frames/s, ETA 0s" in lines[-1]
    assert report.frames == 4 * 8 + (1 + 2 + 3) and report.as_dict()["frames_per_s"] > 0  # 5 fps of 1.5-2.1 s


def test_decode_ahead_keeps_job_order_and_reports_failures(tmp_path):
    manifest = _manifest(tmp_path, n=5)
    jobs = [(*row, "auto") for row in manifest.select("video_id", "video_digest", "path").iter_rows()]
    jobs[2] = (jobs[2][0], jobs[2][1], str(tmp_path / "missing.mp4"), "auto")
    spec = BackboneRecipe("pixels").build().spec
    out = list(decoded_clips(jobs, spec, workers=3, ahead=2))
    assert [o[0] for o in out] == [j[0] for j in jobs]
    assert out[2][2] is None and out[2][3]  # (id, digest, no clip, the error, seconds)
    assert all(o[3] is None and len(o[2].frames) for i, o in enumerate(out) if i != 2)


@pytest.mark.skipif(not openvino_installed(), reason="the fast CPU runtime is OpenVINO (a pyproject dependency)")
def test_a_change_of_runtime_gets_its_own_store_group(tmp_path):
    manifest = _manifest(tmp_path, n=3)
    store = FeatureStore(tmp_path / "features")
    eager = BackboneRecipe("vjepa2_tiny_random").build()
    recipe = BackboneRecipe("vjepa2_tiny_random", runtime="openvino", cache_dir=str(compiled_cache_dir(store)))
    fast = recipe.build()
    assert default_workers(fast) == 1  # one model process fed by a decode thread
    a = extract_dataset(manifest, eager, store, progress=False)
    b = extract_dataset(manifest, fast, store, recipe=recipe, progress=False)
    assert a.key != b.key and (b.hits, b.misses) == (0, 3)  # nothing mixed: computed again under its own key
    assert open_group(store, "toy", fast).attrs["sampling"]["runtime"] == {"runtime": "openvino", "precision": "fp32"}
    assert sorted(k for _, k in store.groups()) == sorted([a.key, b.key])  # the model cache is not a group
    assert any((store.root / ".compiled" / "openvino").glob("vjepa2_tiny_random-*/model.xml"))
    for vid in manifest["video_id"]:
        fa, fb = open_group(store, "toy", eager).read(vid)[0], open_group(store, "toy", fast).read(vid)[0]
        cos = (fa * fb).sum(1, dtype=np.float64) / (
            np.linalg.norm(fa.astype(np.float64), axis=1) * np.linalg.norm(fb.astype(np.float64), axis=1)
        )
        assert cos.min() >= 0.999
