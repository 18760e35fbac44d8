"""Transformers backbones (paper set) and the random-init V-JEPA 2 control.

One loading path for real and test weights: a folder with config.json (+ preprocessor config) is
read, the model class is chosen from config.json's `model_type`, and sizes (dim, patch, image
size, frames per clip) come from the loaded config, so tiny random checkpoints saved by tests
exercise exactly the code that real checkpoints use.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from .base import InputSpec, MissingWeightsError
from .catalog import ENTRIES
from .runtime import TorchBackbone, sha256_state_dict
from .weights import folder_digest, resolve_weights, weight_files

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
VIDEO_FPS, VIDEO_STRIDE, IMAGE_FPS = 10.0, 2, 5.0  # both give features at 5 Hz
VJEPA2_FRAMES = 16  # the study's clip length; V-JEPA 2's RoPE accepts any even frame count
VIDEO_TYPES = {"vjepa2", "videomae"}
FLEXIBLE_POSITIONS = {"dinov2", "dinov3_vit", "vjepa2"}  # interpolated or rotary positions: any size works
POOLING = {
    "vjepa2": "mean_tokens",
    "videomae": "mean_tokens",
    "dinov2": "cls",
    "dinov3_vit": "cls",
    "internvl": "mean_patch_tokens",
    "internvl_vision": "mean_patch_tokens",
}


def _model_class(model_type: str):
    import transformers as tr

    return {
        "vjepa2": tr.VJEPA2Model,
        "videomae": tr.VideoMAEModel,
        "dinov2": tr.Dinov2Model,
        "dinov3_vit": tr.DINOv3ViTModel,
        "siglip": tr.SiglipVisionModel,
        "siglip_vision_model": tr.SiglipVisionModel,
        "siglip2": tr.Siglip2VisionModel,
        "siglip2_vision_model": tr.Siglip2VisionModel,
        "internvl_vision": tr.InternVLVisionModel,
    }[model_type]


def _load_internvl_tower(folder: Path) -> torch.nn.Module:
    """InternVisionModel out of a full InternVL checkpoint: build from vision_config, load `vision_tower.*` strictly."""
    import transformers as tr
    from safetensors import safe_open

    model = tr.InternVLVisionModel(tr.InternVLConfig.from_pretrained(folder).vision_config)
    pat, state = re.compile(r"^(?:model\.)?vision_tower\.(.+)$"), {}
    for f in weight_files(folder):
        if f.suffix == ".safetensors":
            with safe_open(str(f), framework="pt") as sf:
                keys = sf.keys()  # a safetensors handle is not iterable itself
                state.update({m[1]: sf.get_tensor(k) for k in keys if (m := pat.match(k))})
        else:
            sd = torch.load(f, map_location="cpu", weights_only=True)
            state.update({m[1]: v for k, v in sd.items() if (m := pat.match(k))})
    model.load_state_dict(state, strict=True)
    return model


def load_hf_model(folder: Path, model_type: str) -> torch.nn.Module:
    """Load the encoder in float32 and refuse silently random-initialised parameters."""
    from transformers.utils import logging as hf_logging

    weight_files(folder)  # a clear MissingWeightsError for a config without weights
    if model_type == "internvl":
        return _load_internvl_tower(folder).eval()
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # unused text/decoder weights are expected; we check missing keys below
    hf_logging.disable_progress_bar()
    try:
        model, info = _model_class(model_type).from_pretrained(
            folder, local_files_only=True, dtype=torch.float32, output_loading_info=True
        )
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    bad = list(info.get("missing_keys", [])) + [str(m) for m in info.get("mismatched_keys", [])]
    if bad:
        raise MissingWeightsError(
            f"{folder}: checkpoint does not cover the {type(model).__name__} weights "
            f"(missing/mismatched: {sorted(bad)[:8]}{' ...' if len(bad) > 8 else ''}); wrong model folder?"
        )
    return model.eval()


def _pair(v) -> tuple[int, int] | None:
    if isinstance(v, int):
        return (v, v)
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return (int(v[0]), int(v[1]))
    if isinstance(v, dict) and "height" in v and "width" in v:
        return (int(v["height"]), int(v["width"]))
    return None


def read_processor(folder: Path) -> dict:
    for fn in ("preprocessor_config.json", "video_preprocessor_config.json"):
        if (folder / fn).is_file():
            return json.loads((folder / fn).read_text())
    return {}


def input_spec(model_type: str, cfg, proc: dict) -> tuple[InputSpec, int]:
    """Spec from the loaded config (+ saved processor config): resolution, normalisation, clip length."""
    patch = _pair(cfg.patch_size)[0]
    default = HALF if model_type.startswith("siglip") else IMAGENET
    mean = tuple(float(x) for x in proc.get("image_mean", default[0]))
    std = tuple(float(x) for x in proc.get("image_std", default[1]))
    if model_type.startswith("siglip2"):
        side = int(round(proc.get("max_num_patches", cfg.num_patches) ** 0.5)) * patch
        res = (side, side)
    elif model_type in FLEXIBLE_POSITIONS:  # the processor's size is what the model was trained/evaluated at
        res = _pair(proc.get("crop_size")) if proc.get("do_center_crop", True) else None
        res = res or _pair(proc.get("size")) or _pair(getattr(cfg, "crop_size", None)) or _pair(cfg.image_size)
    else:  # fixed position embeddings: only the config's size is valid
        res = _pair(cfg.image_size)
    res = (res[0] // patch * patch, res[1] // patch * patch)  # whole patches only
    if model_type in VIDEO_TYPES:
        frames = VJEPA2_FRAMES if model_type == "vjepa2" else int(cfg.num_frames)
        return InputSpec(VIDEO_FPS, frames, VIDEO_STRIDE, res, mean, std), patch
    return InputSpec(IMAGE_FPS, 1, 1, res, mean, std), patch


class HFBackbone(TorchBackbone):
    """A transformers encoder run per frame (image models) or per causal 16-frame clip (video models)."""

    def __init__(
        self,
        name: str,
        *,
        weights_dir=None,
        device=None,
        batch_size: int = 32,
        runtime: str = "torch",
        cache_dir=None,
        model: torch.nn.Module | None = None,
    ) -> None:
        """Load `name`'s checkpoint, or wrap an already built `model` (the random-init control)."""
        self.name = name
        super().__init__(device=device, batch_size=batch_size, runtime=runtime, cache_dir=cache_dir)
        self.folder, self.proc = None, {}
        if model is None:
            entry = ENTRIES[name]
            folder = resolve_weights(name, entry.repo_id, weights_dir)
            model_type = json.loads((folder / "config.json").read_text()).get("model_type")
            if model_type not in entry.model_types:
                raise MissingWeightsError(
                    f"backbone {name!r}: {folder / 'config.json'} has model_type={model_type!r}, "
                    f"expected one of {list(entry.model_types)}; wrong model folder?"
                )
            model, self.folder, self.proc = load_hf_model(folder, model_type), folder, read_processor(folder)
        self.module = model.to(self.device)
        self.model_type = model_type = model.config.model_type
        cfg = self.module.config
        self.spec, self.patch = input_spec(model_type, cfg, self.proc)
        self.dim = int(cfg.hidden_size)
        heads = getattr(cfg, "vision_use_head", False)
        self.pooling = POOLING.get(model_type, "map_head" if heads else "mean_tokens")

    def _compute_digest(self) -> str:
        return folder_digest(self.folder) if self.folder is not None else sha256_state_dict(self.module)

    def _extra_params(self) -> dict:
        return {"model_type": self.model_type}

    def forward_clips(self, clips: torch.Tensor) -> torch.Tensor:
        mt, m = self.model_type, self.module
        if mt == "vjepa2":
            return m.encoder(pixel_values_videos=clips).last_hidden_state.mean(1)  # (B, D)
        if mt == "videomae":
            return m(pixel_values=clips).last_hidden_state.mean(1)
        x = clips[:, -1]  # (B, 3, H, W)
        if mt.startswith("siglip2"):
            return self._siglip2(x)
        out = m(pixel_values=x)
        if self.pooling == "mean_patch_tokens":
            return out.last_hidden_state[:, 1:].mean(1)  # drop CLS
        if self.pooling == "mean_tokens":
            return out.last_hidden_state.mean(1)
        return out.pooler_output  # CLS (DINO) or attention-pool head (SigLIP)

    def _siglip2(self, x: torch.Tensor) -> torch.Tensor:
        """NaFlex input: (B, 3, H, W) -> patches (B, N, P*P*3) in the image processor's (row, col, dy, dx, c) order."""
        b, c, h, w = x.shape
        p = self.patch
        patches = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), -1)
        mask = torch.ones(patches.shape[:2], dtype=torch.int32, device=x.device)
        shapes = torch.tensor([[h // p, w // p]] * b, dtype=torch.long, device=x.device)
        out = self.module(pixel_values=patches, pixel_attention_mask=mask, spatial_shapes=shapes)
        return out.pooler_output if self.pooling == "map_head" else out.last_hidden_state.mean(1)


def tiny_vjepa2_config():
    """Small, fast V-JEPA 2 architecture for the random-feature control (64 px, 2x16x16 tubelets)."""
    from transformers import VJEPA2Config

    return VJEPA2Config(
        crop_size=64,
        patch_size=16,
        tubelet_size=2,
        frames_per_clip=16,
        hidden_size=192,
        num_attention_heads=3,
        num_hidden_layers=4,
        mlp_ratio=4.0,
        num_pooler_layers=1,
        pred_hidden_size=64,
        pred_num_attention_heads=2,
        pred_num_hidden_layers=1,
    )


def make_vjepa2_tiny_random(
    *, weights_dir=None, device=None, batch_size: int = 32, runtime: str = "torch", cache_dir=None, seed: int = 0
) -> HFBackbone:
    """Random-init tiny V-JEPA 2 with fixed seed: a "features without learning" control with a stable digest."""
    from transformers import VJEPA2Model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = VJEPA2Model(tiny_vjepa2_config()).eval()
    bb = HFBackbone(
        "vjepa2_tiny_random", device=device, batch_size=batch_size, runtime=runtime, cache_dir=cache_dir, model=model
    )
    bb.fast_precision = "bf16"  # OpenVINO bf16 agrees with fp32 eager to cosine >= 0.999 (tests/models)
    bb.seed = seed
    return bb
