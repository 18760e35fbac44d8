"""Registry, errors, the 5 Hz causal grid, and the extract() contract on the cheap offline backbones."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from models.backbones import (
    OFFLINE_DEFAULT,
    PAPER_SET,
    InputSpec,
    MissingWeightsError,
    UnknownBackboneError,
    available_backbones,
    get_backbone,
)
from models.backbones.base import TIME_EPS, clip_frame_indices, feature_grid

CHEAP = ["pixels", "motion", "vjepa2_tiny_random"]


@pytest.fixture(scope="module")
def cheap():
    return {name: get_backbone(name, device="cpu") for name in CHEAP}


def video(spec: InputSpec, seconds: float, seed: int = 0, fps: float | None = None):
    """Random frames at spec size (fps defaults to the spec's decode rate) with exact k/fps times."""
    fps = fps or spec.decode_fps
    n = int(round(seconds * fps)) + 1
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *spec.resolution, 3), dtype=np.uint8), np.arange(n) / fps


def test_registry_lists_offline_and_paper_sets():
    names = available_backbones()
    assert set(OFFLINE_DEFAULT) | set(PAPER_SET) | {"videomae_base"} == set(names)
    assert all(isinstance(d, str) and d and "\n" not in d for d in names.values())


def test_unknown_name_lists_available():
    with pytest.raises(UnknownBackboneError) as e:
        get_backbone("resnet9000")
    msg = str(e.value)
    assert "resnet9000" in msg and "efficientnet_lite0" in msg and "vjepa2_vitl" in msg
    assert isinstance(e.value, ValueError)


