"""The PyAV decode path (fallback where decord has no wheel, e.g. macOS/arm): stream, keep, resize in torch.

Why a module of its own: PyAV has no random access by frame index, so this path streams
the packets (seeking first when the window starts late), keeps for each sample time the
latest frame presented at or before it, and batches the torch resize. It also detects
truncation that only shows up while decoding (frames stop before the stated duration).
"""

from __future__ import annotations

import math

import numpy as np

from archsearch.data.frame_resize import _RESIZE_CHUNK, resize_frames
from archsearch.data.frame_times import _TIME_EPS
from archsearch.data.video_probe import VideoDecodeError, VideoInfo, _open_av


def _decode_pyav(
    info: VideoInfo, times: np.ndarray, size: tuple[int, int] | None, num_threads: int
) -> np.ndarray:
    """Stream-decode and keep, for each time, the latest frame presented at or before it."""
    seek = times[0] > 0.5  # seeking only pays off past the first GOP or so
    out = _pyav_pass(info, times, size, num_threads, seek=seek)
    if out is None:  # the seek landed after the first wanted frame: decode from the start
        out = _pyav_pass(info, times, size, num_threads, seek=False)
    if out is None:
        raise VideoDecodeError(f"{info.path}: decoder produced no frame at or before {times[0]} s")
    return out


def _pyav_pass(
    info: VideoInfo,
    times: np.ndarray,
    size: tuple[int, int] | None,
    num_threads: int,
    *,
    seek: bool,
) -> np.ndarray | None:
    container = _open_av(info.path)
    try:
        s = container.streams.video[0]
        # slice threads only: ffmpeg's frame threading silently drops undecodable frames
        # (a truncated tail then "decodes" fine), while slice threading raises on them
        s.thread_type = "SLICE"
        s.codec_context.thread_count = num_threads
        tb = s.time_base
        ref = s.start_time  # pts of the stream start; decord's timestamps use the same origin
        if seek and ref is not None:
            container.seek(int(ref + times[0] / tb), stream=s, backward=True, any_frame=False)
        ids: list[int] = []  # (T,) index of each time's frame among the unique frames kept
        pending: list[np.ndarray] = []  # native-size frames awaiting one batched resize
        done: list[np.ndarray] = []  # converted (and resized) chunks, (u, h, w, 3) each
        prev, prev_id, prev_t = None, -1, -math.inf

        def flush() -> None:
            if pending:
                chunk = np.stack(pending)  # (u, H, W, 3)
                pending.clear()
                done.append(resize_frames(chunk, size) if size else chunk)

        def emit() -> None:
            nonlocal prev_id
            if prev_id < 0:  # first use of this frame: convert once, resize in batches
                pending.append(prev.to_ndarray(format="rgb24"))  # (H, W, 3)
                prev_id = sum(len(c) for c in done) + len(pending) - 1
                if len(pending) == _RESIZE_CHUNK:
                    flush()
            ids.append(prev_id)

        for frame in container.decode(s):
            if ref is None:
                ref = frame.pts
            if frame.pts is not None:
                ft = float((frame.pts - ref) * tb)
            else:  # no timestamp: assume constant rate after the previous frame
                ft = prev_t + 1 / info.fps if prev is not None else 0.0
            while len(ids) < len(times) and ft > times[len(ids)] + _TIME_EPS:
                if prev is None:
                    if seek:
                        return None
                    prev = frame  # time before the first frame: use the first frame
                emit()
            if len(ids) == len(times):
                break
            if prev is not frame:
                prev, prev_id = frame, -1
            prev_t = ft
        else:  # end of stream: remaining times use the last frame, unless frames are missing
            if prev is None:
                raise VideoDecodeError(f"{info.path}: no decodable frames (corrupt video?)")
            if len(ids) < len(times) and prev_t < info.duration - 2.0 / info.fps:
                raise VideoDecodeError(
                    f"{info.path}: truncated: frames stop at {prev_t:.3f} s but the "
                    f"container claims {info.duration:.3f} s"
                )
            while len(ids) < len(times):
                emit()
        flush()
        frames = np.concatenate(done)  # (U, h, w, 3)
        return frames if len(frames) == len(ids) else frames[np.asarray(ids)]  # (T, h, w, 3)
    finally:
        container.close()
