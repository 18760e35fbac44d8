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
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

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
_TIME_EPS = 1e-6  # s; float slack between k / fps and pts * time_base, far below a frame period
_RESIZE_CHUNK = 32  # frames per torch resize call: amortises call overhead, bounds memory


class VideoDecodeError(ValueError):
    """A video file could not be read; the message names the path and what was wrong."""


@dataclass(frozen=True)
class VideoInfo:
    """Container facts about one video (n_frames is counted, not claimed, when full=True)."""

    path: Path
    n_frames: int
    fps: float
    duration: float  # s
    width: int
    height: int


@dataclass(frozen=True)
class DecodedClip:
    """Frames sampled at a fixed rate; timestamps[i] is the causal sample time of frames[i]."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    timestamps: np.ndarray  # (T,) float64 s
    source_fps: float
    path: Path

    def __len__(self) -> int:
        return int(self.frames.shape[0])


# ----------------------------------------------------------------------------- sampling grid


def sample_times(
    duration: float, fps: float, start: float = 0.0, end: float | None = None
) -> np.ndarray:
    """Grid times t = k / fps with start <= t <= end (end defaults to duration), float64 s.

    The grid is anchored at 0, not at start, so windows line up with whole-clip sampling.
    """
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps: expected a positive number, got {fps!r}")
    if not (math.isfinite(duration) and duration >= 0):
        raise ValueError(f"duration: expected a non-negative number of seconds, got {duration!r}")
    end = duration if end is None else end
    if not (math.isfinite(start) and 0 <= start):
        raise ValueError(f"start: expected a time >= 0 s, got {start!r}")
    if not (math.isfinite(end) and start <= end <= duration + _TIME_EPS):
        raise ValueError(
            f"end: expected a time within [start={start}, duration={duration}] s, got {end!r}"
        )
    k0 = math.ceil(start * fps - 1e-9)  # slack: 0.6 * 5 == 3.0000000000000004
    k1 = math.floor(end * fps + 1e-9)
    return np.arange(k0, k1 + 1, dtype=np.float64) / fps  # (T,)


def _causal_indices(frame_times: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Index of the latest frame with presentation time <= t, for each t (before frame 0 -> 0)."""
    idx = np.searchsorted(frame_times, times + _TIME_EPS, side="right") - 1  # (T,)
    return np.clip(idx, 0, len(frame_times) - 1).astype(np.int64)


# ----------------------------------------------------------------------------- probing