def test_missing_hf_weights_lists_searched_places(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHSEARCH_WEIGHTS_DIR", str(tmp_path / "root"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingWeightsError) as e:
        get_backbone("dinov2_vitb")
    msg = str(e.value)
    assert "facebook/dinov2-base" in msg and str(tmp_path / "root" / "dinov2_vitb") in msg
    assert "HF cache" in msg and "weights_dir" in msg and "hf download" in msg
    with pytest.raises(MissingWeightsError, match="holds no config.json"):
        get_backbone("vjepa2_vitl", weights_dir=tmp_path / "empty")


def test_listing_does_not_import_torch():
    code = "import sys, models.backbones as b; b.available_backbones(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_feature_grid_and_clip_indices():
    ts = np.arange(31) / 10.0  # 3 s at 10 fps
    grid = feature_grid(ts, 5.0)
    assert np.allclose(grid, np.arange(16) / 5.0)
    spec = InputSpec(10.0, 3, 2, (8, 8), (0, 0, 0), (1, 1, 1))
    idx = clip_frame_indices(ts, grid, spec)
    assert idx.shape == (16, 3)
    assert idx[0].tolist() == [0, 0, 0]  # early clip pads with the first frame
    assert idx[1].tolist() == [0, 1, 2] and idx[5].tolist() == [8, 9, 10]
    assert np.all(ts[idx] <= grid[:, None] + TIME_EPS)  # causal
    # 29.97 fps pts (frame 6 at 0.2002 s) still anchor t = 0.2 on frame 6, not frame 5.
    ntsc = np.arange(60) / 29.97
    g = feature_grid(ntsc, 5.0)
    one = InputSpec(5.0, 1, 1, (8, 8), (0, 0, 0), (1, 1, 1))
    assert clip_frame_indices(ntsc, g, one)[1, 0] == 6
    # A clip starting mid-video keeps the k/5 grid.
    assert np.allclose(feature_grid(np.arange(3.05, 4.0, 0.1), 5.0), [3.2, 3.4, 3.6, 3.8])


@pytest.mark.parametrize("name", CHEAP)
def test_extract_shapes_grid_and_determinism(cheap, name):
    bb = cheap[name]
    assert bb.spec.feature_rate == 5.0
    frames, ts = video(bb.spec, 3.0)
    f1, t1 = bb.extract(frames, ts)
    assert f1.shape == (16, bb.dim) and f1.dtype == np.float32 and np.isfinite(f1).all()
    assert np.allclose(t1, np.arange(16) / 5.0)
    f2, t2 = get_backbone(name, device="cpu").extract(frames, ts)  # fresh instance, same result
    assert np.array_equal(f1, f2) and np.array_equal(t1, t2)
    empty, te = bb.extract(frames[:0], ts[:0])
    assert empty.shape == (0, bb.dim) and te.shape == (0,)


@pytest.mark.parametrize("name", CHEAP)
def test_causality(cheap, name):
    """Features at t <= 1.4 s must not change when every frame after 1.4 s is replaced."""
    bb = cheap[name]
    frames, ts = video(bb.spec, 3.0)
    f1, t = bb.extract(frames, ts)
    altered = frames.copy()
    altered[ts > 1.4 + 1e-9] = 255 - altered[ts > 1.4 + 1e-9]
    f2, _ = bb.extract(altered, ts)
    past = t <= 1.4 + 1e-9
    assert np.array_equal(f1[past], f2[past])
    assert not np.allclose(f1[~past], f2[~past])  # and the future does change


@pytest.mark.parametrize("name", CHEAP)
def test_batch_size_and_input_size_invariance(cheap, name):
    bb = cheap[name]
    frames, ts = video(bb.spec, 2.0, seed=3)
    ref, _ = bb.extract(frames, ts)
    small, _ = get_backbone(name, device="cpu", batch_size=3).extract(frames, ts)
    assert np.allclose(ref, small, atol=1e-4)
    _h, _w = bb.spec.resolution
    big = np.repeat(np.repeat(frames, 2, axis=1), 2, axis=2)  # (T, 2H, 2W, 3): extract resizes itself
    resized, _ = bb.extract(big, ts)
    assert resized.shape == ref.shape and np.isfinite(resized).all()


def test_higher_input_fps_matches_decoding_at_spec_fps(cheap):
    """Frames at 30 fps give the same features as the 10 fps subset the decoder would return."""
    bb = cheap["motion"]
    frames, ts = video(bb.spec, 2.0, fps=30.0)
    f30, t30 = bb.extract(frames, ts)
    f10, t10 = bb.extract(frames[::3], ts[::3])
    assert np.array_equal(t30, t10) and np.allclose(f30, f10)


def test_bad_inputs_name_the_problem(cheap):
    bb = cheap["pixels"]
    frames, ts = video(bb.spec, 1.0)
    with pytest.raises(ValueError, match="uint8"):
        bb.extract(frames.astype(np.float32), ts)
    with pytest.raises(ValueError, match="one entry per frame"):
        bb.extract(frames, ts[:-1])
    with pytest.raises(ValueError, match="non-decreasing"):
        bb.extract(frames, ts[::-1].copy())
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        bb.extract(frames[..., 0], ts)


def test_sampling_params_and_digests(cheap):
    for name, bb in cheap.items():
        params = bb.sampling_params()
        json.dumps(params)  # must be JSON-serialisable for the cache key
        assert params["spec"]["feature_rate"] == 5.0 and params["backbone"] == name
    assert cheap["motion"].weights_digest() == "none" == cheap["pixels"].weights_digest()
    d = cheap["vjepa2_tiny_random"].weights_digest()
    assert len(d) == 64 and d == get_backbone("vjepa2_tiny_random").weights_digest()
    assert cheap["motion"].sampling_params() != cheap["pixels"].sampling_params()


def test_real_decoded_video_timestamps(video_factory, cheap):
    """Frames and pts from an actual H.264 file (20 fps) land on the 5 Hz grid, one frame in four."""
    import av

    path = video_factory("bb.mp4", n_frames=40, fps=20, size=(48, 64))
    with av.open(str(path)) as c:
        decoded = [(f.to_ndarray(format="rgb24"), float(f.time)) for f in c.decode(video=0)]
    frames = np.stack([f for f, _ in decoded])
    ts = np.array([t for _, t in decoded]) - decoded[0][1]
    bb = cheap["pixels"]
    feats, times = bb.extract(frames, ts)
    assert np.allclose(times, np.arange(10) / 5.0)
    sub, _ = bb.extract(frames[::4], ts[::4])
    assert np.array_equal(feats, sub)
