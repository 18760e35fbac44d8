"""The paper-set catalogue: which transformers checkpoint serves each backbone name (torch-free).

Both the registry (to list and dispatch names) and the transformers loader (to find and check a
checkpoint) read this table, so it lives apart from either.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HFEntry:
    """A paper-set backbone served by transformers from local weights."""

    repo_id: str  # default Hugging Face repo id (looked up in the local cache only)
    model_types: tuple[str, ...]  # accepted config.json model_type values
    description: str


ENTRIES: dict[str, HFEntry] = {
    "vjepa2_vitl": HFEntry(
        "facebook/vjepa2-vitl-fpc64-256",
        ("vjepa2",),
        "V-JEPA 2 ViT-L video encoder, 16-frame clips at 10 fps, mean-pooled tokens (1024-d)",
    ),
    "dinov2_vitb": HFEntry(
        "facebook/dinov2-base",
        ("dinov2",),
        "DINOv2 ViT-B/14 per frame, CLS token (768-d)",
    ),
    "dinov3_vitb": HFEntry(
        "facebook/dinov3-vitb16-pretrain-lvd1689m",
        ("dinov3_vit",),
        "DINOv3 ViT-B/16 per frame, CLS token (768-d)",
    ),
    "dinov3_vitl": HFEntry(
        "facebook/dinov3-vitl16-pretrain-lvd1689m",
        ("dinov3_vit",),
        "DINOv3 ViT-L/16 per frame, CLS token (1024-d)",
    ),
    "siglip2_base": HFEntry(
        "google/siglip2-base-patch16-224",
        ("siglip", "siglip_vision_model", "siglip2", "siglip2_vision_model"),
        "SigLIP 2 ViT-B/16 per frame, attention-pooled head output (768-d)",
    ),
    "internvit_300m": HFEntry(
        "OpenGVLab/InternVL3-1B-hf",
        ("internvl", "internvl_vision"),
        "InternViT-300M (InternVL3 vision tower) per frame, mean patch token (1024-d)",
    ),
    "videomae_base": HFEntry(
        "MCG-NJU/videomae-base",
        ("videomae",),
        "VideoMAE ViT-B video encoder, 16-frame clips at 10 fps, mean-pooled tokens (768-d)",
    ),
}
