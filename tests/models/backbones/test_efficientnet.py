"""EfficientNet-Lite: the shipped ImageNet weights load strictly and behave like a trained network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.backbones import get_backbone
from models.backbones.efficientnet_lite import VARIANTS, EfficientNetLite, load_efficientnet_lite, shipped_weights_path

# ImageNet classes a photo of Grace Hopper in uniform should land on.
UNIFORM_LIKE = {652: "military uniform", 457: "bow tie", 906: "Windsor tie", 834: "suit"}


def _sample_image(name: str) -> np.ndarray:
    from matplotlib import cbook
    from PIL import Image

    return np.asarray(Image.open(cbook.get_sample_data(name)).convert("RGB"))  # (H, W, 3) uint8


@pytest.fixture(scope="module")
def hopper() -> np.ndarray:
    return _sample_image("grace_hopper.jpg")


@pytest.mark.parametrize("name", list(VARIANTS))
def test_strict_load_and_digest_matches_release_hash(name):
    path = shipped_weights_path(name)
    model = load_efficientnet_lite(name)  # load_state_dict(strict=True) inside
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert model.state_dict().keys() == state.keys()
    bb = get_backbone(name, device="cpu")
    # The release file is named <arch>-<first 8 hex of its sha256>.pth (torch.hub convention).
    assert bb.weights_digest().startswith(path.stem.rsplit("-", 1)[1])
    assert bb.dim == 1280 and bb.spec.resolution == (VARIANTS[name].resolution,) * 2


def test_strict_load_rejects_a_mismatched_architecture():
    state = torch.load(shipped_weights_path("efficientnet_lite0"), map_location="cpu", weights_only=True)
    with pytest.raises(RuntimeError):
        EfficientNetLite(1.0, 1.1).load_state_dict(state, strict=True)  # lite1 depth: extra blocks


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite2"])
def test_imagenet_prediction_is_sensible(name, hopper):
    bb = get_backbone(name, device="cpu")
    x = torch.from_numpy(hopper.copy()).permute(2, 0, 1)[None].float() / 255
    x = F.interpolate(x, size=bb.spec.resolution, mode="bilinear", antialias=True)
    x = (x - torch.tensor(bb.spec.mean).view(1, 3, 1, 1)) / torch.tensor(bb.spec.std).view(1, 3, 1, 1)
    with torch.no_grad():
        probs = bb.module(x).softmax(-1)[0]
    assert int(probs.argmax()) == 652, f"top-5: {probs.topk(5)}"  # military uniform
    assert float(probs[list(UNIFORM_LIKE)].sum()) > 0.25


def test_features_are_pretrained_and_discriminative(hopper):
    bb = get_backbone("efficientnet_lite0", device="cpu")
    other = _sample_image("Minduka_Present_Blue_Pack.png")
    rng = np.random.default_rng(0)
    h, w = bb.spec.resolution
    imgs = [hopper, other]
    imgs = [
        F.interpolate(
            torch.from_numpy(i.copy()).permute(2, 0, 1)[None].float(), size=(h, w), antialias=True, mode="bilinear"
        )[0]
        .permute(1, 2, 0)
        .round()
        .clamp(0, 255)
        .byte()
        .numpy()
        for i in imgs
    ]
    noisy = np.clip(imgs[0].astype(int) + rng.integers(-4, 5, imgs[0].shape), 0, 255).astype(np.uint8)
    frames = np.stack([imgs[0], noisy, imgs[1]])  # (3, H, W, 3)
    feats, _ = bb.extract(frames, np.array([0.0, 0.2, 0.4]))

    def cos(a, b):
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    assert cos(feats[0], feats[1]) > 0.95  # near-identical images
    assert cos(feats[0], feats[2]) < cos(feats[0], feats[1]) - 0.1  # different images differ more
    torch.manual_seed(0)
    rand = EfficientNetLite(1.0, 1.0).eval()
    x = (torch.from_numpy(frames[:1].copy()).permute(0, 3, 1, 2).float() / 255 - 0.498) / 0.502
    with torch.no_grad():
        rf = rand.features(x)[0].numpy()
    assert cos(feats[0], rf) < 0.8 and not np.allclose(feats[0], rf, atol=1e-2)


def test_weights_dir_override_and_error(tmp_path):
    from models.backbones import MissingWeightsError

    with pytest.raises(MissingWeightsError, match="expected one .pth"):
        get_backbone("efficientnet_lite0", weights_dir=tmp_path)
    (tmp_path / "efficientnet_lite0").mkdir()
    src = shipped_weights_path("efficientnet_lite0")
    (tmp_path / "efficientnet_lite0" / src.name).write_bytes(Path(src).read_bytes())
    bb = get_backbone("efficientnet_lite0", weights_dir=tmp_path)
    assert bb.weights_digest() == get_backbone("efficientnet_lite0").weights_digest()
