"""The decord decode path (default where decord imports): causal frames, resized in ffmpeg.

Why a module of its own: decord is the fast path (it scales inside its ffmpeg scaler) but
exists only as x86-64 Linux wheels and has quirks of its own (noisy native logs, copy-out
failures at some scaled widths); they are handled here so decode.py only picks a backend.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from archsearch.data.frame_resize import resize_frames
from archsearch.data.frame_times import _causal_indices
from archsearch.data.video_probe import VideoInfo


@lru_cache(maxsize=1)
def _decord() -> Any:
    """Import decord once and silence its ffmpeg log (process-wide for decord's own ffmpeg)."""
    import decord

    decord.logging.set_level(decord.logging.QUIET)
    return decord


def decord_available() -> bool:
    """True when decord imports (x86-64 Linux wheels only)."""
    try:
        _decord()
    except (ImportError, OSError):
        return False
    return True


def _decode_decord(
    info: VideoInfo, times: np.ndarray, size: tuple[int, int] | None, num_threads: int
) -> np.ndarray:
    if size is None:
        return _decord_pass(info, times, None, num_threads)
    try:
        return _decord_pass(info, times, size, num_threads)
    except Exception as e:
        # decord 0.6.0 fails to copy out some scaled widths (1-4, 6, 8, 12, 16, 24, 48, 72:
        # "DECORDArrayCopyFromTo: The size must exactly match"): decode at native size and
        # resize in torch instead. Any other failure is the file's and propagates.
        if "DECORDArrayCopyFromTo" not in str(e):
            raise
    frames = _decord_pass(info, times, None, num_threads)  # (T, H0, W0, 3)
    return resize_frames(frames, size)


def _decord_pass(
    info: VideoInfo, times: np.ndarray, size: tuple[int, int] | None, num_threads: int
) -> np.ndarray:
    decord = _decord()
    h, w = size if size else (-1, -1)
    vr = decord.VideoReader(str(info.path), width=w, height=h, num_threads=num_threads)
    n = len(vr)
    frame_times = vr.get_frame_timestamp(np.arange(n))[:, 0]  # (N,) s, start-relative
    idx = _causal_indices(frame_times, times)  # (T,) non-decreasing
    repeats = len(idx) > 1 and bool(np.any(idx[1:] == idx[:-1]))  # fps above the source rate
    uniq, inverse = np.unique(idx, return_inverse=True) if repeats else (idx, None)
    batch = vr.get_batch(uniq.tolist())
    # native bridge -> decord NDArray; a caller that switched the (thread-local) bridge gets
    # a framework tensor instead, which np.asarray converts back without touching its setting
    arr = batch.asnumpy() if hasattr(batch, "asnumpy") else np.asarray(batch)  # (U, H, W, 3)
    return arr if inverse is None else arr[inverse]  # (T, H, W, 3)
