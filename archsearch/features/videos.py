"""The per-video half of a feature group: one immutable directory per video, the source of truth.

``videos/<id>/`` holds ``features`` (T, D) float16 and ``times`` (T,) float64, one uncompressed
chunk each, and attrs {digest, T, written_at, checksums}. A video is staged completely under the
store's ``.tmp`` and renamed into place, so readers see the old or the new directory, never a mix,
and ``kill -9`` leaves only staging garbage. No shared index: writers touch only their own video's
directory, so any number of processes can write different videos at once.

Uncompressed because every features rerun reads every video back to verify it: on embedding-like
float16 (50 x 1280) zstd level 1 saved 8 % of the bytes but made reading a video 3x slower (0.39 vs
0.13 ms, page cache warm). Videos written with zstd by older versions stay readable.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import zarr

from archsearch.common import is_safe_name
from archsearch.features.fsio import publish_dir, read_json, read_whole, staging_name
from archsearch.features.integrity import array_checksums, check_video_arrays, checksums_attr, parse_checksums
from archsearch.features.records import CorruptFeaturesError, FeatureStoreError, VideoMeta

ATTEMPTS = 5  # re-reads of a video that is being replaced while we read it


def before_publish_hook(video_id: str) -> None:
    """Test seam: called after a video is fully staged, just before it is renamed into place."""


def meta_from_json(path: str, meta: dict) -> VideoMeta:
    """The VideoMeta in a video's parsed ``zarr.json``; ``CorruptFeaturesError`` naming ``path`` if malformed."""
    try:
        a = meta["attributes"]
        return VideoMeta(
            str(a["digest"]), int(a["T"]), str(a.get("written_at", "")), parse_checksums(a.get("checksums"), path)
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, CorruptFeaturesError):
            raise
        raise CorruptFeaturesError(f"{path}: not a feature video's metadata (missing or bad {exc})") from exc


class VideoArrays:
    """The ``videos/`` directory of one group: list, read (verified), write and remove videos."""

    def __init__(self, path: Path, tmp_root: Path, dim: int) -> None:
        self.path, self.tmp_root, self.dim = path, tmp_root, dim
        self.path_str = str(path)  # str paths: pathlib costs ~10 us per id on the hot path
        self.meta_cache: dict[str, tuple[tuple[int, int, int], VideoMeta]] = {}

    def ids(self) -> list[str]:
        """Visible video ids, sorted."""
        try:
            return sorted(e.name for e in os.scandir(self.path) if e.is_dir() and not e.name.startswith("."))
        except FileNotFoundError:
            return []

    def meta(self, video_id: str) -> VideoMeta | None:
        """Current metadata of a visible video, or None; ``CorruptFeaturesError`` if its zarr.json is unreadable.

        Cached by (inode, mtime_ns, size) of its ``zarr.json``: one ``stat`` per id instead
        of a JSON parse keeps ``read_split``'s freshness check at a few ms for a split. A
        rewrite publishes a new file (new inode while the old one still exists); a false
        hit would need two rewrites of the video within one filesystem timestamp tick plus
        inode reuse.
        """
        if not is_safe_name(video_id):
            return None
        p = f"{self.path_str}/{video_id}/zarr.json"
        for _ in range(ATTEMPTS):
            try:
                st = os.stat(p)
                sig = (st.st_ino, st.st_mtime_ns, st.st_size)
                hit = self.meta_cache.get(video_id)
                if hit is not None and hit[0] == sig:
                    return hit[1]
                meta = meta_from_json(p, read_json(p))
            except FileNotFoundError:
                if not os.path.exists(f"{self.path_str}/{video_id}"):
                    self.meta_cache.pop(video_id, None)
                    return None
                continue  # being replaced right now
            self.meta_cache[video_id] = (sig, meta)
            return meta
        return None

    def read(self, video_id: str) -> tuple[VideoMeta, np.ndarray, np.ndarray] | None:
        """One consistent, verified (meta, features (T, D), times (T,)); None if the video is not visible.

        The directory's inode is compared before and after: a concurrent rewrite renames a new
        directory in, so an unchanged inode means meta and data belong together. Bytes that
        differ from the recorded checksums raise ``CorruptFeaturesError`` naming the array.
        """
        got = self.read_unverified(video_id)
        if got is not None and got[0].checksums is not None:
            check_video_arrays(self.path / video_id, got[0].checksums, got[1], got[2])
        return got

    def read_unverified(self, video_id: str) -> tuple[VideoMeta, np.ndarray, np.ndarray] | None:
        """Like ``read`` without comparing checksums (for videos written before checksums existed)."""
        if not is_safe_name(video_id):
            return None
        vdir = self.path / video_id
        for _ in range(ATTEMPTS):
            ino = self.inode(video_id)
            if ino is None:
                return None
            try:
                meta = meta_from_json(str(vdir / "zarr.json"), read_json(vdir / "zarr.json"))
                feats = read_whole(vdir / "features")  # (T, D)
                t = read_whole(vdir / "times")  # (T,)
            except FileNotFoundError as exc:
                if self.inode(video_id) == ino:  # not being replaced: a file of it is gone
                    raise CorruptFeaturesError(f"{vdir}: incomplete video ({exc.filename} is missing)") from None
                continue
            if self.inode(video_id) != ino:
                continue
            if feats.shape != (meta.T, self.dim) or t.shape != (meta.T,):
                raise CorruptFeaturesError(
                    f"{vdir}: stored shapes features {feats.shape}, times {t.shape} "
                    f"disagree with T = {meta.T}, dim = {self.dim}"
                )
            return meta, feats, t
        raise FeatureStoreError(f"{vdir}: kept changing while being read ({ATTEMPTS} attempts)")

    def write(self, video_id: str, digest: str, features: np.ndarray, times: np.ndarray, written_at: str) -> VideoMeta:
        """Publish checked arrays ((T, D) float16, (T,) float64) atomically, with their checksums recorded."""
        meta = VideoMeta(digest, int(features.shape[0]), written_at, array_checksums(features, times))
        stage = self.tmp_root / staging_name()
        try:
            attrs = {
                "digest": digest,
                "T": meta.T,
                "written_at": written_at,
                "checksums": checksums_attr(meta.checksums),
            }
            g = zarr.create_group(str(stage), attributes=attrs)
            cfg = {"write_empty_chunks": True}
            g.create_array("features", data=features, chunks=features.shape, compressors=None, config=cfg)
            g.create_array("times", data=times, chunks=times.shape, compressors=None, config=cfg)
            before_publish_hook(video_id)
            self.path.mkdir(exist_ok=True)
            publish_dir(stage, self.path / video_id, self.tmp_root)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        return meta

    def remove_if_unchanged(self, video_id: str, inode: int | None) -> bool:
        """Remove a (corrupt) video unless it was replaced since ``inode`` was read; True if removed.

        The directory is renamed aside first, so readers see it or nothing; if the one moved
        aside turns out to be a newer copy (a writer raced us), it is put back.
        """
        vdir = self.path / video_id
        aside = self.tmp_root / (staging_name() + "-corrupt")
        try:
            if inode is not None and os.stat(vdir).st_ino != inode:
                return False
            os.rename(vdir, aside)
        except FileNotFoundError:
            return False
        if inode is not None and os.stat(aside).st_ino != inode:
            publish_dir(aside, vdir, self.tmp_root)
            return False
        self.meta_cache.pop(video_id, None)
        shutil.rmtree(aside, ignore_errors=True)
        return True

    def inode(self, video_id: str) -> int | None:
        try:
            return os.stat(self.path / video_id).st_ino
        except FileNotFoundError:
            return None
