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
  ``np.load``. Filesystem primitives (publish, sweep, direct reads) live in ``_fsio.py``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import json
import math
import os
import platform
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import zarr
from zarr.codecs import ZstdCodec

from archsearch.stores._fsio import (
    ArrayLayout,
    aligned_empty,
    array_layout,
    flock,
    publish_dir,
    read_json,
    read_rows,
    read_whole,
    staging_name,
    sweep_staging,
    write_json_atomic,
)

__all__ = [
    "FeatureGroup",
    "FeatureStore",
    "FeatureStoreError",
    "FeatureValidationError",
    "GroupConflictError",
    "MissingFeaturesError",
    "PackInfo",
    "VerifyReport",
    "VideoMeta",
    "feature_key",
    "canonical_json",
    "validate_features",
]

FORMAT = "archsearch.features/1"
FLOAT16_MAX = 65504.0
PACK_CHUNK_BYTES = 4 << 20  # rows per pack chunk ~ 4 MiB: few files, bulk reads, fits L3 copies
REQUIRED_ATTRS = ("backbone", "weights_digest", "sampling", "feature_rate", "dim")
IDENTITY_ATTRS = ("backbone", "key", "weights_digest", "sampling", "feature_rate", "dim")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_KEY_RE = re.compile(r"^[0-9a-f]{16}$")


class FeatureStoreError(ValueError):
    """Any feature-store failure; the message names the group/video and what was expected."""


class FeatureValidationError(FeatureStoreError):
    """Features or timestamps passed to ``write`` are malformed."""


class GroupConflictError(FeatureStoreError):
    """An existing group's attributes disagree with the ones requested."""


class MissingFeaturesError(FeatureStoreError):
    """Requested video ids are not in the group (or not at the requested digest)."""


# ----------------------------------------------------------------------------- keys


def _canonical(obj: Any) -> Any:
    """JSON-ready normal form: numpy scalars -> Python, integral floats -> int, tuples -> lists.

    Integral floats become ints so that ``{"fps": 5}`` and ``{"fps": 5.0}`` address one cache.
    """
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise FeatureStoreError(f"sampling/attrs: expected finite numbers, got {obj!r}")
        return int(obj) if obj.is_integer() else obj
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    raise FeatureStoreError(f"sampling/attrs: value {obj!r} of type {type(obj).__name__} is not JSON-able")


