"""The pack half of ``FeatureGroup``: immutable packs and the ``read_split`` fast path.

Training reads whole splits, so ``pack(order)`` concatenates the current per-video arrays
into one uncompressed, versioned pack and ``read_split`` serves each run of consecutive
pack positions with one direct read (see the ``features`` module docstring for the
measurements and the visibility rules). ``GroupPacks`` is a mixin rather than a separate
object so ``FeatureGroup`` keeps its public methods and this code moved unchanged; it
relies on what ``FeatureGroup.__init__`` sets (store, dataset, key, path, packs_path, dim,
_packs) and on its ``ids``, ``_video_meta`` and ``_read_video``.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import zarr

from archsearch.features.fsio import (
    ArrayLayout,
    aligned_empty,
    array_layout,
    flock,
    read_json,
    read_rows,
    staging_name,
    write_json_atomic,
)
from archsearch.features.keys import NAME_RE, utc_now
from archsearch.features.records import FeatureStoreError, MissingFeaturesError, PackInfo, VideoMeta

if TYPE_CHECKING:
    from archsearch.features.store import FeatureStore

__all__ = ["PACK_CHUNK_BYTES", "GroupPacks"]

PACK_CHUNK_BYTES = 4 << 20  # rows per pack chunk ~ 4 MiB: few files, bulk reads, fits L3 copies


@dataclass
class Pack:
    info: PackInfo
    path: Path
    pos: dict[str, int]
    data: ArrayLayout | None
    times: ArrayLayout | None


class GroupPacks:
    """Pack building and split reads of a ``FeatureGroup`` (mixed into it; see the module docstring)."""

    # Set by FeatureGroup.__init__.
    store: FeatureStore
    dataset: str
    key: str
    path: Path
    packs_path: Path
    dim: int
    _packs: dict[str, Pack]

    # ------------------------------------------------------------------ read

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
                meta = self._video_meta(vid) if NAME_RE.match(vid) else None
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
            got = self._read_video(vid) if NAME_RE.match(vid) else None
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

    def _load_pack(self, pack_id: str) -> Pack:
        hit = self._packs.get(pack_id)
        if hit is not None:
            return hit
        path = self.packs_path / pack_id
        a = read_json(path / "zarr.json")["attributes"]
        info = PackInfo(
            pack_id, tuple(a["ids"]), tuple(a["digests"]), np.asarray(a["offsets"], dtype=np.int64), a["created_at"]
        )
        pos = {v: i for i, v in enumerate(info.ids)}
        pack = Pack(info, path, pos, array_layout(path / "data"), array_layout(path / "times"))
        self._packs = {pack_id: pack}  # packs are immutable; keep only the latest
        return pack

    def _current_pack(self) -> Pack | None:
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
                g.attrs.update({**index, "created_at": utc_now(), "dim": self.dim})
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
