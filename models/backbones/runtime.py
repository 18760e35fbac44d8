"""Shared torch machinery: device choice, resize + normalise, batched causal extraction, digests.

Subclasses of TorchBackbone only implement `forward_clips(clips) -> (B, D)`; batching, the sampling
grid, preprocessing and the choice of engine (eager torch or OpenVINO) live here, so every backbone
treats time the same way whatever runs it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .base import Backbone, clip_frame_indices, feature_grid, validate_frames
from .engines import RuntimeChoice, resolve_runtime


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


class TorchEngine:
    """Eager torch: `clip_model` as written, bf16 autocast on CUDA when the backbone allows it."""

    def __init__(
        self, clip_model: Callable[[torch.Tensor], torch.Tensor], device: torch.device, autocast_bf16: bool
    ) -> None:
        self.clip_model, self.device, self.autocast_bf16 = clip_model, device, autocast_bf16

    def __call__(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, F, 3, H, W) normalised float on the device -> (B, D) float32 on CPU."""
        ctx = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.autocast_bf16 else contextlib.nullcontext()
        with ctx:
            return self.clip_model(clips).float().cpu()


class ClipModel(torch.nn.Module):
    """A backbone's feature function as one module: (B, F, 3, H, W) normalised -> (B, D); what engines run."""

    def __init__(self, backbone: TorchBackbone) -> None:
        super().__init__()
        self.net = backbone.module  # registered, so tracing sees the weights as parameters
        self.forward_clips = backbone.forward_clips

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.forward_clips(clips)  # (B, D)


class TorchBackbone(Backbone):
    """Backbone whose features come from a torch function of normalised clips (B, F, 3, H, W).

    `runtime` picks the engine that evaluates that function (see engines.py); `cache_dir` is where
    a converted model is kept between runs (None: convert in memory each time).
    """

    use_autocast: bool = True  # bf16 autocast on CUDA; off for hand-made features
    exportable: bool = True  # False for weight-free features: they always run in eager torch
    fast_precision: str = "fp32"  # what runtime auto uses on CPU; bf16 only where measured exact

    def __init__(
        self, *, device=None, batch_size: int = 32, runtime: str = "torch", cache_dir: str | os.PathLike | None = None
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"{self.name}: batch_size must be >= 1, got {batch_size}")
        self.device = pick_device(device)
        self.batch_size = int(batch_size)
        self.requested_runtime = runtime
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.module: torch.nn.Module | None = None  # set by subclasses that hold weights
        self._engine = None
        self._runtime: RuntimeChoice | None = None

    @abstractmethod
    def forward_clips(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, F, 3, H, W) normalised float -> (B, D) features."""

    def param_count(self) -> int:
        return 0 if self.module is None else sum(p.numel() for p in self.module.parameters())

    @property
    def runtime(self) -> RuntimeChoice:
        """The runtime and precision that compute this backbone's features (part of the cache key)."""
        if self._runtime is None:
            autocast = self.use_autocast and self.device.type == "cuda"
            self._runtime = resolve_runtime(
                self.requested_runtime,
                who=self.name,
                device=self.device,
                exportable=self.exportable,
                fast_precision=self.fast_precision,
                torch_precision="bf16" if autocast else "fp32",
            )
        return self._runtime

    def runtime_params(self) -> dict[str, Any]:
        return self.runtime.to_dict()

    def prepare(self) -> None:
        """Build the engine now (converting and caching the model if needed) rather than on first extract."""
        if self._engine is not None:
            return
        choice, spec = self.runtime, self.spec
        if choice.runtime == "torch":
            self._engine = TorchEngine(self.forward_clips, self.device, choice.precision == "bf16")
            return
        from .openvino_engine import OpenVINOEngine, ir_folder

        shape = (spec.frames_per_clip, 3, *spec.resolution)  # (F, 3, H, W)
        identity = {k: v for k, v in self.sampling_params().items() if k != "runtime"}
        folder = (
            None
            if self.cache_dir is None
            else ir_folder(self.cache_dir, self.name, self.weights_digest(), shape, identity)
        )
        self._engine = OpenVINOEngine(
            ClipModel(self).eval(), shape=shape, precision=choice.precision, who=self.name, folder=folder
        )

    def _to_device(self, frames: np.ndarray) -> torch.Tensor:
        raw = torch.from_numpy(np.ascontiguousarray(frames))  # (N, H, W, 3) uint8
        if self.device.type == "cuda":  # pinned host memory: the copy runs asynchronously
            return raw.pin_memory().to(self.device, non_blocking=True)
        return raw.to(self.device)

    def extract(self, frames: np.ndarray, timestamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        frames, ts = validate_frames(frames, timestamps, who=self.name)
        spec = self.spec
        grid = feature_grid(ts, spec.feature_rate)  # (T',)
        if len(grid) == 0:
            return np.zeros((0, self.dim), np.float32), grid
        self.prepare()
        idx = clip_frame_indices(ts, grid, spec)  # (T', F)
        # Image encoders: run each distinct frame once (grid points can share a frame in gaps).
        uniq, inverse = np.unique(idx, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        out = np.empty((len(uniq), self.dim), np.float32)
        with torch.inference_mode():
            for b0 in range(0, len(uniq), self.batch_size):
                bidx = uniq[b0 : b0 + self.batch_size]  # (B, F)
                need, local = np.unique(bidx, return_inverse=True)  # decode each frame once per batch
                x = preprocess(self._to_device(frames[need]), spec.resolution, spec.mean, spec.std)  # (N, 3, H, W)
                clips = x[torch.from_numpy(local.reshape(bidx.shape)).to(self.device)]  # (B, F, 3, H, W)
                out[b0 : b0 + len(bidx)] = self._engine(clips).numpy()  # (B, D)
        return out[inverse], grid
