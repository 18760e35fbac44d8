"""decode_video: frames at a fixed rate, each the frame on screen at its sample time, from either backend.

Checks the arguments, scans the container (PyAV; every file error surfaces here), picks the
backend per file (see ``choice``), checks the window and returns a DecodedClip that says which
backend decoded it and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from archsearch.data.decode.choice import BackendChoice, check_mode, choose_backend, decord_disagreement
from archsearch.data.decode.container import ContainerFacts, scan_container
from archsearch.data.decode.decord_backend import DecordMismatch, decode_decord
from archsearch.data.decode.errors import VideoDecodeError, short_error
from archsearch.data.decode.pyav_backend import decode_pyav
from archsearch.data.decode.resize import check_size
from archsearch.data.decode.times import sample_times


@dataclass(frozen=True)
class DecodedClip:
    """Frames sampled at a fixed rate: timestamps[i] is the sample time of frames[i], and
    frame_times[i] the presentation time of the source frame shown then (<= timestamps[i])."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB, as displayed (rotation applied)
    timestamps: np.ndarray  # (T,) float64 s
    source_fps: float
    path: Path
    frame_times: np.ndarray  # (T,) float64 s
    backend: str  # "decord" | "pyav"
    backend_reason: str

    def __len__(self) -> int:
        return int(self.frames.shape[0])


def sample_window(facts: ContainerFacts, fps: float, start: float | None, end: float | None) -> np.ndarray:
    """Grid times in [start, end] (defaults: the whole clip); an end within half a frame of the clip's is clamped."""
    start = 0.0 if start is None else float(start)
    end = facts.duration if end is None else float(end)
    if start > facts.duration:
        raise ValueError(f"{facts.path}: start={start} s is after the clip end ({facts.duration} s)")
    if end > facts.duration:
        if end > facts.duration + 0.5 / facts.fps:
            raise ValueError(f"{facts.path}: end={end} s is beyond the clip end ({facts.duration} s)")
        end = facts.duration  # within half a source frame: rounding in the caller's duration
    return sample_times(facts.duration, fps, start, end)


def decode_video(
    path: str | Path,
    fps: float = 5.0,
    *,
    size: tuple[int, int] | None = None,
    start: float | None = None,
    end: float | None = None,
    backend: str = "auto",
    num_threads: int = 0,
) -> DecodedClip:
    """Frames at `fps` on the k / fps grid within [start, end], each the latest frame presented <= t.

    backend: "auto" picks per file (decord where it provably returns the container's frames at
    the container's times, else PyAV); "pyav" always PyAV; "decord" always decord, failing on
    files where it would return wrong frames. size=(H, W) squash-resizes the displayed frame;
    num_threads=0 lets the decoder choose. Returns an empty clip (T=0) when no grid point falls
    inside the window.
    """
    size = check_size(size)  # argument errors first, before touching the file
    check_mode(backend)
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps: expected a positive number, got {fps!r}")
    facts = scan_container(path)  # PyAV guard: decord never sees files PyAV rejects
    choice = choose_backend(facts, backend)
    times = sample_window(facts, fps, start, end)  # (T,)
    if len(times) == 0:
        h, w = size or (facts.height, facts.width)
        empty = np.zeros((0, h, w, 3), dtype=np.uint8)
        return DecodedClip(empty, times, facts.fps, facts.path, times.copy(), choice.name, choice.reason)
    frames, frame_times, choice = run_backend(facts, times, size, num_threads, choice, backend)
    return DecodedClip(frames, times, facts.fps, facts.path, frame_times, choice.name, choice.reason)


def run_backend(
    facts: ContainerFacts,
    times: np.ndarray,
    size: tuple[int, int] | None,
    num_threads: int,
    choice: BackendChoice,
    mode: str,
) -> tuple[np.ndarray, np.ndarray, BackendChoice]:
    """Decode with the chosen backend; under "auto", a decord/container disagreement falls back to PyAV."""
    try:
        if choice.name == "decord":
            try:
                check = lambda ft: decord_disagreement(ft, facts)
                frames, frame_times = decode_decord(facts, times, size, num_threads, check)
            except DecordMismatch as e:
                if mode == "decord":
                    raise VideoDecodeError(f"{facts.path}: decode.backend is decord but {e}; use auto or pyav") from e
                choice = BackendChoice("pyav", str(e))
                frames, frame_times = decode_pyav(facts, times, size, num_threads)
        else:
            frames, frame_times = decode_pyav(facts, times, size, num_threads)
    except VideoDecodeError:
        raise
    except Exception as e:
        raise VideoDecodeError(
            f"{facts.path}: {choice.name} failed to decode ({short_error(e)}); corrupt or truncated video?"
        ) from e
    return frames, frame_times, choice
