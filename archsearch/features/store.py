"""Content-addressed, resumable, self-checking Zarr v3 cache of per-video feature sequences.

A frozen backbone turns each video into a time-indexed embedding sequence ``(T_i, D)`` float16 plus
timestamps ``(T_i,)`` float64 seconds (a timestamp t uses only frames at time <= t). One cache
serves every window length and horizon, so whole sequences are stored and slicing happens
downstream. A group is addressed by ``(dataset, key)`` with ``key = feature_key(backbone,
weights_digest, sampling)``; each video also records the digest of the video file it was computed
from, so a changed video is recomputed and nothing else is.

On-disk layout (every ``<root>/<dataset>/<key>`` is a plain Zarr v3 hierarchy any reader can open)::

    <root>/<dataset>/<key>/zarr.json          group attrs: backbone, key, weights digest, sampling,
                                              feature_rate, dim, versions, ...
    <root>/<dataset>/<key>/videos/<id>/       one group per video (``videos``): attrs {digest, T,
        features (T, D) float16, times (T,)    written_at, checksums}
    <root>/<dataset>/<key>/packs/zarr.json    attrs {current, previous}: the pack pointer (``packs``)
    <root>/<dataset>/<key>/packs/<pack_id>/   attrs {ids, digests, offsets, checksums, chunk_checksums}
        data (N_total, D) float16, times (N_total,) float64, ~4 MiB chunks, uncompressed
    <root>/.tmp/<host>-<pid>-<uuid>/          staging, outside the hierarchies (``fsio``)
    <root>/.locks/<dataset>.<key>.lock        flock, held only while packing

Guarantees and why:

* A reader never sees a partial video or pack: each is written under ``.tmp`` and renamed into
  place; ``kill -9`` leaves only staging, which the next open sweeps when its process is dead (same
  host) or it is older than a day.
* Nothing is trusted because it exists: every video and pack chunk records checksums when it is
  written (``integrity``), every read verifies the bytes it returns, and ``status`` -- the first
  thing a features run asks -- verifies what it would reuse and repairs what fails (``checks``):
  a broken video is removed so it is recomputed, a broken pack is unset so the run repacks. Each
  repair is listed in ``FeatureStore.repairs``. Every read error names the file.
* Readers use pack rows only for ids whose packed digest equals the reference digest (the caller's,
  else the current per-video one), so a rewritten video never serves stale packed data.
* Freshness checks stay cheap: with the manifest's digests passed in, a split read touches no
  per-video file at all.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from archsearch.common import SAFE_NAME_RULE, is_safe_name, utc_now
from archsearch.features.checks import BROKEN, VideoVerdict, check_video, current_pack, pack_problems
from archsearch.features.fsio import read_json, staging_name, sweep_staging, write_json_atomic
from archsearch.features.keys import KEY_RE
from archsearch.features.packs import Packs
from archsearch.features.records import (
    CorruptFeaturesError,
    FeatureStoreError,
    FeatureValidationError,
    GroupConflictError,
    MissingFeaturesError,
    PackInfo,
    Repair,
    VerifyReport,
    VideoMeta,
)
from archsearch.features.validation import FORMAT, normalize_attrs, validate_features
from archsearch.features.videos import VideoArrays

__all__ = ["FeatureGroup", "FeatureStore"]

IDENTITY_ATTRS = ("backbone", "key", "weights_digest", "sampling", "feature_rate", "dim")


def check_name(kind: str, name: object) -> str:
    if not is_safe_name(name):
        raise FeatureStoreError(f"{kind} {name!r}: expected {SAFE_NAME_RULE} (it becomes a directory name)")
    return name


class FeatureStore:
    """A directory of feature groups, one per (dataset, feature key); ``repairs`` lists what opening them fixed."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp_root = self.root / ".tmp"
        self.tmp_root.mkdir(exist_ok=True)
        self.swept = sweep_staging(self.tmp_root)
        self.repairs: list[Repair] = []

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
        difference; with attrs, an unreadable group ``zarr.json`` is rewritten from them
        (the key is their content address, so nothing else can belong there).
        """
        check_name("dataset", dataset)
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise FeatureStoreError(f"feature key {key!r}: expected 16 lowercase hex characters (see feature_key)")
        path = self.root / dataset / key
        wanted = normalize_attrs(dataset, key, attrs) if attrs is not None else None
        if not (path / "zarr.json").is_file():
            if wanted is None:
                raise MissingFeaturesError(f"feature group {path} does not exist; pass attrs=... to create it")
            self.create(path, wanted)
        try:
            group = FeatureGroup(self, dataset, key, path)
        except CorruptFeaturesError as exc:
            if wanted is None:
                raise CorruptFeaturesError(f"{exc}; a features run for this backbone rewrites it") from exc
            write_json_atomic(
                path / "zarr.json", {"zarr_format": 3, "node_type": "group", "attributes": wanted}, self.tmp_root
            )
            self.repairs.append(Repair(str(path / "zarr.json"), str(exc), "rewritten from the requested attrs"))
            group = FeatureGroup(self, dataset, key, path)
        if wanted is not None:
            group.check_identity(wanted)
        return group

    def create(self, path: Path, attrs: dict[str, Any]) -> None:
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
    """Features of one dataset under one backbone key: its ``videos`` and its ``packs``."""

    def __init__(self, store: FeatureStore, dataset: str, key: str, path: Path) -> None:
        self.store, self.dataset, self.key, self.path = store, dataset, key, path
        self.group_attrs = read_json(path / "zarr.json").get("attributes", {})
        if self.group_attrs.get("format") != FORMAT:
            raise FeatureStoreError(
                f"{path}: not an archsearch feature group (format={self.group_attrs.get('format')!r})"
            )
        try:
            self.dim = int(self.group_attrs["dim"])
            self.feature_rate = float(self.group_attrs["feature_rate"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptFeaturesError(f"{path / 'zarr.json'}: group attrs lack a valid {exc}") from exc
        self.videos = VideoArrays(path / "videos", store.tmp_root, self.dim)
        lock = store.root / ".locks" / f"{dataset}.{key}.lock"
        self.packs = Packs(path / "packs", self.videos, store.tmp_root, lock, self.dim)

    def __repr__(self) -> str:
        backbone = self.group_attrs.get("backbone")
        return f"FeatureGroup({self.dataset!r}, {self.key!r}, backbone={backbone!r}, dim={self.dim})"

    @property
    def videos_path(self) -> Path:
        return self.videos.path

    @property
    def packs_path(self) -> Path:
        return self.packs.path

    @property
    def attrs(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.group_attrs))  # a deep copy: attrs are immutable

    def check_identity(self, wanted: Mapping[str, Any]) -> None:
        diffs = [
            f"'{k}' is {self.group_attrs.get(k)!r} in the store but {wanted.get(k)!r} was requested"
            for k in IDENTITY_ATTRS
            if self.group_attrs.get(k) != wanted.get(k)
        ]
        if diffs:
            raise GroupConflictError(f"feature group {self.path}: conflicting attrs: " + "; ".join(diffs))

    def repair_hint(self) -> str:
        backbone = self.group_attrs.get("backbone")
        return (
            f"feature group {self.dataset}/{self.key} (backbone {backbone!r}) fails its integrity check; "
            f"rerun the features of backbone {backbone!r}: the rerun recomputes or repacks whatever fails"
        )

    @contextlib.contextmanager
    def hinting_repair(self) -> Iterator[None]:
        """Add how to repair to any ``CorruptFeaturesError`` raised inside (which already names the file)."""
        try:
            yield
        except CorruptFeaturesError as exc:
            raise CorruptFeaturesError(f"{exc}\n{self.repair_hint()}") from exc

    # ------------------------------------------------------------------ videos

    def ids(self) -> list[str]:
        """Visible video ids, sorted."""
        return self.videos.ids()

    def digests(self) -> dict[str, str]:
        """Visible video id -> digest of the video file its features were computed from."""
        with self.hinting_repair():
            return {vid: meta.digest for vid in self.ids() if (meta := self.videos.meta(vid)) is not None}

    def write(self, video_id: str, digest: str, features: Any, times: Any) -> VideoMeta:
        """Validate and atomically publish one video's features (T, D) and times (T,), with checksums.

        Replaces an existing entry (e.g. from a stale video digest). Safe to call from
        several processes for different videos at once.
        """
        check_name("video id", video_id)
        if not isinstance(digest, str) or not digest:
            raise FeatureValidationError(f"video {video_id!r}: digest must be a non-empty string")
        where = f"feature group {self.dataset}/{self.key}, video {video_id!r}"
        feats, t = validate_features(where, features, times, self.dim)  # (T, D) f16, (T,) f64
        return self.videos.write(video_id, digest, feats, t, utc_now())

    def read(self, video_id: str, digest: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(features (T, D) float16, times (T,) float64) of one video, from its own verified arrays."""
        with self.hinting_repair():
            got = self.videos.read(video_id)
        if got is None:
            raise MissingFeaturesError(f"feature group {self.path}: no features for video {video_id!r}")
        meta, feats, t = got
        if digest is not None and meta.digest != digest:
            raise MissingFeaturesError(
                f"feature group {self.path}: video {video_id!r} has features for digest {meta.digest}, not {digest}"
            )
        return feats, t

    # ------------------------------------------------------------------ packs

    def read_split(
        self, ids: Sequence[str], digests: Mapping[str, str] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All features of ``ids`` concatenated and verified; see ``Packs.read_split``.

        Bytes that fail their checksums raise ``CorruptFeaturesError`` naming the file and how to repair.
        """
        with self.hinting_repair():
            return self.packs.read_split(ids, digests)

    def read_many(
        self, ids: Sequence[str], digests: Mapping[str, str] | None = None
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """id -> (features (T_i, D), times (T_i,)), verified; views into one ``read_split`` buffer."""
        ids = list(ids)
        data, offsets, times = self.read_split(ids, digests)
        return {
            vid: (data[offsets[i] : offsets[i + 1]], times[offsets[i] : offsets[i + 1]]) for i, vid in enumerate(ids)
        }

    def pack(self, order: Sequence[str] | None = None) -> PackInfo:
        """Consolidate all visible videos into one new pack, ``order`` (split order) first.

        A video that fails its checksums is left out of the pack and listed in ``store.repairs``.
        """
        info, left_out = self.packs.build(order)
        for entry in left_out:
            vid, _, why = entry.partition(": ")
            self.store.repairs.append(Repair(str(self.videos.path / vid), why, "left out of the new pack"))
        return info

    def pack_info(self) -> PackInfo | None:
        """The current pack's index, or None before the first ``pack`` (or after a failed one was unset)."""
        return self.packs.info()

    # ------------------------------------------------------------------ checks

    def verify(self, expected: Mapping[str, str] | None = None) -> VerifyReport:
        """Read everything back and report, changing nothing: missing/stale ids vs ``expected``,
        bytes that differ from their checksums, NaN/inf or disordered times (videos without
        checksums), and pack files or rows that fail. Never raises for bad bytes: they are a verdict.
        """
        report = VerifyReport()
        ids = list(expected) if expected is not None else self.ids()
        verdicts: dict[str, VideoVerdict] = {}
        for vid in ids:
            try:
                v = check_video(self.videos, vid, None if expected is None else expected[vid])
            except (OSError, FeatureStoreError) as exc:  # unreadable for another reason: still a verdict
                v = VideoVerdict("corrupt", str(exc))
            verdicts[vid] = v
            if v.state == "missing":
                report.missing.append(vid)
                continue
            report.n_checked += 1
            if v.state == "unverified":
                report.unverified.append(vid)
            elif v.state == "stale":
                report.stale.append(vid)
            elif v.state == "nonfinite":
                report.nonfinite.append(vid)
            elif v.state in ("corrupt", "malformed"):
                getattr(report, v.state).append(f"{vid}: {v.reason}")
        pack, problems = current_pack(self.packs)
        if pack is not None:
            problems, report.pack_mismatch = pack_problems(pack, verdicts)
        report.pack_corrupt = problems
        return report

    def status(self, expected: Mapping[str, str], *, verify: bool = True) -> tuple[set[str], list[str]]:
        """(done, missing) for ``expected`` id -> video digest; a digest mismatch is missing.

        With ``verify`` (the default: what a features run asks before reusing anything), every
        video counted done has been read back and matched its checksums; one that fails is removed,
        so it counts as missing and the caller recomputes it, and a current pack that fails is
        unset, so the caller repacks. A video written before checksums existed gets them recorded
        once it reads back finite and in time order. Each repair goes to ``store.repairs``.
        ``verify=False`` only compares recorded digests (one ``stat`` per id).
        """
        if not verify:
            done = {vid for vid, digest in expected.items() if self.recorded_digest(vid) == digest}
            return done, [vid for vid in expected if vid not in done]
        verdicts = {vid: check_video(self.videos, vid, digest) for vid, digest in expected.items()}
        for vid, v in verdicts.items():
            if v.state in BROKEN and self.videos.remove_if_unchanged(vid, v.inode):
                self.store.repairs.append(
                    Repair(
                        str(self.videos.path / vid),
                        v.reason,
                        "removed; counted missing, so the features run recomputes it",
                    )
                )
            elif v.state == "unverified":
                self.videos.write(vid, v.meta.digest, *v.arrays, v.meta.written_at)
                self.store.repairs.append(
                    Repair(
                        str(self.videos.path / vid),
                        "written before checksums existed",
                        "verified finite and ordered; checksums recorded",
                    )
                )
        self.repair_pack(verdicts)
        done = {vid for vid, v in verdicts.items() if v.state in ("ok", "unverified")}
        return done, [vid for vid in expected if vid not in done]

    def recorded_digest(self, video_id: str) -> str | None:
        """The digest a video's metadata records; None when absent or unreadable (then it is recomputed)."""
        try:
            meta = self.videos.meta(video_id)
        except CorruptFeaturesError:
            return None
        return meta.digest if meta is not None else None

    def repair_pack(self, verdicts: Mapping[str, VideoVerdict]) -> None:
        """Unset the current pack when its files fail or it holds other rows than verified videos."""
        pack, problems = current_pack(self.packs)
        mismatch: list[str] = []
        if pack is not None:
            problems, mismatch = pack_problems(pack, dict(verdicts))
        if not problems and not mismatch:
            return
        self.packs.set_pointer(None, None)
        where = str(pack.path) if pack is not None else str(self.packs.path / "zarr.json")
        why = "; ".join(problems) or (
            f"packed rows differ from the current arrays of {len(mismatch)} videos, e.g. {mismatch[:5]}"
        )
        self.store.repairs.append(Repair(where, why, "unset; the features run repacks"))

    def nbytes(self) -> int:
        """Bytes on disk of this group (per-video arrays plus kept packs)."""
        total = 0
        for dirpath, _, files in os.walk(self.path):
            for name in files:
                with contextlib.suppress(FileNotFoundError):
                    total += os.stat(os.path.join(dirpath, name)).st_size
        return total
