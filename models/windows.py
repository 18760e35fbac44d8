"""Anticipation windows: for each video and horizon h, the last `window_length` feature steps at or before anchor - h.

Why this shape: the task is to raise the alarm h = 500/1000/1500 ms *before* the event (the Nexar
competition's three horizons), so a window must end at anchor - h and contain nothing later. Features
are causal (a feature at time t uses only frames <= t), so "steps whose time <= anchor - h" is exactly
"what a dashcam could have computed by then". A clip with too little history is left-padded with zeros
(mask False), and a clip with no valid step at all still yields a fully masked window, so every video is
scored at every horizon and the per-horizon AP is always over the same set of videos.

Storage: a video's three windows overlap almost entirely (at 5 Hz the horizons are 2.5 steps apart), so a
WindowSet keeps each feature row once (`rows`, float16 as stored) plus an index (N, T) into it. That is
~2.4x less memory than (N, T, D) and lets the trainer project each distinct row through the head's input
layer once per batch (models.training). `x` materialises the (N, T, D) view on first use.

Pure numpy (no torch): built once per experiment with one `searchsorted` per video for all horizons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

HORIZONS_MS: tuple[int, ...] = (500, 1000, 1500)

# Feature times are k / rate doubles and anchors come from CSVs: 28 * 0.2 is 5.6000000000000005, which
# exact comparison would drop from a window ending at 6.1 - 0.5 = 5.6. A nanosecond of slack absorbs
# such rounding and is 8 orders of magnitude below one frame period, so it cannot admit a later frame.
TIME_TOLERANCE_S = 1e-9


class WindowError(ValueError):
    """Inputs for window building are inconsistent; the message names the video and the field."""


@dataclass(frozen=True, repr=False, eq=False)
class WindowSet:
    """N windows of T steps over D-dim features. Built video-major: rows i*H .. i*H+H-1 are video i."""

    rows: np.ndarray  # (R, D) every feature row some window uses, in the features' dtype (float16)
    index: np.ndarray  # (N, T) int64 row of `rows` at each step, -1 = left padding
    y: np.ndarray  # (N,) float32 label of the video (1 = collision)
    video_id: np.ndarray  # (N,) str
    horizon_ms: np.ndarray  # (N,) int32
    end_time: np.ndarray  # (N,) float64 time of the window's last real step (NaN when fully masked)
    anchor_time: np.ndarray  # (N,) float64

    def __post_init__(self) -> None:
        n = len(self.y)
        for name in ("index", "video_id", "horizon_ms", "end_time", "anchor_time"):
            if len(getattr(self, name)) != n:
                raise WindowError(f"WindowSet field {name!r}: expected {n} rows, got {len(getattr(self, name))}")
        if self.rows.ndim != 2 or self.index.ndim != 2:
            raise WindowError(
                f"WindowSet: expected rows (R, D) and index (N, T), got {self.rows.shape}, {self.index.shape}"
            )
        if self.index.size and (self.index.max() >= len(self.rows) or self.index.min() < -1):
            raise WindowError(f"WindowSet: index must be -1 or a row of `rows` (0..{len(self.rows) - 1})")

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return (
            f"WindowSet(n={len(self)}, window_length={self.window_length}, dim={self.dim}, rows={len(self.rows)}, "
            f"dtype={self.rows.dtype}, positives={self.n_positive}, horizons_ms={list(self.horizons)})"
        )

    @property
    def window_length(self) -> int:
        return int(self.index.shape[1])

    @property
    def dim(self) -> int:
        return int(self.rows.shape[1])

    @property
    def mask(self) -> np.ndarray:
        """(N, T) bool, True = a real feature step."""
        return self.index >= 0

    @cached_property
    def x(self) -> np.ndarray:
        """(N, T, D) windows in the rows' dtype, zeros at padded steps (materialised once, on first use)."""
        if len(self.rows) == 0:
            return np.zeros((*self.index.shape, self.dim), dtype=self.rows.dtype)
        x = self.rows[np.maximum(self.index, 0)]  # (N, T, D)
        x[self.index < 0] = 0
        return x

    @property
    def horizons(self) -> tuple[int, ...]:
        return tuple(int(h) for h in np.unique(self.horizon_ms))

    @property
    def n_positive(self) -> int:
        return int((self.y > 0.5).sum())

    def subset(self, sel: np.ndarray) -> WindowSet:
        """The windows at `sel` (an index or boolean array); `rows` is shared, not copied."""
        return WindowSet(
            self.rows,
            self.index[sel],
            self.y[sel],
            self.video_id[sel],
            self.horizon_ms[sel],
            self.end_time[sel],
            self.anchor_time[sel],
        )


