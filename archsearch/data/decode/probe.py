"""VideoInfo: the facts about one video a manifest stores, from its header or from every packet.

``probe_video(path)`` reads headers only (milliseconds); ``probe_video(path, full=True)`` demuxes
every packet and decodes the last GOP, so the frame count is the number of frames a decoder
really outputs (edit-list trimmed packets excluded) and a clip is called truncated only when
frames are really missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from archsearch.data.decode.container import (
    ContainerFacts,
    check_file,
    open_container,
    scan_container,
    stated_duration,
    video_stream,
)
from archsearch.data.decode.errors import VideoDecodeError, short_error


@dataclass(frozen=True)
class VideoInfo:
    """Facts about one video; with full=True every number is counted from the packets, not claimed."""

    path: Path
    n_frames: int
    fps: float
    duration: float  # s
    width: int  # as displayed (after rotation)
    height: int
    codec: str = ""
    rotation: int = 0  # degrees counter-clockwise
    facts: ContainerFacts | None = None  # present when probed with full=True


def header_info(p: Path) -> VideoInfo:
    """Container header facts (stated, not counted): frame count, rate, duration, size, codec."""
    container = open_container(p)
    try:
        s = video_stream(container, p)
        rate = s.average_rate or s.guessed_rate or s.base_rate
        fps = float(rate) if rate else 0.0
        if not (math.isfinite(fps) and fps > 0):
            raise VideoDecodeError(f"{p}: video stream has no usable frame rate (got {rate!r})")
        duration = stated_duration(container, s)
        if duration is None and s.frames:
            duration = s.frames / fps
        if duration is None:
            raise VideoDecodeError(f"{p}: container states neither a duration nor a frame count")
        n_frames = int(s.frames) if s.frames else int(round(duration * fps))
        if n_frames <= 0 or duration <= 0:
            raise VideoDecodeError(f"{p}: video stream is empty ({n_frames} frames, {duration} s)")
        cc = s.codec_context
        return VideoInfo(p, n_frames, fps, duration, int(cc.width), int(cc.height), str(cc.name))
    except VideoDecodeError:
        raise
    except Exception as e:
        raise VideoDecodeError(f"{p}: corrupt or truncated video ({short_error(e)})") from e
    finally:
        container.close()


def info_from_facts(facts: ContainerFacts) -> VideoInfo:
    """VideoInfo counted from the packets of a full scan."""
    return VideoInfo(
        facts.path,
        facts.n_frames,
        facts.fps,
        facts.duration,
        facts.width,
        facts.height,
        facts.codec,
        facts.rotation,
        facts,
    )


def probe_video(path: str | Path, *, full: bool = False) -> VideoInfo:
    """Read a video's facts with PyAV; full=True counts every frame and checks the tail decodes.

    full=False reads headers only (fine for a quick look); full=True reads the whole file once
    (demux only) plus decodes the last GOP, so truncated downloads fail here instead of
    mid-training, while edit-list trimmed clips are counted as the frames they present.
    """
    if full:
        return info_from_facts(scan_container(path, check_tail=True))
    return header_info(check_file(path))
