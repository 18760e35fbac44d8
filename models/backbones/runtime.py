"""Shared torch machinery: device choice, resize + normalise, batched causal extraction, digests.

Subclasses of TorchBackbone only implement `_forward(clips) -> (B, D)`; batching, the sampling grid,
preprocessing, autocast and inference mode live here so every backbone treats time the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
from abc import abstractmethod

import numpy as np
import torch
import torch.nn.functional as F

from .base import Backbone, clip_frame_indices, feature_grid, validate_frames
from .weights import sha256_files  # noqa: F401  (re-exported for backbones)


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """CUDA when present (or when asked), else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def preprocess(frames: torch.Tensor, size: tuple[int, int], mean, std) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, h, w) float32 normalised; plain-torch antialiased squash resize."""
    x = frames.permute(0, 3, 1, 2).float().div_(255.0)  # (N, 3, H, W) in [0, 1]
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - m) / s


def sha256_state_dict(module: torch.nn.Module) -> str:
    """sha256 over (name, dtype, shape, bytes) of every tensor, in sorted key order."""
    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        t = v.detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


class TorchBackbone(Backbone):
    """Backbone whose features come from a torch function of normalised clips (B, F, 3, H, W)."""

    use_autocast: bool = True  # bf16 autocast on CUDA; off for hand-made features

    def __init__(self, *, device=None, batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ValueError(f"{self.name}: batch_size must be >= 1, got {batch_size}")
        self.device = pick_device(device)
        self.batch_size = int(batch_size)
        self.module: torch.nn.Module | None = None  # set by subclasses that hold weights

    @abstractmethod
    def _forward(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, F, 3, H, W) normalised float -> (B, D) features."""

    def param_count(self) -> int:
        return 0 if self.module is None else sum(p.numel() for p in self.module.parameters())

    def _autocast(self):
        if self.use_autocast and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def extract(self, frames: np.ndarray, timestamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        frames, ts = validate_frames(frames, timestamps, who=self.name)
        spec = self.spec
        grid = feature_grid(ts, spec.feature_rate)  # (T',)
        if len(grid) == 0:
            return np.zeros((0, self.dim), np.float32), grid
        idx = clip_frame_indices(ts, grid, spec)  # (T', F)
        # Image encoders: run each distinct frame once (grid points can share a frame in gaps).
        uniq, inverse = np.unique(idx, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        out = np.empty((len(uniq), self.dim), np.float32)
        with torch.inference_mode(), self._autocast():
            for b0 in range(0, len(uniq), self.batch_size):
                bidx = uniq[b0 : b0 + self.batch_size]  # (B, F)
                need, local = np.unique(bidx, return_inverse=True)  # decode each frame once per batch
                raw = torch.from_numpy(np.ascontiguousarray(frames[need])).to(self.device)
                x = preprocess(raw, spec.resolution, spec.mean, spec.std)  # (N, 3, H, W)
                clips = x[torch.from_numpy(local.reshape(bidx.shape)).to(self.device)]  # (B, F, 3, H, W)
                feats = self._forward(clips)  # (B, D)
                out[b0 : b0 + len(bidx)] = feats.float().cpu().numpy()
        return out[inverse], grid
