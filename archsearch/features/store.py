"""Content-addressed, resumable Zarr v3 cache of per-video feature sequences.

Why this shape
--------------
A frozen backbone turns each video into a time-indexed embedding sequence ``(T_i, D)``
float16 plus timestamps ``(T_i,)`` float64 seconds (a timestamp t uses only frames at
time <= t). One cache serves every window length and horizon, so whole sequences are
stored and slicing happens downstream. A cache is addressed by ``(dataset, key)`` where
``key = feature_key(backbone, weights_digest, sampling)``; each video additionally records
the digest of the video file it was computed from, so a changed video is recomputed and
nothing else is.

On-disk layout (every ``<root>/<dataset>/<key>`` is a clean Zarr v3 hierarchy)::

    <root>/<dataset>/<key>/zarr.json          group attrs: backbone, key, weights digest,
                                              sampling, feature_rate, dim, versions, ...
    <root>/<dataset>/<key>/videos/<id>/       one group per video, attrs {digest, T, written_at}
        features  (T, D) float16, one chunk, zstd level 1
        times     (T,)   float64, one chunk
    <root>/<dataset>/<key>/packs/zarr.json    attrs {current, previous}: the pack pointer
    <root>/<dataset>/<key>/packs/<pack_id>/   attrs {ids, digests, offsets}
        data      (N_total, D) float16, chunks of ~4 MiB rows, uncompressed
        times     (N_total,)   float64
    <root>/.tmp/<host>-<pid>-<uuid>/          staging (outside the hierarchies)
    <root>/.locks/<dataset>.<key>.lock        flock, held only by pack()

Decisions
---------
* Visibility is a directory rename. A video (or a group, or a pack) is written completely
  under ``<root>/.tmp`` and then ``os.rename``-d into place, which is atomic on POSIX, so a
  reader never sees a partial video and ``kill -9`` leaves only staging garbage. Staging
  dirs are named ``<host>-<pid>-<uuid>`` and swept when the store is opened if their
  process is dead (same host) or they are older than a day, so live writers elsewhere are
  never disturbed. Replacing a stale digest moves the old directory aside first (a rename
  cannot replace a non-empty directory), then renames the new one in, then deletes the old.
* No shared mutable index: writers touch only their own video directory, so any number of
  processes can write different videos of one group at once. ``status`` lists
  ``videos/`` and reads each video's ``zarr.json``.
* Packs are immutable and versioned. ``pack(order)`` concatenates the current videos in the
  caller's order (pass split order, and a split is one contiguous row range) into a new
  pack, then swaps the pointer in ``packs/zarr.json`` with ``os.replace``. Unlike renaming a
  single ``packed/`` directory over the old one, readers never see a moment without a pack,
  and the previous pack is kept so a reader that started on it can finish. ``pack`` holds an
  ``flock`` so two packers cannot delete each other's packs.
* Readers use a pack row range only for ids whose packed digest equals the reference
  digest (the caller's, else the current per-video one) and read the per-video arrays
  otherwise, so a rewritten video never serves stale packed data.
* Per-video arrays stay the source of truth and the pack is a copy (about 2x the disk), so
  writers never wait for a pack and a pack can always be rebuilt.
* Freshness checks stay cheap: without ``digests=`` a read does one ``stat`` per id (video
  metadata is cached by the inode/mtime/size of its ``zarr.json``); with the manifest's
  digests passed in, it touches no per-video file at all.
* Compression: measured on embedding-like float16, zstd/blosc save only ~8 % (the mantissa
  bits are noise) but cut zarr-python read throughput to 0.1-0.2x of ``np.load``; even
  uncompressed, zarr-python's read path (async per-chunk reads plus a second copy) reached
  only 0.35-0.47x. So the pack, which is the hot path, is stored uncompressed and
  ``read_split`` reads its chunk files straight into the output buffer (one copy, like
  ``np.load``). Per-video arrays, read only by ``pack`` and the fallback, keep zstd. The
  direct reader validates each ``zarr.json`` (regular grid, default ``c/`` keys, little
  endian bytes [+ zstd]) and defers to ``zarr.open_array`` for anything else, so the files
  stay ordinary Zarr v3 that any reader can open. The output buffer is page-aligned:
  copying page-aligned file data into numpy's default buffer (16 bytes past a page) is
  ~30 % slower. ``bench/store_read.py`` (1,500 x 50 x 1024): split read at 0.7-0.9x
  ``np.load``.

Modules: this one is the store/group API and the public face that re-exports the rest;
``feature_packs`` packs and ``read_split``, ``feature_validation`` input checks,
``feature_keys`` keys and names, ``feature_records`` errors and records, ``_fsio``
filesystem primitives (publish, sweep, direct reads).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.codecs import ZstdCodec

from archsearch.features.fsio import publish_dir, read_json, read_rows, read_whole, staging_name, sweep_staging
from archsearch.features.keys import KEY_RE, NAME_RE, check_name, utc_now, canonical_json, feature_key
from archsearch.features.packs import PACK_CHUNK_BYTES, GroupPacks, Pack
from archsearch.features.records import (FeatureStoreError, FeatureValidationError, GroupConflictError,
                                               MissingFeaturesError, PackInfo, VerifyReport, VideoMeta)
from archsearch.features.validation import (  # the constants: importable from here, as before the split
    FLOAT16_MAX,
    FORMAT,
    REQUIRED_ATTRS,
    normalize_attrs,
    validate_features,
)

__all__ = ["FeatureGroup", "FeatureStore", "FeatureStoreError", "FeatureValidationError", "GroupConflictError",
           "MissingFeaturesError", "PackInfo", "VerifyReport", "VideoMeta", "feature_key", "canonical_json",
           "validate_features"]

IDENTITY_ATTRS = ("backbone", "key", "weights_digest", "sampling", "feature_rate", "dim")


# ----------------------------------------------------------------------------- store


class FeatureStore:
    """A directory of feature groups, one per (dataset, feature key)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp_root = self.root / ".tmp"
        self.tmp_root.mkdir(exist_ok=True)
        self.swept = sweep_staging(self.tmp_root)

    def __repr__(self) -> str:
        return f"FeatureStore({str(self.root)!r})"

    def groups(self) -> list[tuple[str, str]]:
        """(dataset, key) of every existing group, sorted."""
        found = []
        for ds in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for g in sorted(ds.iterdir()):
                if (g / "zarr.json").is_file():
                    found.append((ds.name, g.name))
        return found

    def group(self, dataset: str, key: str, *, attrs: Mapping[str, Any] | None = None) -> FeatureGroup:
        """Open group (dataset, key); create it when ``attrs`` are given and it is absent.

        ``attrs`` needs backbone, weights_digest, sampling, feature_rate, dim; optional
        versions (e.g. torch, transformers) and any extra provenance. ``key`` must equal
        ``feature_key(backbone, weights_digest, sampling)``. Opening an existing group
        with attrs compares the identity fields and raises ``GroupConflictError`` on any
        difference.
        """
        check_name("dataset", dataset)
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise FeatureStoreError(f"feature key {key!r}: expected 16 lowercase hex characters (see feature_key)")
        path = self.root / dataset / key
        wanted = normalize_attrs(dataset, key, attrs) if attrs is not None else None
        if not (path / "zarr.json").is_file():
            if wanted is None:
                raise MissingFeaturesError(
                    f"feature group {path} does not exist; pass attrs=... to create it"
                )
            self._create(path, wanted)
        group = FeatureGroup(self, dataset, key, path)
        if wanted is not None:
            group._check_identity(wanted)
        return group

    def _create(self, path: Path, attrs: dict[str, Any]) -> None:
        stage = self.tmp_root / staging_name()
        try:
            zarr.create_group(str(stage), attributes=attrs)
            zarr.create_group(str(stage / "videos"))
            zarr.create_group(str(stage / "packs"), attributes={"current": None, "previous": None})
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(stage, path)
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                # A concurrent creator won; the caller's identity check compares attrs.
        finally:
            shutil.rmtree(stage, ignore_errors=True)


