"""The PyAV decode path: streams the packets, keeps the frame on screen at each sample time.

PyAV follows the container: edit lists (the demuxer drops trimmed frames), B-frame reordering,
any time base and variable frame rates, and the display rotation, which is applied here. It
has no random access by frame index, so it streams the packets (seeking first when the window
starts late), keeps for each sample time the latest frame presented at or before it, and
batches the torch resize.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from archsearch.data.decode.container import ContainerFacts, open_container
from archsearch.data.decode.errors import VideoDecodeError
from archsearch.data.decode.resize import RESIZE_CHUNK, resize_frames, rotate_frame
from archsearch.data.decode.times import TIME_EPS


def decode_pyav(
    facts: ContainerFacts, times: np.ndarray, size: tuple[int, int] | None, num_threads: int
) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W, 3) at sample ``times`` and the presentation time (s) of each one used."""
    seek = times[0] > 0.5  # seeking only pays off past the first GOP or so
    out = pyav_pass(facts, times, size, num_threads, seek=seek)
    if out is None:  # the seek landed after the first wanted frame: decode from the start
        out = pyav_pass(facts, times, size, num_threads, seek=False)
    if out is None:
        raise VideoDecodeError(f"{facts.path}: decoder produced no frame at or before {times[0]} s")
    return out


@dataclass
class FrameKeeper:
    """Collects the unique frames used, converting each once and resizing them in batches."""

    size: tuple[int, int] | None
    rotation: int
    ids: list[int] = field(default_factory=list)  # (T,) index of each sample's frame among the kept ones
    used_times: list[float] = field(default_factory=list)  # (T,) presentation time of each sample's frame
    pending: list[np.ndarray] = field(default_factory=list)  # native-size frames awaiting one resize
    done: list[np.ndarray] = field(default_factory=list)  # converted (and resized) chunks
    current_id: int = -1

    def new_frame(self) -> None:
        self.current_id = -1

    def emit(self, frame, frame_time: float) -> None:
        if self.current_id < 0:  # first use of this frame: convert once, resize in batches
            self.pending.append(rotate_frame(frame.to_ndarray(format="rgb24"), self.rotation))  # (H, W, 3)
            self.current_id = sum(len(c) for c in self.done) + len(self.pending) - 1
            if len(self.pending) == RESIZE_CHUNK:
                self.flush()
        self.ids.append(self.current_id)
        self.used_times.append(frame_time)

    def flush(self) -> None:
        if self.pending:
            chunk = np.stack(self.pending)  # (u, H, W, 3)
            self.pending.clear()
            self.done.append(resize_frames(chunk, self.size) if self.size else chunk)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        self.flush()
        frames = np.concatenate(self.done)  # (U, h, w, 3)
        if len(frames) != len(self.ids):
            frames = frames[np.asarray(self.ids)]  # (T, h, w, 3)
        return frames, np.asarray(self.used_times, dtype=np.float64)


def pyav_pass(
    facts: ContainerFacts, times: np.ndarray, size: tuple[int, int] | None, num_threads: int, *, seek: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    """One streaming pass; None when a seek landed after the first wanted time (retry from the start)."""
    container = open_container(facts.path)
    try:
        s = container.streams.video[0]
        # slice threads only: ffmpeg's frame threading silently drops undecodable frames
        # (a truncated tail then "decodes" fine), while slice threading raises on them
        s.thread_type = "SLICE"
        s.codec_context.thread_count = num_threads
        tb, origin = float(facts.time_base), facts.origin_pts
        if seek:
            container.seek(int(origin + times[0] / facts.time_base), stream=s, backward=True, any_frame=False)
        keep = FrameKeeper(size, facts.rotation)
        prev, prev_t = None, -math.inf
        for frame in container.decode(s):
            if frame.pts is not None:
                ft = (frame.pts - origin) * tb
            else:  # no timestamp: assume the mean rate after the previous frame
                ft = prev_t + 1 / facts.fps if prev is not None else 0.0
            while len(keep.ids) < len(times) and ft > times[len(keep.ids)] + TIME_EPS:
                if prev is None:
                    if seek:
                        return None
                    prev, prev_t = frame, ft  # time before the first frame: use the first frame
                keep.emit(prev, prev_t)
            if len(keep.ids) == len(times):
                break
            if prev is not frame:
                prev, prev_t = frame, ft
                keep.new_frame()
        else:  # end of stream: remaining times use the last frame, unless frames are missing
            if prev is None:
                raise VideoDecodeError(f"{facts.path}: no decodable frames (corrupt video?)")
            if len(keep.ids) < len(times) and prev_t < facts.duration - 2.0 / facts.fps:
                raise VideoDecodeError(
                    f"{facts.path}: truncated: frames stop at {prev_t:.3f} s but the "
                    f"container holds frames up to {facts.duration:.3f} s"
                )
            while len(keep.ids) < len(times):
                keep.emit(prev, prev_t)
        return keep.result()
    finally:
        container.close()
