"""Decode dashcam clips into frames at a fixed rate, causally, with decord (PyAV fallback).

Why this module exists: every backbone sees frames sampled the same way, so a feature at
time t can be trusted to contain nothing after t (windows end at anchor - horizon and must
never see the future).

Time convention
    Sample times lie on a grid anchored at 0: t_k = k / fps. A [start, end] window keeps the
    grid points with start <= t <= end, so a window decode is exactly a slice of the
    whole-clip decode. Each t maps to the source frame whose presentation time is the
    latest <= t (causal: a sample never uses a frame from the future; it may repeat a frame
    when fps exceeds the source rate). Presentation times are relative to the stream start
    (container start offsets removed), as decord reports them. A 1 us tolerance absorbs
    float rounding between k / fps and pts * time_base.

Aspect policy
    ``size=(H, W)`` squashes the full frame to H x W (no crop, no letterbox): dashcam
    hazards appear at the edges of the field of view, so nothing may be cut off.

Backends
    "decord" (default when importable) resizes inside decord's ffmpeg scaler, the fastest
    path; "pyav" (fallback where decord has no wheel, e.g. macOS/arm) decodes with PyAV and
    resizes in plain torch (bilinear, antialias). Both give the same frames; resized pixels
    can differ by a few levels because the scalers differ.

Errors
    Every file problem (missing, empty, not a video, no video stream, corrupt, truncated)
    raises VideoDecodeError naming the path. Files are opened with PyAV first: decord
    prints native log lines on bad input and misreads some non-videos, so it only ever
    sees files that PyAV accepted.

Layout
    This module is the public face: it picks the backend, checks the window and returns a
    DecodedClip. The work lives in siblings, one responsibility each: frame_times (grid and
    causal mapping), video_probe (PyAV open/probe and all file errors), frame_resize (torch
    resizer), decord_backend and pyav_backend (the two decode paths). Every name below stays
    importable from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from archsearch.data.decord_backend import _decode_decord, decord_available
from archsearch.data.frame_resize import _check_size, resize_frames
from archsearch.data.frame_times import sample_times
from archsearch.data.pyav_backend import _decode_pyav
from archsearch.data.video_probe import VideoDecodeError, VideoInfo, _short, probe_video

__all__ = [
    "DecodedClip",
    "VideoDecodeError",
    "VideoInfo",
    "decode_video",
    "decord_available",
    "probe_video",
    "resize_frames",
    "sample_times",
]

Backend = Literal["auto", "decord", "pyav"]


@dataclass(frozen=True)
class DecodedClip:
    """Frames sampled at a fixed rate; timestamps[i] is the causal sample time of frames[i]."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    timestamps: np.ndarray  # (T,) float64 s
    source_fps: float
    path: Path

    def __len__(self) -> int:
        return int(self.frames.shape[0])


def _resolve_backend(backend: str) -> str:
    if backend == "auto":
        return "decord" if decord_available() else "pyav"
    if backend == "decord":
        if not decord_available():
            raise ValueError("backend='decord' requested but decord is not importable here")
        return backend
    if backend == "pyav":
        return backend
    raise ValueError(f"backend: expected 'auto', 'decord' or 'pyav', got {backend!r}")


def _window(info: VideoInfo, fps: float, start: float | None, end: float | None) -> np.ndarray:
    start = 0.0 if start is None else float(start)
    end = info.duration if end is None else float(end)
    if start > info.duration:
        raise ValueError(f"{info.path}: start={start} s is after the clip end ({info.duration} s)")
    if end > info.duration:
        if end > info.duration + 0.5 / info.fps:
            raise ValueError(
                f"{info.path}: end={end} s is beyond the clip end ({info.duration} s)"
            )
        end = info.duration  # within half a source frame: rounding in the caller's duration
    return sample_times(info.duration, fps, start, end)


def decode_video(
    path: str | Path,
    fps: float = 5.0,
    *,
    size: tuple[int, int] | None = None,
    start: float | None = None,
    end: float | None = None,
    backend: Backend = "auto",
    num_threads: int = 0,
) -> DecodedClip:
    """Frames at `fps` on the k / fps grid within [start, end], each the latest frame <= t.

    size=(H, W) squash-resizes the full frame; num_threads=0 lets the decoder choose.
    Returns an empty clip (T=0) when no grid point falls inside the window.
    """
    size = _check_size(size)  # argument errors first, before touching the file
    name = _resolve_backend(backend)
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps: expected a positive number, got {fps!r}")
    info = probe_video(path)  # PyAV guard: decord never sees files PyAV rejects
    times = _window(info, fps, start, end)  # (T,)
    if len(times) == 0:
        h, w = size or (info.height, info.width)
        empty = np.zeros((0, h, w, 3), dtype=np.uint8)
        return DecodedClip(empty, times, info.fps, info.path)
    decode = _decode_decord if name == "decord" else _decode_pyav
    try:
        frames = decode(info, times, size, num_threads)
    except VideoDecodeError:
        raise
    except Exception as e:
        raise VideoDecodeError(
            f"{info.path}: {name} failed to decode ({_short(e)}); corrupt or truncated video?"
        ) from e
    return DecodedClip(frames, times, info.fps, info.path)
