"""The sampling grid and the causal frame mapping shared by every decode backend.

Causality (a feature at time t sees nothing after t) is decided here and nowhere else: both
backends and the window check take their times and tolerances from this module.
"""

from __future__ import annotations

import math

import numpy as np

TIME_EPS = 1e-6  # s; float slack between k / fps and pts * time_base, far below a frame period


def sample_times(duration: float, fps: float, start: float = 0.0, end: float | None = None) -> np.ndarray:
    """Grid times t = k / fps with start <= t <= end (end defaults to duration), float64 s.

    The grid is anchored at 0, not at start, so windows line up with whole-clip sampling.
    """
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps: expected a positive number, got {fps!r}")
    if not (math.isfinite(duration) and duration >= 0):
        raise ValueError(f"duration: expected a non-negative number of seconds, got {duration!r}")
    end = duration if end is None else end
    if not (math.isfinite(start) and start >= 0):
        raise ValueError(f"start: expected a time >= 0 s, got {start!r}")
    if not (math.isfinite(end) and start <= end <= duration + TIME_EPS):
        raise ValueError(f"end: expected a time within [start={start}, duration={duration}] s, got {end!r}")
    k0 = math.ceil(start * fps - 1e-9)  # slack: 0.6 * 5 == 3.0000000000000004
    k1 = math.floor(end * fps + 1e-9)
    return np.arange(k0, k1 + 1, dtype=np.float64) / fps  # (T,)


def causal_indices(frame_times: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Index of the latest frame with presentation time <= t, for each t (before frame 0 -> 0)."""
    idx = np.searchsorted(frame_times, times + TIME_EPS, side="right") - 1  # (T,)
    return np.clip(idx, 0, len(frame_times) - 1).astype(np.int64)
