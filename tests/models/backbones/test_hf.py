"""Paper-set loading path, exercised with tiny random-init transformers models saved to disk.

The tiny checkpoints go through exactly the code real weights use (weights_dir, env root, HF cache),
so these tests catch wrong model classes, wrong key prefixes and hard-coded ViT sizes.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from models.backbones import MissingWeightsError, get_backbone

tr = pytest.importorskip("transformers")
SMALL = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)


def _tiny_models() -> dict:
    """name -> (backbone name, model); seeded so every run saves the same weights."""
    torch.manual_seed(0)
    text = dict(vocab_size=99, max_position_embeddings=16, **SMALL)
    ivl_text = dict(
        model_type="qwen2",
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=64,
    )
    return {
        "dinov2": (
            "dinov2_vitb",
            tr.Dinov2Model(
                tr.Dinov2Config(
                    hidden_size=32,
                    num_hidden_layers=1,
                    num_attention_heads=2,
                    mlp_ratio=2,
                    image_size=28,
                    patch_size=14,
                )
            ),
        ),
        "dinov3": (
            "dinov3_vitb",
            tr.DINOv3ViTModel(tr.DINOv3ViTConfig(image_size=32, patch_size=16, num_register_tokens=2, **SMALL)),
        ),
        "siglip": (
            "siglip2_base",
            tr.SiglipModel(
                tr.SiglipConfig(vision_config=dict(image_size=48, patch_size=16, **SMALL), text_config=text)
            ),
        ),
        "siglip2": (
            "siglip2_base",
            tr.Siglip2VisionModel(tr.Siglip2VisionConfig(num_patches=4, patch_size=16, **SMALL)),
        ),
        "internvl_tower": (
            "internvit_300m",
            tr.InternVLVisionModel(tr.InternVLVisionConfig(image_size=28, patch_size=14, **SMALL)),
        ),
        "internvl_full": (
            "internvit_300m",
            tr.InternVLForConditionalGeneration(
                tr.InternVLConfig(
                    vision_config=dict(image_size=28, patch_size=14, **SMALL), text_config=ivl_text, image_seq_length=1
                )
            ),
        ),
        "videomae": (
            "videomae_base",
            tr.VideoMAEModel(tr.VideoMAEConfig(image_size=32, patch_size=16, num_frames=4, tubelet_size=2, **SMALL)),
        ),
        "vjepa2": (
            "vjepa2_vitl",
            tr.VJEPA2Model(
                tr.VJEPA2Config(
                    crop_size=32,
                    patch_size=16,
                    tubelet_size=2,
                    hidden_size=48,
                    num_attention_heads=1,
                    num_hidden_layers=1,
                    pred_hidden_size=48,
                    pred_num_attention_heads=1,
                    pred_num_hidden_layers=1,
                    num_pooler_layers=1,
                )
            ),
        ),
    }


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_hf")
    out = {}
    for key, (name, model) in _tiny_models().items():
        model.save_pretrained(root / key)
        out[key] = (name, model.eval(), root / key)
    return out


def _frames(n: int, seed: int = 0, size=(40, 60)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *size, 3), dtype=np.uint8)


EXPECTED = {  # key -> (dim, resolution, frames_per_clip, decode_fps, pooling)
    "dinov2": (32, (28, 28), 1, 5.0, "cls"),
    "dinov3": (32, (32, 32), 1, 5.0, "cls"),
    "siglip": (32, (48, 48), 1, 5.0, "map_head"),
    "siglip2": (32, (32, 32), 1, 5.0, "map_head"),
    "internvl_tower": (32, (28, 28), 1, 5.0, "mean_patch_tokens"),
    "internvl_full": (32, (28, 28), 1, 5.0, "mean_patch_tokens"),
    "videomae": (32, (32, 32), 4, 10.0, "mean_tokens"),
    "vjepa2": (48, (32, 32), 16, 10.0, "mean_tokens"),
}


@pytest.mark.parametrize("key", list(EXPECTED))
def test_tiny_checkpoint_loads_through_real_path(saved, key):
    name, _, folder = saved[key]
    bb = get_backbone(name, weights_dir=folder, device="cpu", batch_size=4)
    dim, res, fpc, fps, pooling = EXPECTED[key]
    assert (bb.dim, bb.spec.resolution, bb.spec.frames_per_clip, bb.spec.decode_fps, bb.pooling) == (
        dim,
        res,
        fpc,
        fps,
        pooling,
    )
    assert bb.spec.feature_rate == 5.0
    n = int(2.0 * fps) + 1
    frames = _frames(n)
    feats, times = bb.extract(frames, np.arange(n) / fps)
    assert feats.shape == (11, dim) and feats.dtype == np.float32 and np.isfinite(feats).all()
    assert np.allclose(times, np.arange(11) / 5.0)
    assert feats.std(0).mean() > 0  # different frames give different features
    json.dumps(bb.sampling_params())


def test_image_features_match_direct_model_call(saved):
    """The backbone's DINOv2 feature equals the model's CLS output on the same normalised pixels."""
    name, model, folder = saved["dinov2"]
    bb = get_backbone(name, weights_dir=folder, device="cpu")
    frame = _frames(1, seed=5, size=(28, 28))
    feats, _ = bb.extract(frame, np.zeros(1))
    x = torch.from_numpy(frame).permute(0, 3, 1, 2).float() / 255
    x = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(
        1, 3, 1, 1
    )
    with torch.no_grad():
        ref = model(pixel_values=x).last_hidden_state[:, 0]
    assert np.allclose(feats, ref.numpy(), atol=1e-5)


def test_siglip2_patch_order_matches_image_processor(saved):
    """Patch n = (row, col) in raster order, flattened as (dy, dx, channel) like Siglip2's convert_image_to_patches."""
    bb = get_backbone("siglip2_base", weights_dir=saved["siglip2"][2], device="cpu")
    img = torch.randn(1, 3, 32, 32)
    ref = torch.stack(
        [
            img[0, :, r * 16 : (r + 1) * 16, c * 16 : (c + 1) * 16].permute(1, 2, 0).reshape(-1)
            for r in range(2)
            for c in range(2)
        ]
    )  # (4, 768)
    captured = {}
    real = bb.module.forward

    def spy(pixel_values, **kw):
        captured["x"], captured["shapes"] = pixel_values, kw["spatial_shapes"]
        return real(pixel_values, **kw)

    bb.module.forward = spy
    bb._siglip2(img)
    assert torch.equal(captured["x"][0], ref) and captured["shapes"].tolist() == [[2, 2]]


