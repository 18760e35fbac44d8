"""What the container says about a video's frames: opened and demuxed with PyAV, nothing decoded.

Frame times come from the container (edit lists applied by the demuxer, B-frames reordered by
presentation time, any time base or frame rate), so a sample at t can be mapped to the frame
that was on screen at t. The same pass records what decides whether decord's fast path can be
trusted for this file (trimmed packets, display rotation, missing timestamps) and, with
``check_tail``, whether frames are really missing. Every file problem surfaces here as a
VideoDecodeError naming the path, before any decoder runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.data.decode.errors import VideoDecodeError, short_error


@dataclass(frozen=True)
class ContainerFacts:
    """One video stream as the container describes it; times in s from the first presented frame."""

    path: Path
    format: str  # container format, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    codec: str  # video codec, e.g. "h264", "mpeg4"
    coded_width: int  # stored frame size (before the display rotation)
    coded_height: int
    rotation: int  # degrees counter-clockwise a player turns each frame: 0, 90, 180 or 270
    time_base: Fraction
    origin_pts: int  # pts (in time_base) of the first presented frame: time 0
    frame_times: np.ndarray  # (N,) float64 s, presentation times of the frames a decoder outputs
    duration: float  # s, from time 0 to the end of the last frame
    stated_duration: float | None  # s, what the header claims for the stream (edit lists applied)
    discarded: int  # packets the demuxer marks as discard (an edit list trims them away)
    discarded_lead: float  # s by which trimmed packets precede time 0 (0 when none)
    missing_pts: int  # packets without any timestamp

    @property
    def n_frames(self) -> int:
        return len(self.frame_times)

    @property
    def fps(self) -> float:
        """Mean frame rate over the clip (exact for constant-rate files, the mean for variable ones)."""
        return self.n_frames / self.duration if self.duration > 0 else 0.0

    @property
    def width(self) -> int:
        """Displayed width (after the rotation)."""
        return self.coded_height if self.rotation in (90, 270) else self.coded_width

    @property
    def height(self) -> int:
        return self.coded_width if self.rotation in (90, 270) else self.coded_height

    @property
    def variable_rate(self) -> bool:
        """True when frame periods differ by more than 1 % of the mean (variable frame rate)."""
        gaps = np.diff(self.frame_times)
        return bool(gaps.size > 1 and (gaps.max() - gaps.min()) > 0.01 * gaps.mean())


def check_file(path: str | Path) -> Path:
    """``path`` as a Path that exists, is a regular file and is not empty; else VideoDecodeError."""
    p = Path(path)
    try:
        if not p.exists():
            raise VideoDecodeError(f"{p}: file not found")
        if not p.is_file():
            raise VideoDecodeError(f"{p}: not a regular file, expected a video file")
        if p.stat().st_size == 0:
            raise VideoDecodeError(f"{p}: empty file (0 bytes), expected a video")
    except OSError as e:
        raise VideoDecodeError(f"{p}: cannot read ({short_error(e)})") from e
    return p


def open_container(p: Path) -> Any:
    """Open ``p`` with PyAV for reading; any failure becomes a VideoDecodeError naming the path."""
    import av

    try:
        # metadata_errors="ignore": corrupt metadata otherwise raises UnicodeDecodeError
        return av.open(str(p), mode="r", metadata_errors="ignore")
    except Exception as e:  # PyAV raises FFmpegError but also IndexError etc. on garbage
        raise VideoDecodeError(
            f"{p}: cannot open as a video container ({short_error(e)}); the file is corrupt, truncated or not a video"
        ) from e


def video_stream(container: Any, p: Path) -> Any:
    """The first video stream, or a VideoDecodeError listing what streams the file holds."""
    streams = list(container.streams.video)
    if not streams:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        raise VideoDecodeError(f"{p}: no video stream (streams found: {', '.join(kinds)})")
    s = streams[0]
    if int(s.codec_context.width or 0) <= 0 or int(s.codec_context.height or 0) <= 0:
        raise VideoDecodeError(f"{p}: video stream has no frame size (corrupt header?)")
    return s


def stated_duration(container: Any, s: Any) -> float | None:
    """The stream's duration as the header states it (s), or None when it states none."""
    if s.duration and s.time_base:
        return float(s.duration * s.time_base)
    if container.duration:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None


@dataclass
class PacketScan:
    """Raw timestamps from one demux pass (pts in time_base units)."""

    pts: list[int]  # presented packets
    ends: list[int]  # pts + duration of presented packets (duration 0 when unknown)
    discarded_pts: list[int]
    missing: int
    tail: list[Any]  # packets since the last keyframe (for the tail check)
    before_tail: list[Any]  # the GOP before it: references of an open last GOP
    rotation: int | None


