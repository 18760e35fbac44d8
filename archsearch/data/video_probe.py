"""Open and check a video file with PyAV: container facts (VideoInfo) and every file error.

Why a module of its own: every file problem (missing, empty, not a video, no video stream,
corrupt, truncated) must surface as one VideoDecodeError naming the path, before any decoder
runs. decord prints native log lines on bad input and misreads some non-videos, so it only
ever sees files this module accepted. Manifests use probe_video directly (headers only).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


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