def test_internvl_full_checkpoint_yields_the_vision_tower(saved):
    _, model, folder = saved["internvl_full"]
    bb = get_backbone("internvit_300m", weights_dir=folder, device="cpu")
    ref = model.model.vision_tower.state_dict()
    got = bb.module.state_dict()
    assert ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)


def test_weights_from_env_root_and_hf_cache(saved, tmp_path, monkeypatch):
    folder = saved["dinov3"][2]
    direct = get_backbone("dinov3_vitb", weights_dir=folder).weights_digest()
    # $ARCHSEARCH_WEIGHTS_DIR/<name>
    shutil.copytree(folder, tmp_path / "root" / "dinov3_vitb")
    monkeypatch.setenv("ARCHSEARCH_WEIGHTS_DIR", str(tmp_path / "root"))
    assert get_backbone("dinov3_vitb").weights_digest() == direct
    # HF cache layout for the default repo id, read offline
    monkeypatch.delenv("ARCHSEARCH_WEIGHTS_DIR")
    repo = tmp_path / "hub" / "models--facebook--dinov3-vitb16-pretrain-lvd1689m"
    shutil.copytree(folder, repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    bb = get_backbone("dinov3_vitb")
    assert bb.folder == repo / "snapshots" / "0123abcd" and bb.weights_digest() == direct


def test_digest_tracks_weight_bytes(saved, tmp_path):
    folder = saved["dinov2"][2]
    copy = shutil.copytree(folder, tmp_path / "copy")
    a = get_backbone("dinov2_vitb", weights_dir=folder).weights_digest()
    assert a == get_backbone("dinov2_vitb", weights_dir=copy).weights_digest() and len(a) == 64
    model = tr.Dinov2Model.from_pretrained(copy)
    with torch.no_grad():
        model.layernorm.weight.add_(1e-3)
    model.save_pretrained(copy)
    assert get_backbone("dinov2_vitb", weights_dir=copy).weights_digest() != a


def test_wrong_or_incomplete_checkpoints_are_refused(saved, tmp_path):
    with pytest.raises(MissingWeightsError, match="model_type='dinov3_vit'.*expected one of"):
        get_backbone("dinov2_vitb", weights_dir=saved["dinov3"][2])
    bad = shutil.copytree(saved["dinov2"][2], tmp_path / "no_weights")
    (bad / "model.safetensors").unlink()
    with pytest.raises(MissingWeightsError):
        get_backbone("dinov2_vitb", weights_dir=bad)
    # config that does not fit the saved tensors: larger model -> missing/mismatched keys must raise
    cfg = json.loads((bad.parent / "no_weights" / "config.json").read_text())
    partial = shutil.copytree(saved["dinov2"][2], tmp_path / "partial")
    cfg["num_hidden_layers"] = 2
    (partial / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(MissingWeightsError, match="does not cover"):
        get_backbone("dinov2_vitb", weights_dir=partial)


def test_processor_config_sets_normalisation_and_size(saved, tmp_path):
    folder = shutil.copytree(saved["dinov2"][2], tmp_path / "with_proc")
    (folder / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "crop_size": {"height": 42, "width": 42},
                "do_center_crop": True,
                "image_mean": [0.1, 0.2, 0.3],
                "image_std": [0.4, 0.5, 0.6],
            }
        )
    )
    bb = get_backbone("dinov2_vitb", weights_dir=folder)
    assert bb.spec.resolution == (42, 42) and bb.spec.mean == (0.1, 0.2, 0.3) and bb.spec.std == (0.4, 0.5, 0.6)


def test_video_clip_causality_with_tiny_vjepa2(saved):
    bb = get_backbone("vjepa2_vitl", weights_dir=saved["vjepa2"][2], device="cpu")
    frames, ts = _frames(31, seed=2), np.arange(31) / 10.0
    f1, t = bb.extract(frames, ts)
    altered = frames.copy()
    altered[ts > 2.0] = 0
    altered[ts > 1.0 + 1e-9] = 0
    f2, _ = bb.extract(altered, ts)
    past = t <= 1.0 + 1e-9
    assert np.array_equal(f1[past], f2[past]) and not np.allclose(f1[~past], f2[~past])