def demux(container: Any, s: Any, p: Path) -> PacketScan:
    """Read every packet of stream ``s``; decode only until the first frame (for its rotation)."""
    scan = PacketScan([], [], [], 0, [], [], None)
    try:
        for pkt in container.demux(s):
            if pkt.size == 0:  # end-of-stream flush packet
                continue
            if pkt.is_keyframe:
                scan.before_tail, scan.tail = scan.tail, [pkt]
            else:
                scan.tail.append(pkt)
            ts = pkt.pts if pkt.pts is not None else pkt.dts
            if ts is None:
                scan.missing += 1
            elif pkt.is_discard:
                scan.discarded_pts.append(int(ts))
            else:
                scan.pts.append(int(ts))
                scan.ends.append(int(ts) + int(pkt.duration or 0))
            if scan.rotation is None and not pkt.is_discard:
                frames = s.codec_context.decode(pkt)
                if frames:
                    scan.rotation = int(round(getattr(frames[0], "rotation", 0) or 0)) % 360  # absent in old PyAV: 0
                    s.codec_context.flush_buffers()
    except VideoDecodeError:
        raise
    except Exception as e:
        n = len(scan.pts) + len(scan.discarded_pts) + scan.missing
        raise VideoDecodeError(
            f"{p}: truncated or corrupt: reading packets failed after {n} packets ({short_error(e)})"
        ) from e
    return scan


def facts_from_scan(p: Path, container: Any, s: Any, scan: PacketScan) -> ContainerFacts:
    """Turn raw packet timestamps into frame times relative to the first presented frame."""
    if not scan.pts:
        raise VideoDecodeError(f"{p}: video stream holds no frames (truncated or empty?)")
    tb = Fraction(s.time_base)
    order = np.argsort(np.asarray(scan.pts, dtype=np.int64), kind="stable")
    pts = np.asarray(scan.pts, dtype=np.int64)[order]  # (N,) presentation order
    origin = int(pts[0])
    times = (pts - origin).astype(np.float64) * float(tb)  # (N,)
    period = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    last_end = max(scan.ends)
    end = (last_end - origin) * float(tb) if last_end > pts[-1] else float(times[-1]) + period
    if not (math.isfinite(end) and end > 0):
        end = float(times[-1]) + (period or 1.0 / float(s.average_rate or 25))
    lead = [origin - d for d in scan.discarded_pts if d < origin]
    return ContainerFacts(
        path=p,
        format=str(container.format.name),
        codec=str(s.codec_context.name),
        coded_width=int(s.codec_context.width),
        coded_height=int(s.codec_context.height),
        rotation=int(scan.rotation or 0),
        time_base=tb,
        origin_pts=origin,
        frame_times=times,
        duration=float(end),
        stated_duration=stated_duration(container, s),
        discarded=len(scan.discarded_pts),
        discarded_lead=float(max(lead) * tb) if lead else 0.0,
        missing_pts=scan.missing,
    )


def check_complete(facts: ContainerFacts, s: Any, scan: PacketScan) -> None:
    """Raise when frames are really missing: the data stops early or the last GOP does not decode.

    The GOP before the last one is decoded too (its frames are not counted): in an open GOP the
    last keyframe's leading B-frames reference it.
    """
    p, period = facts.path, facts.duration / max(facts.n_frames, 1)
    stated = facts.stated_duration
    if stated is not None and facts.duration < stated - 1.5 * period:
        raise VideoDecodeError(
            f"{p}: truncated: frames stop at {facts.duration:.3f} s but the container states {stated:.3f} s"
        )
    wanted = {pkt.pts for pkt in scan.tail if not pkt.is_discard and pkt.pts is not None}
    expected = sum(1 for pkt in scan.tail if not pkt.is_discard)
    s.codec_context.flush_buffers()
    try:  # single-threaded decode: frame threading drops broken frames without an error
        frames = [f for pkt in scan.before_tail + scan.tail for f in s.codec_context.decode(pkt)]
        frames += s.codec_context.decode(None)  # flush delayed (B-)frames
    except Exception as e:
        raise VideoDecodeError(
            f"{p}: truncated or corrupt: decoding the last {len(scan.tail)} packets failed ({short_error(e)})"
        ) from e
    decoded = sum(1 for f in frames if f.pts in wanted) if wanted else len(frames)
    if decoded < expected:
        raise VideoDecodeError(f"{p}: truncated or corrupt: the last {expected} frames decode to only {decoded}")


def scan_container(path: str | Path, *, check_tail: bool = False) -> ContainerFacts:
    """Demux every packet of the first video stream and return its ContainerFacts.

    Reads the whole file once without decoding it (plus the first frame, for the rotation);
    ``check_tail=True`` also decodes the last GOP and checks the frames reach the stated
    duration, so truncated downloads fail here instead of mid-training.
    """
    p = check_file(path)
    container = open_container(p)
    try:
        s = video_stream(container, p)
        s.thread_type = "SLICE"
        scan = demux(container, s, p)
        facts = facts_from_scan(p, container, s, scan)
        if check_tail:
            check_complete(facts, s, scan)
        return facts
    except VideoDecodeError:
        raise
    except Exception as e:
        raise VideoDecodeError(f"{p}: corrupt or truncated video ({short_error(e)})") from e
    finally:
        container.close()