class FeatureGroup(GroupPacks):
    """Features of one dataset under one backbone key; see the module docstring."""

    def __init__(self, store: FeatureStore, dataset: str, key: str, path: Path) -> None:
        self.store, self.dataset, self.key, self.path = store, dataset, key, path
        self.videos_path = path / "videos"
        self._videos_str = str(self.videos_path)
        self.packs_path = path / "packs"
        self._attrs = read_json(path / "zarr.json").get("attributes", {})
        if self._attrs.get("format") != FORMAT:
            raise FeatureStoreError(f"{path}: not an archsearch feature group (format={self._attrs.get('format')!r})")
        self.dim = int(self._attrs["dim"])
        self.feature_rate = float(self._attrs["feature_rate"])
        self._meta_cache: dict[str, tuple[tuple[int, int, int], VideoMeta]] = {}
        self._packs: dict[str, Pack] = {}

    def __repr__(self) -> str:
        return f"FeatureGroup({self.dataset!r}, {self.key!r}, backbone={self._attrs.get('backbone')!r}, dim={self.dim})"

    @property
    def attrs(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._attrs))  # a deep copy: attrs are immutable

    def _check_identity(self, wanted: Mapping[str, Any]) -> None:
        diffs = [
            f"'{k}' is {self._attrs.get(k)!r} in the store but {wanted.get(k)!r} was requested"
            for k in IDENTITY_ATTRS
            if self._attrs.get(k) != wanted.get(k)
        ]
        if diffs:
            raise GroupConflictError(f"feature group {self.path}: conflicting attrs: " + "; ".join(diffs))

    # ------------------------------------------------------------------ per-video metadata

    def _video_meta(self, video_id: str) -> VideoMeta | None:
        """Current metadata of a visible video, or None.

        Cached by (inode, mtime_ns, size) of its ``zarr.json``: one ``stat`` per id instead
        of a JSON parse keeps ``read_split``'s freshness check at a few ms for a split. A
        rewrite publishes a new file (new inode while the old one still exists); a false
        hit would need two rewrites of the video within one filesystem timestamp tick plus
        inode reuse.
        """
        p = f"{self._videos_str}/{video_id}/zarr.json"  # str paths: pathlib costs ~10 us per id
        for _ in range(5):
            try:
                st = os.stat(p)
                sig = (st.st_ino, st.st_mtime_ns, st.st_size)
                hit = self._meta_cache.get(video_id)
                if hit is not None and hit[0] == sig:
                    return hit[1]
                a = read_json(p)["attributes"]
            except FileNotFoundError:
                if not os.path.exists(f"{self._videos_str}/{video_id}"):
                    self._meta_cache.pop(video_id, None)
                    return None
                continue  # being replaced right now
            meta = VideoMeta(str(a["digest"]), int(a["T"]), str(a.get("written_at", "")))
            self._meta_cache[video_id] = (sig, meta)
            return meta
        return None

    def ids(self) -> list[str]:
        """Visible video ids, sorted."""
        try:
            return sorted(e.name for e in os.scandir(self.videos_path) if e.is_dir() and not e.name.startswith("."))
        except FileNotFoundError:
            return []

    def digests(self) -> dict[str, str]:
        """Visible video id -> digest of the video file its features were computed from."""
        out = {}
        for vid in self.ids():
            meta = self._video_meta(vid)
            if meta is not None:
                out[vid] = meta.digest
        return out

    def status(self, expected: Mapping[str, str]) -> tuple[set[str], list[str]]:
        """(done, missing) for ``expected`` id -> video digest; a digest mismatch is missing."""
        done: set[str] = set()
        missing: list[str] = []
        for vid, digest in expected.items():
            meta = self._video_meta(vid) if NAME_RE.match(vid) else None
            if meta is not None and meta.digest == digest:
                done.add(vid)
            else:
                missing.append(vid)
        return done, missing

    # ------------------------------------------------------------------ write

    def write(self, video_id: str, digest: str, features: Any, times: Any) -> VideoMeta:
        """Validate and atomically publish one video's features (T, D) and times (T,).

        Replaces an existing entry (e.g. from a stale video digest). Safe to call from
        several processes for different videos at once.
        """
        check_name("video id", video_id)
        if not isinstance(digest, str) or not digest:
            raise FeatureValidationError(f"video {video_id!r}: digest must be a non-empty string")
        where = f"feature group {self.dataset}/{self.key}, video {video_id!r}"
        feats, t = validate_features(where, features, times, self.dim)  # (T, D) f16, (T,) f64
        meta = VideoMeta(digest, int(feats.shape[0]), utc_now())
        stage = self.store.tmp_root / staging_name()
        try:
            g = zarr.create_group(str(stage), attributes={"digest": digest, "T": meta.T, "written_at": meta.written_at})
            cfg = {"write_empty_chunks": True}
            g.create_array("features", data=feats, chunks=feats.shape, compressors=ZstdCodec(level=1), config=cfg)
            g.create_array("times", data=t, chunks=t.shape, compressors=None, config=cfg)
            _before_publish_hook(video_id)
            self.videos_path.mkdir(exist_ok=True)
            publish_dir(stage, self.videos_path / video_id, self.store.tmp_root)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        return meta

    # ------------------------------------------------------------------ read

    def _read_video(self, video_id: str) -> tuple[VideoMeta, np.ndarray, np.ndarray] | None:
        """One consistent (meta, features, times); None if the video is not visible.

        The video directory's inode is compared before and after: a concurrent rewrite
        renames a new directory in, so an unchanged inode means meta and data belong together.
        """
        vdir = self.videos_path / video_id
        for _ in range(5):
            try:
                ino = os.stat(vdir).st_ino
                a = read_json(vdir / "zarr.json")["attributes"]
                feats = read_whole(vdir / "features")
                t = read_whole(vdir / "times")
                if os.stat(vdir).st_ino != ino:
                    continue
            except FileNotFoundError:
                if not vdir.exists():
                    return None
                continue
            meta = VideoMeta(str(a["digest"]), int(a["T"]), str(a.get("written_at", "")))
            if feats.shape != (meta.T, self.dim) or t.shape != (meta.T,):
                raise FeatureStoreError(
                    f"{vdir}: stored shapes features {feats.shape}, times {t.shape} "
                    f"disagree with T = {meta.T}, dim = {self.dim}"
                )
            return meta, feats, t
        raise FeatureStoreError(f"{vdir}: kept changing while being read (5 attempts)")

    def read(self, video_id: str, digest: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(features (T, D) float16, times (T,) float64) of one video, from its own arrays."""
        got = self._read_video(video_id) if NAME_RE.match(video_id) else None
        if got is None:
            raise MissingFeaturesError(f"feature group {self.path}: no features for video {video_id!r}")
        meta, feats, t = got
        if digest is not None and meta.digest != digest:
            raise MissingFeaturesError(
                f"feature group {self.path}: video {video_id!r} has features for digest {meta.digest}, not {digest}"
            )
        return feats, t

    # ------------------------------------------------------------------ checks

    def verify(self, expected: Mapping[str, str] | None = None) -> VerifyReport:
        """Read everything back: missing/stale ids vs ``expected``, NaN/inf, malformed, pack drift."""
        report = VerifyReport()
        visible = self.ids()
        if expected is not None:
            present = set(visible)
            report.missing = [v for v in expected if v not in present]
            check = [v for v in expected if v in present]
        else:
            check = visible
        pack = self._current_pack()
        for vid in check:
            try:
                got = self._read_video(vid)
            except (FeatureStoreError, OSError, ValueError, KeyError) as exc:
                report.malformed.append(f"{vid}: {exc}")
                continue
            if got is None:
                report.missing.append(vid)
                continue
            report.n_checked += 1
            meta, feats, t = got
            if expected is not None and meta.digest != expected[vid]:
                report.stale.append(vid)
            if not (np.isfinite(feats).all() and np.isfinite(t).all()):
                report.nonfinite.append(vid)
            elif t.shape[0] > 1 and not (np.diff(t) > 0).all():
                report.malformed.append(f"{vid}: times not strictly increasing")
            p = pack.pos.get(vid, -1) if pack is not None else -1
            if p >= 0 and pack.info.digests[p] == meta.digest:
                a, b = int(pack.info.offsets[p]), int(pack.info.offsets[p + 1])
                same = b - a == meta.T
                if same:
                    pd = np.empty((b - a, self.dim), dtype=np.float16)
                    pt = np.empty(b - a, dtype=np.float64)
                    read_rows(pack.data, pack.path / "data", a, b, pd)
                    read_rows(pack.times, pack.path / "times", a, b, pt)
                    same = np.array_equal(pd.view(np.uint16), feats.view(np.uint16)) and np.array_equal(pt, t)
                if not same:
                    report.pack_mismatch.append(vid)
        return report

    def nbytes(self) -> int:
        """Bytes on disk of this group (per-video arrays plus kept packs)."""
        total = 0
        for dirpath, _, files in os.walk(self.path):
            for name in files:
                with contextlib.suppress(FileNotFoundError):
                    total += os.stat(os.path.join(dirpath, name)).st_size
        return total


def _before_publish_hook(video_id: str) -> None:
    """Test seam: called after a video is fully staged, just before it is renamed into place."""