def window_indices(times: np.ndarray, cutoffs: np.ndarray, window_length: int) -> np.ndarray:
    """Row indices (H, L) into `times` of the window ending at each cutoff; -1 marks left padding.

    The window is the last `window_length` steps with times[i] <= cutoff (+ TIME_TOLERANCE_S). `times`
    must be non-decreasing (the store guarantees it).
    """
    end = np.searchsorted(times, cutoffs + TIME_TOLERANCE_S, side="right")  # (H,) one past the last valid step
    idx = end[:, None] - window_length + np.arange(window_length)[None, :]  # (H, L)
    return np.where(idx >= 0, idx, -1)


def build_windows(
    features: Mapping[str, tuple[np.ndarray, np.ndarray]],
    video_ids: Sequence[str],
    labels: Sequence[int] | np.ndarray,
    anchors: Sequence[float] | np.ndarray,
    window_length: int,
    horizons_ms: Sequence[int] = HORIZONS_MS,
) -> WindowSet:
    """Windows for `video_ids` (in that order) from `features` {id: ((T_i, D), (T_i,) seconds)}.

    labels (0/1) and anchors (seconds: the event time for positives, a matched time for negatives, see
    archsearch.data.anchors.assign_anchors) are aligned with video_ids.
    """
    if not isinstance(window_length, (int, np.integer)) or isinstance(window_length, bool) or window_length < 1:
        raise WindowError(f"build_windows: 'window_length' must be a positive integer, got {window_length!r}")
    horizons = np.asarray(horizons_ms, dtype=np.int64)
    if horizons.ndim != 1 or horizons.size == 0 or (horizons < 0).any():
        raise WindowError(f"build_windows: 'horizons_ms' must be non-negative milliseconds, got {list(horizons_ms)}")
    ids = [str(v) for v in video_ids]
    labels = np.asarray(labels)
    anchors = np.asarray(anchors, dtype=np.float64)
    if labels.shape != (len(ids),) or anchors.shape != (len(ids),):
        raise WindowError(
            f"build_windows: expected {len(ids)} labels and anchors (one per video id), got shapes "
            f"{labels.shape} and {anchors.shape}"
        )
    if not np.isin(labels, (0, 1)).all():
        raise WindowError(f"build_windows: labels must be 0 or 1, got {sorted(set(labels.tolist()) - {0, 1})[:5]}")
    bad = np.flatnonzero(~np.isfinite(anchors))
    if bad.size:
        raise WindowError(
            f"build_windows: video {ids[bad[0]]!r}, field 'anchor_time': expected a finite time in "
            f"seconds, got {anchors[bad[0]]}"
        )
    missing = [v for v in ids if v not in features]
    if missing:
        raise WindowError(f"build_windows: no features for {len(missing)} video(s), e.g. {missing[:5]}")

    L, H, n = int(window_length), horizons.size, len(ids)
    first = features[ids[0]][0] if ids else np.zeros((0, 0), np.float16)
    D, dtype = (first.shape[1] if first.ndim == 2 else 0), first.dtype
    index = np.full((n * H, L), -1, dtype=np.int64)  # (N, L)
    end_time = np.full(n * H, np.nan)
    offsets_s = horizons / 1000.0  # (H,)
    pieces: list[np.ndarray] = []
    n_rows = 0
    for i, vid in enumerate(ids):
        feats, times = features[vid]
        if feats.ndim != 2 or feats.shape[1] != D or times.shape != (feats.shape[0],):
            raise WindowError(
                f"build_windows: video {vid!r}: expected features (T, {D}) and times (T,), got "
                f"{feats.shape} and {times.shape}"
            )
        idx = window_indices(times, anchors[i] - offsets_s, L)  # (H, L) rows of this video, -1 = padding
        valid = idx >= 0
        if valid.any():
            used = np.unique(idx[valid])  # each row once, however many windows share it
            pieces.append(feats[used])
            index[i * H : (i + 1) * H][valid] = n_rows + np.searchsorted(used, idx[valid])
            n_rows += used.size
            last = idx[:, -1]  # the newest step is always the rightmost one
            end_time[i * H : (i + 1) * H] = np.where(last >= 0, times[np.maximum(last, 0)], np.nan)
    rows = np.concatenate(pieces) if pieces else np.zeros((0, D), dtype=dtype)
    return WindowSet(
        rows=rows,
        index=index,
        y=np.repeat(labels.astype(np.float32), H),
        video_id=np.repeat(np.asarray(ids, dtype=str), H),
        horizon_ms=np.tile(horizons.astype(np.int32), n),
        end_time=end_time,
        anchor_time=np.repeat(anchors, H),
    )