def _short(err: BaseException) -> str:
    """One readable line from a (possibly multi-line, log-prefixed) native error."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    text = lines[-1] if lines else type(err).__name__
    text = re.sub(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ", "", text)  # decord's "[time] file.cc:N: "
    return f"{type(err).__name__}: {text[:200]}"


def _check_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise VideoDecodeError(f"{p}: file not found")
    if not p.is_file():
        raise VideoDecodeError(f"{p}: not a regular file, expected a video file")
    if p.stat().st_size == 0:
        raise VideoDecodeError(f"{p}: empty file (0 bytes), expected a video")
    return p


def _open_av(p: Path) -> Any:
    import av

    try:
        # metadata_errors="ignore": corrupt metadata otherwise raises UnicodeDecodeError
        return av.open(str(p), mode="r", metadata_errors="ignore")
    except Exception as e:  # PyAV raises FFmpegError but also IndexError etc. on garbage
        raise VideoDecodeError(
            f"{p}: cannot open as a video container ({_short(e)}); "
            "the file is corrupt, truncated or not a video"
        ) from e


def _video_stream(container: Any, p: Path) -> Any:
    streams = list(container.streams.video)
    if not streams:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        raise VideoDecodeError(f"{p}: no video stream (streams found: {', '.join(kinds)})")
    return streams[0]


def _header_info(p: Path, container: Any, s: Any) -> VideoInfo:
    cc = s.codec_context
    width, height = int(cc.width or 0), int(cc.height or 0)
    if width <= 0 or height <= 0:
        raise VideoDecodeError(f"{p}: video stream has no frame size (corrupt header?)")
    rate = s.average_rate or s.guessed_rate or s.base_rate
    fps = float(rate) if rate else 0.0
    if not (math.isfinite(fps) and fps > 0):
        raise VideoDecodeError(f"{p}: video stream has no usable frame rate (got {rate!r})")
    if s.duration and s.time_base:
        duration = float(s.duration * s.time_base)
    elif container.duration:
        duration = container.duration / 1_000_000  # AV_TIME_BASE
    elif s.frames:
        duration = s.frames / fps
    else:
        raise VideoDecodeError(f"{p}: container states neither a duration nor a frame count")
    n_frames = int(s.frames) if s.frames else int(round(duration * fps))
    if n_frames <= 0 or duration <= 0:
        raise VideoDecodeError(f"{p}: video stream is empty ({n_frames} frames, {duration} s)")
    return VideoInfo(p, n_frames, fps, duration, width, height)


def _check_complete(p: Path, container: Any, s: Any, info: VideoInfo) -> VideoInfo:
    """Count every packet and decode the last GOP: catches truncation and a broken tail."""
    n_packets, tail = 0, []
    try:
        for pkt in container.demux(s):
            if pkt.size == 0:  # end-of-stream flush packet
                continue
            n_packets += 1
            tail = [pkt] if pkt.is_keyframe else tail + [pkt]
    except Exception as e:
        raise VideoDecodeError(
            f"{p}: truncated or corrupt: reading packets failed after {n_packets} "
            f"of {s.frames or '?'} frames ({_short(e)})"
        ) from e
    if n_packets == 0:
        raise VideoDecodeError(f"{p}: video stream holds no packets (truncated?)")
    if s.frames and n_packets < s.frames:
        raise VideoDecodeError(
            f"{p}: truncated: container claims {s.frames} frames but only {n_packets} are present"
        )
    try:  # single-threaded decode: frame threading drops broken frames without an error
        decoded = sum(len(s.codec_context.decode(pkt)) for pkt in tail)
        decoded += len(s.codec_context.decode(None))  # flush delayed (B-)frames
    except Exception as e:
        raise VideoDecodeError(
            f"{p}: truncated or corrupt: decoding the last {len(tail)} frames failed ({_short(e)})"
        ) from e
    if decoded < len(tail):
        raise VideoDecodeError(
            f"{p}: truncated or corrupt: the last {len(tail)} frames decode to only {decoded}"
        )
    return replace(info, n_frames=n_packets)


def probe_video(path: str | Path, *, full: bool = False) -> VideoInfo:
    """Read container facts with PyAV; full=True also counts packets and decodes the tail.

    full=False reads headers only (milliseconds, fine for manifests); full=True reads the
    whole file once (demux only) plus decodes the last GOP, so truncated downloads fail here
    instead of mid-training.
    """
    p = _check_file(path)
    container = _open_av(p)
    try:
        s = _video_stream(container, p)
        info = _header_info(p, container, s)
        return _check_complete(p, container, s, info) if full else info
    except VideoDecodeError:
        raise
    except Exception as e:
        raise VideoDecodeError(f"{p}: corrupt or truncated video ({_short(e)})") from e
    finally:
        container.close()


# ----------------------------------------------------------------------------- resizing


def _check_size(size: tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    try:
        h, w = (int(v) for v in size)
        ok = (h, w) == tuple(size) and h >= 1 and w >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"size: expected (height, width) positive integers, got {size!r}")
    return h, w


def resize_frames(
    frames: np.ndarray, size: tuple[int, int], *, chunk: int = _RESIZE_CHUNK
) -> np.ndarray:
    """Squash-resize (T, H, W, 3) uint8 frames to size=(h, w): bilinear, antialiased, torch."""
    import torch
    import torch.nn.functional as F

    h, w = size
    if frames.shape[1:3] == (h, w):
        return frames
    out = np.empty((frames.shape[0], h, w, 3), dtype=np.uint8)  # (T, h, w, 3)
    for i in range(0, frames.shape[0], chunk):
        x = torch.from_numpy(np.ascontiguousarray(frames[i : i + chunk]))
        x = x.permute(0, 3, 1, 2).float()  # (t, 3, H, W)
        y = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
        y = y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)  # (t, h, w, 3)
        out[i : i + chunk] = y.numpy()
    return out


# ----------------------------------------------------------------------------- backends


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