def canonical_json(obj: Any) -> str:
    """Sorted, compact, ASCII JSON of ``_canonical(obj)``: the one hashing form."""
    return json.dumps(_canonical(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def feature_key(backbone: str, weights_digest: str, sampling: Mapping[str, Any]) -> str:
    """First 16 hex of sha256 over canonical JSON of (backbone, weights digest, sampling).

    Every caller (feature asset, HDF5 import) uses this one definition, so equal inputs
    always share a cache and any change in weights or sampling gets a fresh one.
    """
    payload = canonical_json(
        {"backbone": backbone, "weights_digest": weights_digest, "sampling": dict(sampling)}
    )
    return hashlib.sha256(payload.encode("ascii")).hexdigest()[:16]


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise FeatureStoreError(
            f"{kind} {name!r}: expected 1-200 characters from [A-Za-z0-9._-], "
            "starting with a letter or digit (it becomes a directory name)"
        )
    return name


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "zarr": zarr.__version__,
        "numpy": np.__version__,
        "numcodecs": numcodecs.__version__,
    }


# ----------------------------------------------------------------------------- validation


def validate_features(where: str, features: Any, times: Any, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Checked copies (features (T, D) float16, times (T,) float64); errors start with ``where``.

    Rejects: not 2-D, wrong dim, T = 0, non-float, NaN/inf, |x| > 65504 (float16 overflow),
    times not 1-D of length T, non-finite or not strictly increasing times.
    """
    feats = np.asarray(features)
    if feats.ndim != 2:
        raise FeatureValidationError(f"{where}: features must be 2-D (T, D), got shape {feats.shape}")
    if feats.shape[1] != dim:
        raise FeatureValidationError(f"{where}: features have dim {feats.shape[1]}, the group's dim is {dim}")
    if feats.shape[0] < 1:
        raise FeatureValidationError(f"{where}: features have no time steps (T = 0)")
    if not np.issubdtype(feats.dtype, np.floating):
        raise FeatureValidationError(f"{where}: features must be floating point, got dtype {feats.dtype}")
    finite = np.isfinite(feats)
    if not finite.all():
        t_bad, d_bad = np.argwhere(~finite)[0]
        raise FeatureValidationError(
            f"{where}: features contain {int((~finite).sum())} NaN/inf values "
            f"(first at step {t_bad}, dim {d_bad}: {feats[t_bad, d_bad]})"
        )
    if feats.dtype != np.float16:
        peak = float(np.abs(feats).max())
        if peak > FLOAT16_MAX:
            raise FeatureValidationError(
                f"{where}: features reach |x| = {peak:.6g}, beyond the float16 range +-{FLOAT16_MAX:g}; "
                "normalize them before caching"
            )
    t = np.asarray(times)
    if t.ndim != 1 or t.shape[0] != feats.shape[0]:
        raise FeatureValidationError(f"{where}: times must be 1-D of length T = {feats.shape[0]}, got shape {t.shape}")
    if not (np.issubdtype(t.dtype, np.floating) or np.issubdtype(t.dtype, np.integer)) or t.dtype == bool:
        raise FeatureValidationError(f"{where}: times must be numbers (seconds), got dtype {t.dtype}")
    t = t.astype(np.float64)
    if not np.isfinite(t).all():
        raise FeatureValidationError(f"{where}: times contain NaN/inf")
    if t.shape[0] > 1 and not (np.diff(t) > 0).all():
        i = int(np.argmin(np.diff(t) > 0))
        raise FeatureValidationError(
            f"{where}: times must be strictly increasing, but times[{i}] = {t[i]} >= times[{i + 1}] = {t[i + 1]}"
        )
    return np.ascontiguousarray(feats, dtype=np.float16), np.ascontiguousarray(t)


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True)
class VideoMeta:
    """Per-video attributes stored in ``videos/<id>/zarr.json``."""

    digest: str
    T: int
    written_at: str


@dataclass(frozen=True)
class PackInfo:
    """Summary of one immutable pack."""

    pack_id: str
    ids: tuple[str, ...]
    digests: tuple[str, ...]
    offsets: np.ndarray  # (n+1,) int64 row offsets into data
    created_at: str

    @property
    def n_rows(self) -> int:
        return int(self.offsets[-1])


@dataclass
class _Pack:
    info: PackInfo
    path: Path
    pos: dict[str, int]
    data: ArrayLayout | None
    times: ArrayLayout | None


@dataclass
class VerifyReport:
    """Result of ``FeatureGroup.verify``: empty lists mean healthy."""

    n_checked: int = 0
    missing: list[str] = field(default_factory=list)  # expected but not visible
    stale: list[str] = field(default_factory=list)  # visible at another digest
    nonfinite: list[str] = field(default_factory=list)  # NaN/inf in features or times
    malformed: list[str] = field(default_factory=list)  # unreadable / shape or order problems
    pack_mismatch: list[str] = field(default_factory=list)  # packed rows differ from the video

    @property
    def ok(self) -> bool:
        return not (self.missing or self.stale or self.nonfinite or self.malformed or self.pack_mismatch)


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
        _check_name("dataset", dataset)
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise FeatureStoreError(f"feature key {key!r}: expected 16 lowercase hex characters (see feature_key)")
        path = self.root / dataset / key
        wanted = self._normalize_attrs(dataset, key, attrs) if attrs is not None else None
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

    def _normalize_attrs(self, dataset: str, key: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
        missing = [k for k in REQUIRED_ATTRS if k not in attrs]
        if missing:
            raise FeatureStoreError(
                f"feature group {dataset}/{key}: attrs lack {missing}; required: {list(REQUIRED_ATTRS)}"
            )
        backbone, weights_digest = attrs["backbone"], attrs["weights_digest"]
        if not isinstance(backbone, str) or not backbone:
            raise FeatureStoreError(f"feature group {dataset}/{key}: attr 'backbone' must be a non-empty string")
        if not isinstance(weights_digest, str):
            raise FeatureStoreError(f"feature group {dataset}/{key}: attr 'weights_digest' must be a string")
        if not isinstance(attrs["sampling"], Mapping):
            raise FeatureStoreError(f"feature group {dataset}/{key}: attr 'sampling' must be a mapping")
        try:
            rate = float(attrs["feature_rate"])
            dim = attrs["dim"]
            dim_ok = isinstance(dim, (int, np.integer)) and not isinstance(dim, bool) and int(dim) > 0
        except (TypeError, ValueError):
            rate, dim_ok = float("nan"), False
        if not (math.isfinite(rate) and rate > 0):
            raise FeatureStoreError(
                f"feature group {dataset}/{key}: attr 'feature_rate' must be a positive number (Hz), "
                f"got {attrs['feature_rate']!r}"
            )
        if not dim_ok:
            raise FeatureStoreError(
                f"feature group {dataset}/{key}: attr 'dim' must be a positive int, got {attrs['dim']!r}"
            )
        expected_key = feature_key(backbone, weights_digest, attrs["sampling"])
        if key != expected_key:
            raise GroupConflictError(
                f"feature group {dataset}/{key}: key does not match feature_key({backbone!r}, "
                f"{weights_digest!r}, sampling) = {expected_key}"
            )
        if "key" in attrs and attrs["key"] != key:
            raise GroupConflictError(
                f"feature group {dataset}/{key}: attrs['key'] = {attrs['key']!r} differs from the key"
            )
        out = _canonical({k: v for k, v in attrs.items() if k != "versions"})
        out.update(
            format=FORMAT,
            dataset=dataset,
            key=key,
            feature_rate=rate,
            dim=int(dim),
            sampling=_canonical(attrs["sampling"]),
            versions={**_library_versions(), **_canonical(attrs.get("versions") or {})},
            created_at=_now(),
        )
        return out

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


class FeatureGroup:
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
        self._packs: dict[str, _Pack] = {}

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
            meta = self._video_meta(vid) if _NAME_RE.match(vid) else None
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
        _check_name("video id", video_id)
        if not isinstance(digest, str) or not digest:
            raise FeatureValidationError(f"video {video_id!r}: digest must be a non-empty string")
        where = f"feature group {self.dataset}/{self.key}, video {video_id!r}"
        feats, t = validate_features(where, features, times, self.dim)  # (T, D) f16, (T,) f64
        meta = VideoMeta(digest, int(feats.shape[0]), _now())
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
        got = self._read_video(video_id) if _NAME_RE.match(video_id) else None
        if got is None:
            raise MissingFeaturesError(f"feature group {self.path}: no features for video {video_id!r}")
        meta, feats, t = got
        if digest is not None and meta.digest != digest:
            raise MissingFeaturesError(
                f"feature group {self.path}: video {video_id!r} has features for digest {meta.digest}, not {digest}"
            )
        return feats, t

    def read_many(
        self, ids: Sequence[str], digests: Mapping[str, str] | None = None
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """id -> (features (T_i, D), times (T_i,)); views into one ``read_split`` buffer."""
        ids = list(ids)
        data, offsets, times = self.read_split(ids, digests=digests)
        return {
            vid: (data[offsets[i] : offsets[i + 1]], times[offsets[i] : offsets[i + 1]]) for i, vid in enumerate(ids)
        }

    def read_split(
        self, ids: Sequence[str], digests: Mapping[str, str] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All features of ``ids`` concatenated: (data (N, D) f16, offsets (n+1,) i64, times (N,) f64).

        Rows of ids[i] are data[offsets[i]:offsets[i+1]]. Ids whose packed digest equals the
        reference digest (``digests[id]`` when given, else the current per-video digest)
        come from the pack, each run of consecutive pack positions in one contiguous read
        (one read in total when ``ids`` is a slice of the pack order); the rest are read
        from their own arrays. Raises ``MissingFeaturesError`` naming absent ids.
        """
        ids = list(ids)
        for _ in range(3):
            try:
                return self._read_split_once(ids, digests)
            except FileNotFoundError:
                self._packs.clear()  # a pack vanished under us (two repacks during one read)
        return self._read_split_once(ids, digests)

    def _read_split_once(
        self, ids: list[str], digests: Mapping[str, str] | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pack = self._current_pack()
        ref: dict[str, str] = {}
        absent: list[str] = []  # ordered for the error message
        absent_set: set[str] = set()
        if digests is not None:
            nodigest = [v for v in ids if v not in digests]
            if nodigest:
                raise FeatureStoreError(f"read_split: digests lack {len(nodigest)} ids, e.g. {nodigest[:5]}")
            ref = {v: digests[v] for v in ids}
        else:
            for vid in ids:
                meta = self._video_meta(vid) if _NAME_RE.match(vid) else None
                if meta is None:
                    absent.append(vid)
                    absent_set.add(vid)
                else:
                    ref[vid] = meta.digest
        # Plan: per id, a pack position or -1 (read the per-video arrays).
        n = len(ids)
        pos_list = [-1] * n
        if pack is not None:
            ppos, pdig = pack.pos, pack.info.digests
            for i, vid in enumerate(ids):
                p = ppos.get(vid)
                if p is not None and pdig[p] == ref.get(vid):
                    pos_list[i] = p
        pos = np.array(pos_list, dtype=np.int64)  # (n,)
        lengths = np.zeros(n, dtype=np.int64)  # (n,)
        if pack is not None:
            packed = pos >= 0
            lengths[packed] = pack.info.offsets[pos[packed] + 1] - pack.info.offsets[pos[packed]]
        singles: dict[int, tuple[VideoMeta, np.ndarray, np.ndarray]] = {}
        for i in np.flatnonzero(pos < 0):
            vid = ids[i]
            if vid in absent_set:
                continue
            got = self._read_video(vid) if _NAME_RE.match(vid) else None
            if got is None or got[0].digest != ref[vid]:
                absent.append(vid)
                continue
            singles[int(i)] = got
            lengths[i] = got[0].T
        if absent:
            why = "" if digests is None else " at the requested digests"
            raise MissingFeaturesError(
                f"feature group {self.path}: {len(absent)} of {n} ids have no features{why}, e.g. {absent[:10]}"
            )
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        data = aligned_empty((int(offsets[-1]), self.dim), np.float16)  # (N, D)
        times = aligned_empty((int(offsets[-1]),), np.float64)  # (N,)
        # Runs of consecutive pack positions become one contiguous read each.
        brk = np.ones(n, dtype=bool)
        brk[1:] = (pos[1:] != pos[:-1] + 1) | (pos[1:] < 0) | (pos[:-1] < 0)
        starts = np.flatnonzero(brk)
        for i, j in zip(starts.tolist(), [*starts[1:].tolist(), n]):
            if pos[i] < 0:  # a single per-video read (runs of -1 have length 1)
                _, f, t = singles[i]
                data[offsets[i] : offsets[i + 1]] = f
                times[offsets[i] : offsets[i + 1]] = t
                continue
            a, b = int(pack.info.offsets[pos[i]]), int(pack.info.offsets[pos[j - 1] + 1])
            read_rows(pack.data, pack.path / "data", a, b, data[offsets[i] : offsets[j]])
            read_rows(pack.times, pack.path / "times", a, b, times[offsets[i] : offsets[j]])
        return data, offsets, times

    # ------------------------------------------------------------------ pack

    def _pointer(self) -> dict[str, Any]:
        return read_json(self.packs_path / "zarr.json").get("attributes", {})

    def _load_pack(self, pack_id: str) -> _Pack:
        hit = self._packs.get(pack_id)
        if hit is not None:
            return hit
        path = self.packs_path / pack_id
        a = read_json(path / "zarr.json")["attributes"]
        info = PackInfo(
            pack_id, tuple(a["ids"]), tuple(a["digests"]), np.asarray(a["offsets"], dtype=np.int64), a["created_at"]
        )
        pos = {v: i for i, v in enumerate(info.ids)}
        pack = _Pack(info, path, pos, array_layout(path / "data"), array_layout(path / "times"))
        self._packs = {pack_id: pack}  # packs are immutable; keep only the latest
        return pack

    def _current_pack(self) -> _Pack | None:
        current = self._pointer().get("current")
        return self._load_pack(current) if current else None

    def pack_info(self) -> PackInfo | None:
        """The current pack's index, or None before the first ``pack``."""
        pack = self._current_pack()
        return pack.info if pack is not None else None

    def pack(self, order: Sequence[str] | None = None) -> PackInfo:
        """Consolidate all visible videos into one contiguous pack, ``order`` first.

        Pass ids in split order (train, val, test) so each split is one row range. Visible
        videos not in ``order`` follow, sorted. Builds a new immutable pack in staging and
        swaps the pointer atomically; readers are never blocked.
        """
        order = list(order or [])
        dup = sorted(v for v, c in Counter(order).items() if c > 1)
        if dup:
            raise FeatureStoreError(f"pack: order repeats ids {dup[:10]}")
        lock = self.store.root / ".locks" / f"{self.dataset}.{self.key}.lock"
        with flock(lock):
            metas = {vid: m for vid in self.ids() if (m := self._video_meta(vid)) is not None}
            unknown = [v for v in order if v not in metas]
            if unknown:
                raise MissingFeaturesError(
                    f"pack: feature group {self.path} has no features for {len(unknown)} ids in order, "
                    f"e.g. {unknown[:10]}"
                )
            seen = set(order)
            full = order + sorted(v for v in metas if v not in seen)
            lengths = np.array([metas[v].T for v in full], dtype=np.int64)
            offsets = np.zeros(len(full) + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            n_rows = int(offsets[-1])
            rows = max(1, min(PACK_CHUNK_BYTES // (2 * self.dim), n_rows))  # edge chunks are stored full-size
            pack_id = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
            stage = self.store.tmp_root / staging_name()
            try:
                g = zarr.create_group(str(stage))
                raw = {"compressors": None, "config": {"write_empty_chunks": True}}  # the hot path: uncompressed
                d_arr = g.create_array("data", shape=(n_rows, self.dim), chunks=(rows, self.dim), dtype="f2", **raw)
                t_arr = g.create_array("times", shape=(n_rows,), chunks=(rows,), dtype="f8", **raw)
                digests = self._stream_into(full, metas, offsets, rows, d_arr, t_arr)
                index = {"ids": full, "digests": digests, "offsets": offsets.tolist()}
                g.attrs.update({**index, "created_at": _now(), "dim": self.dim})
                os.rename(stage, self.packs_path / pack_id)
            finally:
                shutil.rmtree(stage, ignore_errors=True)
            previous = self._pointer().get("current")
            pointer_meta = read_json(self.packs_path / "zarr.json")
            pointer_meta["attributes"] = {"current": pack_id, "previous": previous}
            write_json_atomic(self.packs_path / "zarr.json", pointer_meta, self.store.tmp_root)
            for entry in os.scandir(self.packs_path):
                if entry.is_dir() and entry.name not in (pack_id, previous):
                    shutil.rmtree(entry.path, ignore_errors=True)
        return self._load_pack(pack_id).info

    def _stream_into(
        self,
        full: list[str],
        metas: Mapping[str, VideoMeta],
        offsets: np.ndarray,
        rows: int,
        d_arr: Any,
        t_arr: Any,
    ) -> list[str]:
        """Copy videos into the pack in chunk-aligned blocks (bounded memory).

        A video rewritten since the scan with the same T is packed with its new digest;
        with a different T its rows stay zero and its digest is recorded as "" so readers
        never use them.
        """
        n_rows = int(offsets[-1])
        block_rows = rows * max(1, (64 << 20) // (rows * 2 * self.dim))  # ~64 MiB blocks
        buf = np.zeros((min(block_rows, max(n_rows, 1)), self.dim), dtype=np.float16)  # (B, D)
        tbuf = np.zeros(buf.shape[0], dtype=np.float64)  # (B,)
        digests: list[str] = []
        block_start = 0

        def flush(upto: int) -> None:
            nonlocal block_start
            if upto > block_start:
                d_arr[block_start:upto] = buf[: upto - block_start]
                t_arr[block_start:upto] = tbuf[: upto - block_start]
            buf[:] = 0
            tbuf[:] = 0
            block_start = upto

        for i, vid in enumerate(full):
            got = self._read_video(vid)
            ok = got is not None and got[0].T == metas[vid].T
            digests.append(got[0].digest if ok else "")
            a, b = int(offsets[i]), int(offsets[i + 1])
            src = 0
            while a < b:
                take = min(b, block_start + buf.shape[0]) - a
                if ok:
                    buf[a - block_start : a - block_start + take] = got[1][src : src + take]
                    tbuf[a - block_start : a - block_start + take] = got[2][src : src + take]
                a += take
                src += take
                if a - block_start == buf.shape[0]:
                    flush(a)
        flush(n_rows)
        return digests

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
