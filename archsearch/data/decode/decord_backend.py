"""The decord decode path: causal frames by index, resized in decord's ffmpeg scaler (the fast path).

decord exists only as x86-64 Linux wheels and has quirks of its own (noisy native logs,
copy-out failures at some scaled widths); they are handled here. Every decode compares
decord's frame times with the container's first and raises DecordMismatch when they differ,
so a file decord misreads can never yield frames silently.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.data.decode.resize import resize_frames
from archsearch.data.decode.times import causal_indices


class DecordMismatch(RuntimeError):
    """decord's frame times differ from the container's for this file; the message says how."""


@lru_cache(maxsize=1)
def decord_module() -> Any:
    """Import decord once and silence its ffmpeg log (process-wide for decord's own ffmpeg)."""
    import decord

    decord.logging.set_level(decord.logging.QUIET)
    return decord


def decord_available() -> bool:
    """True when decord imports (x86-64 Linux wheels only)."""
    try:
        decord_module()
    except (ImportError, OSError):
        return False
    return True


def open_reader(path: Path, size: tuple[int, int] | None, num_threads: int) -> Any:
    """A decord VideoReader, scaling to size=(H, W) inside ffmpeg when given."""
    h, w = size if size else (-1, -1)
    return decord_module().VideoReader(str(path), width=w, height=h, num_threads=num_threads)


def reader_times(reader: Any) -> np.ndarray:
    """(N,) float64 s: decord's presentation time of each frame index (stream-start relative)."""
    return reader.get_frame_timestamp(np.arange(len(reader)))[:, 0].astype(np.float64)


def decode_decord(
    facts: Any, times: np.ndarray, size: tuple[int, int] | None, num_threads: int, check: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W, 3) at sample ``times`` and the source time of each; ``check`` vets decord's times."""
    if size is None:
        return decord_pass(facts.path, times, None, num_threads, check)
    try:
        return decord_pass(facts.path, times, size, num_threads, check)
    except DecordMismatch:
        raise
    except Exception as e:
        # decord 0.6.0 fails to copy out some scaled widths (1-4, 6, 8, 12, 16, 24, 48, 72:
        # "DECORDArrayCopyFromTo: The size must exactly match"): decode at native size and
        # resize in torch instead. Any other failure is the file's and propagates.
        if "DECORDArrayCopyFromTo" not in str(e):
            raise
    frames, frame_times = decord_pass(facts.path, times, None, num_threads, check)  # (T, H0, W0, 3)
    return resize_frames(frames, size), frame_times


def decord_pass(
    path: Path, times: np.ndarray, size: tuple[int, int] | None, num_threads: int, check: Any
) -> tuple[np.ndarray, np.ndarray]:
    reader = open_reader(path, size, num_threads)
    frame_times = reader_times(reader)  # (N,) s
    problem = check(frame_times)
    if problem:
        raise DecordMismatch(problem)
    idx = causal_indices(frame_times, times)  # (T,) non-decreasing
    repeats = len(idx) > 1 and bool(np.any(idx[1:] == idx[:-1]))  # fps above the source rate
    uniq, inverse = np.unique(idx, return_inverse=True) if repeats else (idx, None)
    batch = reader.get_batch(uniq.tolist())
    # native bridge -> decord NDArray; a caller that switched the (thread-local) bridge gets
    # a framework tensor instead, which np.asarray converts back without touching its setting
    arr = batch.asnumpy() if hasattr(batch, "asnumpy") else np.asarray(batch)  # (U, H, W, 3)
    return (arr if inverse is None else arr[inverse]), frame_times[idx]  # (T, H, W, 3), (T,)
