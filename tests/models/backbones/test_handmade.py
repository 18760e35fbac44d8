"""Hand-made baselines measure what they claim: motion energy, flow direction, looming, tiny pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.backbones import get_backbone
from models.backbones.handmade import SCALAR_NAMES

G = 64  # cells in the 8x8 grid
ENERGY, CHANGE, U, V, RADIAL, SCALARS = [slice(i * G, (i + 1) * G) for i in range(5)] + [slice(5 * G, 5 * G + 16)]


@pytest.fixture(scope="module")
def motion():
    return get_backbone("motion", device="cpu")


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture (blocks of 4 px) so block matching has something to lock on."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3), dtype=np.uint8)
    return np.repeat(np.repeat(small, 4, 0), 4, 1)[:h, :w]


def _run(bb, frames):
    return bb.extract(np.stack(frames), np.arange(len(frames)) / bb.spec.decode_fps)


def test_static_scene_has_no_motion(motion):
    img = _texture(72, 128)
    feats, _ = _run(motion, [img] * 11)
    assert feats.shape == (6, 336)
    assert np.abs(feats).max() == 0.0


def test_translation_gives_flow_with_right_sign_and_speed(motion):
    base = _texture(72, 200 + 40, seed=1)
    frames = [
        np.ascontiguousarray(base[:, 40 - 2 * k : 40 - 2 * k + 128]) for k in range(11)
    ]  # content moves +2 px/frame
    feats, _ = _run(motion, frames)
    last = feats[-1]
    u = last[U].reshape(8, 8)[:, 1:-1]  # interior columns (edges see new content entering)
    assert np.median(u) == pytest.approx(2 * 10.0 / 128, rel=1e-6)  # image widths per second
    assert np.abs(last[V]).max() == 0.0
    assert last[ENERGY].mean() > 0.01


def test_subpixel_flow(motion):
    """Half-pixel-per-frame motion (too slow for integer block matching) is still measured."""
    rng = np.random.default_rng(1)
    small = torch.from_numpy(rng.integers(0, 256, (1, 3, 20, 40)).astype(np.float32))
    big = F.interpolate(small, size=(72, 256), mode="bicubic", align_corners=False).clamp(0, 255)[0]  # (3, 72, 256)
    frames = []
    for k in range(11):
        x = torch.arange(128).float() + 40 - 0.5 * k
        x0, a = x.floor().long(), x - x.floor()
        frames.append((big[:, :, x0] * (1 - a) + big[:, :, x0 + 1] * a).permute(1, 2, 0).round().byte().numpy())
    u = _run(motion, frames)[0][-1][U].reshape(8, 8)[:, 1:-1] * 128 / 10.0  # back to px / frame
    assert np.median(u) == pytest.approx(0.5, abs=0.05)


def test_zoom_is_looming(motion):
    base = torch.from_numpy(_texture(144, 256, seed=2)).permute(2, 0, 1)[None].float()
    frames = []
    for k in range(11):
        s = 1.0 + 0.03 * k  # camera approaching: the centre crop grows
        h, w = int(round(72 * s)), int(round(128 * s))
        big = F.interpolate(base, size=(2 * h, 2 * w), mode="bilinear", antialias=True)
        top, left = (2 * h - 144) // 2 + 36, (2 * w - 256) // 2 + 64
        frames.append(big[0, :, top : top + 72, left : left + 128].permute(1, 2, 0).round().byte().numpy())
    feats, _ = _run(motion, frames)
    sc = dict(zip(SCALAR_NAMES, feats[-1][SCALARS]))
    assert sc["radial"] > 0.02 and sc["divergence"] > 0 and sc["radial_centre"] > 0  # outward flow
    shrink, _ = _run(motion, frames[::-1])
    assert dict(zip(SCALAR_NAMES, shrink[-1][SCALARS]))["radial"] < -0.02  # receding scene: inward flow


def test_region_energies(motion):
    img = _texture(72, 128, seed=3)
    frames = []
    for k in range(11):
        f = img.copy()
        f[:, :40] = _texture(72, 40, seed=10 + k)  # flicker only on the left
        frames.append(f)
    sc = dict(zip(SCALAR_NAMES, _run(motion, frames)[0][-1][SCALARS]))
    assert sc["energy_left"] > 0.05 and sc["energy_right"] < sc["energy_left"] / 4


def test_pixels_are_standardised_tiny_grayscale():
    bb = get_backbone("pixels", device="cpu")
    frames = np.stack([_texture(64, 64, seed=s) for s in range(3)])  # (3, 64, 64, 3), 4x4-px blocks
    feats, times = bb.extract(frames, np.array([0.0, 0.2, 0.4]))
    assert feats.shape == (3, 256) and np.allclose(times, [0, 0.2, 0.4])
    assert np.allclose(feats.mean(1), 0, atol=1e-5) and np.allclose(feats.std(1, ddof=1), 1, atol=1e-4)
    gray = (frames / 255.0) @ np.array([0.299, 0.587, 0.114])  # (3, 64, 64)
    blocks = gray.reshape(3, 16, 4, 16, 4).mean((2, 4)).reshape(3, -1)  # area average
    ref = (blocks - blocks.mean(1, keepdims=True)) / blocks.std(1, ddof=1, keepdims=True)
    assert np.corrcoef(ref[0], feats[0])[0, 1] > 0.9  # antialias = triangle filter, slightly blurrier than area
    brighter, _ = bb.extract(np.clip(frames.astype(int) // 2 + 60, 0, 255).astype(np.uint8), np.array([0.0, 0.2, 0.4]))
    assert np.allclose(brighter, feats, atol=0.05)  # affine brightness changes cancel out
