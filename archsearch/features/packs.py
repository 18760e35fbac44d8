"""Immutable packs of a feature group and the ``read_split`` fast path.

Training reads whole splits, so ``Packs.build(order)`` concatenates the current per-video arrays
(pass split order: each split becomes one row range) into a new, uncompressed, versioned pack,
then swaps the pointer in ``packs/zarr.json`` with ``os.replace``. Readers never see a moment
without a pack, the previous pack is kept so a reader that started on it can finish, and an
``flock`` keeps two packers from deleting each other's packs. A pack is a copy (the per-video
arrays stay the source of truth), so writers never wait for it and it can always be rebuilt.

A pack records, besides ids, video digests and row offsets, the checksums of each video's packed
rows and of each chunk file, and the pointer records the checksum of the pack's index. ``read_split``
verifies the rows it returns; ``pack_index.check_pack`` verifies every chunk file. A pack without
checksums (written before they were recorded) is never read from; the next features run replaces it.

Why uncompressed, read straight into the output buffer: zstd/blosc saved only ~8 % on
embedding-like float16 but cut zarr-python read throughput to 0.1-0.2x of ``np.load``, and even
uncompressed, zarr-python's path (async per-chunk reads plus a second copy) reached 0.35-0.47x.
``fsio.read_rows`` reads chunk files into a page-aligned buffer with one copy:
``bench/store_read.py`` (1,500 x 50 x 1024) measures a split read at 0.7-0.9x ``np.load``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from archsearch.common import utc_now
from archsearch.features.fsio import (
    aligned_empty,
    array_layout,
    flock,
    read_json,
    staging_name,
    write_json_atomic,
)
from archsearch.features.integrity import array_checksums, chunk_paths, file_checksums
from archsearch.features.pack_index import Pack, load_pack
from archsearch.features.records import CorruptFeaturesError, FeatureStoreError, MissingFeaturesError, PackInfo
from archsearch.features.split_read import plan_split, read_planned
from archsearch.features.videos import VideoArrays

__all__ = ["PACK_CHUNK_BYTES", "Packs"]

PACK_CHUNK_BYTES = 4 << 20  # rows per pack chunk ~ 4 MiB: few files, bulk reads, fits L3 copies


class Packs:
    """The ``packs/`` directory of one group, built from and falling back to its ``VideoArrays``."""

    def __init__(self, path: Path, videos: VideoArrays, tmp_root: Path, lock_path: Path, dim: int) -> None:
        self.path, self.videos, self.tmp_root, self.lock_path, self.dim = path, videos, tmp_root, lock_path, dim
        self.cache: dict[str, Pack] = {}

    # ------------------------------------------------------------------ pointer

    def pointer(self) -> dict[str, Any]:
        """{current, previous, index_checksum}; {} when the pointer file is absent (no pack yet)."""
        try:
            return read_json(self.path / "zarr.json").get("attributes", {})
        except FileNotFoundError:
            return {}

    def set_pointer(self, current: str | None, previous: str | None) -> None:
        """Point readers at pack ``current`` (None: no pack), recording the checksum of its index."""
        meta = {"zarr_format": 3, "node_type": "group", "attributes": {}}
        with contextlib.suppress(FileNotFoundError, CorruptFeaturesError):  # then it is rewritten whole
            meta = read_json(self.path / "zarr.json")
        index = file_checksums([self.path / current / "zarr.json"])[0] if current else None
        meta["attributes"] = {"current": current, "previous": previous, "index_checksum": index}
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path / "zarr.json", meta, self.tmp_root)

    def load(self, pack_id: str, index_checksum: str | None) -> Pack:
        hit = self.cache.get(pack_id)
        if hit is None or hit.index_verified != (index_checksum is not None):
            hit = load_pack(self.path / pack_id, index_checksum)
            self.cache = {pack_id: hit}  # packs are immutable; keep only the latest
        return hit

    def current(self) -> Pack | None:
        pointer = self.pointer()
        current = pointer.get("current")
        return self.load(current, pointer.get("index_checksum")) if current else None

    def info(self) -> PackInfo | None:
        """The current pack's index, or None before the first ``build``."""
        pack = self.current()
        return pack.info if pack is not None else None

    # ------------------------------------------------------------------ read

    def read_split(
        self, ids: Sequence[str], digests: Mapping[str, str] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All features of ``ids`` concatenated, verified: (data (N, D) f16, offsets (n+1,) i64, times (N,) f64).

        Rows of ids[i] are data[offsets[i]:offsets[i+1]]. Ids whose packed digest equals the
        reference digest (``digests[id]`` when given, else the current per-video digest)
        come from the pack, each run of consecutive pack positions in one contiguous read;
        the rest are read from their own arrays. Every id's rows are checked against the
        checksums recorded when they were written (``CorruptFeaturesError`` naming the file).
        Raises ``MissingFeaturesError`` naming absent ids.
        """
        ids = list(ids)
        for _ in range(3):
            try:
                return self.read_split_once(ids, digests)
            except FileNotFoundError as exc:
                self.cache.clear()  # a pack vanished under us (two repacks during one read)
                gone = exc
        raise CorruptFeaturesError(f"{gone.filename}: missing, though the pack pointer names its pack") from gone

    def read_split_once(
        self, ids: list[str], digests: Mapping[str, str] | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pack = self.current()
        if pack is not None and not pack.verifiable:
            pack = None  # never serve rows that cannot be verified; the per-video arrays can be
        plan = plan_split(ids, digests, pack, self.videos)
        if plan.absent:
            why = "" if digests is None else " at the requested digests"
            raise MissingFeaturesError(
                f"feature group {self.path.parent}: {len(plan.absent)} of {len(ids)} ids have no features{why}, "
                f"e.g. {plan.absent[:10]}"
            )
        data = aligned_empty((int(plan.offsets[-1]), self.dim), np.float16)  # (N, D)
        times = aligned_empty((int(plan.offsets[-1]),), np.float64)  # (N,)
        read_planned(plan, pack, data, times)
        return data, plan.offsets, times

    # ------------------------------------------------------------------ build

    def build(self, order: Sequence[str] | None = None) -> tuple[PackInfo, list[str]]:
        """Consolidate all visible videos into one new pack, ``order`` first; returns (info, left out).

        Visible videos not in ``order`` follow, sorted. A video that fails its checksums is left
        out (its rows stay zero and its digest is recorded as "", so readers never use them) and
        reported as "<id>: <reason>". Builds in staging and swaps the pointer atomically.
        """
        order = list(order or [])
        dup = sorted(v for v, c in Counter(order).items() if c > 1)
        if dup:
            raise FeatureStoreError(f"pack: order repeats ids {dup[:10]}")
        with flock(self.lock_path):
            metas = {}
            for vid in self.videos.ids():
                try:
                    if (m := self.videos.meta(vid)) is not None:
                        metas[vid] = m
                except CorruptFeaturesError:
                    pass  # unreadable metadata: not a video that can be packed
            unknown = [v for v in order if v not in metas]
            if unknown:
                raise MissingFeaturesError(
                    f"pack: feature group {self.path.parent} has no features for {len(unknown)} ids in order, "
                    f"e.g. {unknown[:10]}"
                )
            seen = set(order)
            full = order + sorted(v for v in metas if v not in seen)
            lengths = np.array([metas[v].T for v in full], dtype=np.int64)  # (n,)
            offsets = np.zeros(len(full) + 1, dtype=np.int64)  # (n+1,)
            np.cumsum(lengths, out=offsets[1:])
            pack_id = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
            left_out = self.write_pack(pack_id, full, metas, offsets)
            try:
                previous = self.pointer().get("current")
            except CorruptFeaturesError:
                previous = None  # an unreadable pointer is replaced whole
            self.set_pointer(pack_id, previous)
            for entry in os.scandir(self.path):
                if entry.is_dir() and entry.name not in (pack_id, previous):
                    shutil.rmtree(entry.path, ignore_errors=True)
            info = self.current().info  # under the lock: the pack just built, even if another packer waits
        return info, left_out

    def write_pack(self, pack_id: str, full: list[str], metas: Mapping[str, Any], offsets: np.ndarray) -> list[str]:
        n_rows = int(offsets[-1])
        rows = max(1, min(PACK_CHUNK_BYTES // (2 * self.dim), n_rows))  # edge chunks are stored full-size
        stage = self.tmp_root / staging_name()
        try:
            g = zarr.create_group(str(stage))
            raw = {"compressors": None, "config": {"write_empty_chunks": True}}  # the hot path: uncompressed
            d_arr = g.create_array("data", shape=(n_rows, self.dim), chunks=(rows, self.dim), dtype="f2", **raw)
            t_arr = g.create_array("times", shape=(n_rows,), chunks=(rows,), dtype="f8", **raw)
            digests, sums, left_out = self.stream_into(full, metas, offsets, rows, d_arr, t_arr)
            chunk_sums = {name: file_checksums(chunk_paths(array_layout(stage / name))) for name in ("data", "times")}
            index = {"ids": full, "digests": digests, "offsets": offsets.tolist(), "checksums": sums}
            g.attrs.update({**index, "chunk_checksums": chunk_sums, "created_at": utc_now(), "dim": self.dim})
            os.rename(stage, self.path / pack_id)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        return left_out

    def stream_into(
        self, full: list[str], metas: Mapping[str, Any], offsets: np.ndarray, rows: int, d_arr: Any, t_arr: Any
    ) -> tuple[list[str], list[list[str]], list[str]]:
        """Copy verified videos into the pack in chunk-aligned blocks (bounded memory).

        Returns per id its digest and (features, times) checksums, plus the ids left out. A
        video rewritten since the scan with the same T is packed with its new digest; with a
        different T, or failing its checksums, its rows stay zero and its digest is "".
        """
        n_rows = int(offsets[-1])
        block_rows = rows * max(1, (64 << 20) // (rows * 2 * self.dim))  # ~64 MiB blocks
        buf = np.zeros((min(block_rows, max(n_rows, 1)), self.dim), dtype=np.float16)  # (B, D)
        tbuf = np.zeros(buf.shape[0], dtype=np.float64)  # (B,)
        digests: list[str] = []
        sums: list[list[str]] = []
        left_out: list[str] = []
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
            try:
                got = self.videos.read(vid)
            except CorruptFeaturesError as exc:
                got = None
                left_out.append(f"{vid}: {exc}")
            ok = got is not None and got[0].T == metas[vid].T
            digests.append(got[0].digest if ok else "")
            sums.append(list(got[0].checksums or array_checksums(got[1], got[2])) if ok else ["", ""])
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
        return digests, sums, left_out
