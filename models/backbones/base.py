"""Backbone interface, input spec, errors and the causal sampling grid (numpy only, no torch).

Every backbone emits features on the same clock, t_k = k / feature_rate (5 Hz by default), so a
window of N feature steps means the same duration whatever the backbone. A feature at time t is
causal: it is computed only from frames whose timestamp is <= t (plus TIME_EPS for pts rounding).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Frames up to 5 ms after a grid time count as "at" that time: decoders report pts-rounded times
# (e.g. 29.97 fps puts frame 6 at 0.2002 s) and dropping it would shift every feature by a step.
TIME_EPS = 5e-3
# Bump when resizing/normalisation/grid code changes outputs, so cached features are invalidated.
PREPROCESS_VERSION = 1
DEFAULT_FEATURE_RATE = 5.0


class UnknownBackboneError(ValueError):
    """Raised for a backbone name that is not registered; the message lists the registered ones."""


class MissingWeightsError(ValueError):
    """Raised when a backbone's weights are not on disk; the message says where we looked and how to fix it."""


@dataclass(frozen=True)
class InputSpec:
    """How the caller must decode video for a backbone (fps, size) and how frames form one feature."""

    decode_fps: float  # frames per second the caller decodes at
    frames_per_clip: int  # frames per feature (1 for image encoders)
    clip_stride: int  # decoded frames between consecutive features
    resolution: tuple[int, int]  # (H, W) the model consumes; extract resizes other sizes itself
    mean: tuple[float, float, float]  # per-channel normalisation on [0, 1] RGB
    std: tuple[float, float, float]

    @property
    def feature_rate(self) -> float:
        """Features per second (5.0 for every registered backbone)."""
        return self.decode_fps / self.clip_stride

    @property
    def clip_duration(self) -> float:
        """Seconds spanned by one clip, first to last frame (0 for image encoders)."""
        return (self.frames_per_clip - 1) / self.decode_fps

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["resolution"], d["mean"], d["std"] = list(self.resolution), list(self.mean), list(self.std)
        d["feature_rate"] = self.feature_rate
        return d


def validate_frames(frames: Any, timestamps: Any, *, who: str) -> tuple[np.ndarray, np.ndarray]:
    """Check extract() inputs and return them as (T, H, W, 3) uint8 and (T,) float64 arrays."""
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3:
        shape = getattr(frames, "shape", type(frames).__name__)
        raise ValueError(f"{who}.extract: frames must be a (T, H, W, 3) numpy array, got {shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"{who}.extract: frames must be uint8 RGB, got dtype {frames.dtype}")
    ts = np.asarray(timestamps, dtype=np.float64)
    if ts.ndim != 1 or len(ts) != len(frames):
        raise ValueError(
            f"{who}.extract: timestamps must be a 1-D array with one entry per frame "
            f"({len(frames)} frames), got shape {ts.shape}"
        )
    if not np.all(np.isfinite(ts)):
        bad = int(np.argmax(~np.isfinite(ts)))
        raise ValueError(f"{who}.extract: timestamps must be finite seconds; entry {bad} is {ts[bad]!r}")
    if np.any(np.diff(ts) < 0):
        bad = int(np.argmax(np.diff(ts) < 0)) + 1
        raise ValueError(
            f"{who}.extract: timestamps must be non-decreasing seconds; entry {bad} is {ts[bad]!r} "
            f"after {ts[bad - 1]!r}"
        )
    return frames, ts


def feature_grid(timestamps: np.ndarray, rate: float) -> np.ndarray:
    """Grid times k / rate covered by the frames: from the first frame's time to the last one's."""
    if len(timestamps) == 0:
        return np.zeros(0, dtype=np.float64)
    k0 = int(np.ceil(timestamps[0] * rate - TIME_EPS * rate))
    k1 = int(np.floor(timestamps[-1] * rate + TIME_EPS * rate))
    return np.arange(k0, k1 + 1, dtype=np.float64) / rate  # (T',)


def clip_frame_indices(timestamps: np.ndarray, grid: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Indices of the frames forming each feature's clip, oldest first: (T', frames_per_clip).

    Clip frame j of the feature at t sits at t - (F - 1 - j) / decode_fps and takes the last frame
    at or before that time, so it works for any input frame rate and never looks past t. Times
    before the first frame repeat the first frame (the causal padding of early clips).
    """
    offsets = (np.arange(spec.frames_per_clip) - (spec.frames_per_clip - 1)) / spec.decode_fps  # (F,)
    want = grid[:, None] + offsets[None, :]  # (T', F)
    idx = np.searchsorted(timestamps, want + TIME_EPS, side="right") - 1
    return np.clip(idx, 0, len(timestamps) - 1).astype(np.int64)


class Backbone(ABC):
    """A frozen feature extractor chosen by name; subclasses set name, dim, spec and implement extract."""

    name: str
    dim: int
    spec: InputSpec
    pooling: str = "none"
    _digest: str | None = None

    def weights_digest(self) -> str:
        """sha256 hex of the weights actually loaded ("none" when weight-free); computed once."""
        if self._digest is None:
            self._digest = self._compute_digest()
        return self._digest

    @abstractmethod
    def _compute_digest(self) -> str: ...

    def sampling_params(self) -> dict[str, Any]:
        """Everything besides the weights that changes the features (part of the cache key)."""
        return {
            "backbone": self.name,
            "dim": self.dim,
            "spec": self.spec.to_dict(),
            "pooling": self.pooling,
            "resize": "squash-bilinear-antialias",
            "time_eps": TIME_EPS,
            "preprocess_version": PREPROCESS_VERSION,
            "runtime": self.runtime_params(),
            **self._extra_params(),
        }

    def runtime_params(self) -> dict[str, Any]:
        """What computes the features and at which precision: a change of runtime is a change of cache."""
        return {"runtime": "torch", "precision": "fp32"}

    def _extra_params(self) -> dict[str, Any]:
        return {}

    @abstractmethod
    def extract(self, frames: np.ndarray, timestamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """frames (T, H, W, 3) uint8 + timestamps (T,) s -> features (T', D) float32, times (T',) s on k/5."""

    def __repr__(self) -> str:
        s = self.spec
        return (
            f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, {s.decode_fps:g} fps x "
            f"{s.frames_per_clip} frames / stride {s.clip_stride}, {s.resolution[0]}x{s.resolution[1]})"
        )
