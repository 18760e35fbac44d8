"""Checking a feature group before anything reuses it: per-video verdicts and the current pack's problems.

``FeatureGroup.verify`` turns these into a report; ``FeatureGroup.status`` (what a features rerun
asks first) turns them into repairs: a video that fails is removed so it counts as missing and is
recomputed, a pack that fails is unset so the run repacks, and a video written before checksums
existed has them recorded once it reads back finite and in time order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from archsearch.features.integrity import array_checksums
from archsearch.features.pack_index import Pack, check_pack
from archsearch.features.packs import Packs
from archsearch.features.records import CorruptFeaturesError, VideoMeta
from archsearch.features.videos import VideoArrays

State = Literal["ok", "unverified", "missing", "stale", "corrupt", "nonfinite", "malformed"]
BROKEN = ("corrupt", "nonfinite", "malformed")  # states whose bytes must never be used


@dataclass(frozen=True)
class VideoVerdict:
    """What one video's check found; ``arrays`` only for an unverified (pre-checksum) video, to adopt it."""

    state: State
    reason: str = ""
    meta: VideoMeta | None = None
    inode: int | None = None
    arrays: tuple[np.ndarray, np.ndarray] | None = None


def check_video(videos: VideoArrays, video_id: str, digest: str | None) -> VideoVerdict:
    """Read one video back and judge it; ``digest`` (the manifest's) makes a different one stale.

    Unreadable or checksum-failing bytes are "corrupt" (the reason names the file). OS errors
    (permissions, I/O) propagate: they say nothing about the bytes, so nothing is removed for them.
    """
    inode = videos.inode(video_id)
    try:
        got = videos.read(video_id)
    except CorruptFeaturesError as exc:
        return VideoVerdict("corrupt", str(exc), inode=inode)
    if got is None:
        return VideoVerdict("missing")
    meta, feats, t = got  # (T, D), (T,)
    if digest is not None and meta.digest != digest:
        return VideoVerdict("stale", meta=meta, inode=inode)
    if meta.checksums is not None:
        return VideoVerdict("ok", meta=meta, inode=inode)
    if not (np.isfinite(feats).all() and np.isfinite(t).all()):
        return VideoVerdict("nonfinite", f"{videos.path / video_id}: NaN/inf in features or times", meta, inode)
    if t.shape[0] > 1 and not (np.diff(t) > 0).all():
        return VideoVerdict("malformed", f"{videos.path / video_id}: times not strictly increasing", meta, inode)
    return VideoVerdict("unverified", meta=meta, inode=inode, arrays=(feats, t))


def current_pack(packs: Packs) -> tuple[Pack | None, list[str]]:
    """(current pack, problems loading it); an unreadable pointer or index is a problem naming its file."""
    try:
        return packs.current(), []
    except CorruptFeaturesError as exc:
        return None, [str(exc)]
    except FileNotFoundError as exc:
        return None, [f"{exc.filename}: the pack the pointer names is missing"]


def pack_problems(pack: Pack, verdicts: dict[str, VideoVerdict]) -> tuple[list[str], list[str]]:
    """(problems with the pack's files, ids whose packed rows are not the video's current arrays).

    A video counts as mismatched when the pack holds it at its current digest but with other
    checksums (its arrays were rewritten since the pack was built).
    """
    files = check_pack(pack)
    if files:
        return files, []
    mismatch = []
    for vid, v in verdicts.items():
        p = pack.pos.get(vid, -1)
        if p < 0 or v.meta is None or v.state not in ("ok", "unverified") or pack.info.digests[p] != v.meta.digest:
            continue
        sums = v.meta.checksums or array_checksums(*v.arrays)
        if tuple(pack.info.checksums[p]) != tuple(sums):
            mismatch.append(vid)
    return [], mismatch
