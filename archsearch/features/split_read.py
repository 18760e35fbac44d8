"""Planning and executing one split read: which rows come from the pack, which from per-video arrays.

The hot read path, apart from the pack's life cycle (build, pointer, checks) in ``packs``, so each
reads top to bottom. The plan maps every requested id to a pack position (when the pack holds it at
the reference digest) or to its own verified arrays; execution turns each run of consecutive pack
positions into one contiguous read and then checks every packed video's rows against the checksums
recorded when the pack was built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from archsearch.features.fsio import read_rows
from archsearch.features.pack_index import Pack
from archsearch.features.records import FeatureStoreError, VideoMeta
from archsearch.features.videos import VideoArrays


@dataclass
class SplitPlan:
    """Where each requested id's rows come from, and where they go in the output."""

    ids: list[str]
    pos: np.ndarray  # (n,) int64 pack position per id, -1: its own arrays
    offsets: np.ndarray  # (n+1,) int64 output row offsets
    singles: dict[int, tuple[VideoMeta, np.ndarray, np.ndarray]] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)  # ordered for the error message


def reference_digests(ids: list[str], digests: Mapping[str, str] | None, videos: VideoArrays) -> tuple[dict, list]:
    """(id -> digest to serve, absent ids): the caller's digests, else each video's current one."""
    if digests is not None:
        nodigest = [v for v in ids if v not in digests]
        if nodigest:
            raise FeatureStoreError(f"read_split: digests lack {len(nodigest)} ids, e.g. {nodigest[:5]}")
        return {v: digests[v] for v in ids}, []
    ref, absent = {}, []
    for vid in ids:
        meta = videos.meta(vid)
        if meta is None:
            absent.append(vid)
        else:
            ref[vid] = meta.digest
    return ref, absent


def plan_split(ids: list[str], digests: Mapping[str, str] | None, pack: Pack | None, videos: VideoArrays) -> SplitPlan:
    """The read plan for ``ids``; per-video arrays are read (and verified) here, pack rows later."""
    ref, absent = reference_digests(ids, digests, videos)
    absent_set = set(absent)
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
    plan = SplitPlan(ids, pos, np.zeros(n + 1, dtype=np.int64), absent=absent)
    for i in np.flatnonzero(pos < 0):
        vid = ids[i]
        if vid in absent_set:
            continue
        got = videos.read(vid)
        if got is None or got[0].digest != ref[vid]:
            plan.absent.append(vid)
            continue
        plan.singles[int(i)] = got
        lengths[i] = got[0].T
    np.cumsum(lengths, out=plan.offsets[1:])
    return plan


def read_planned(plan: SplitPlan, pack: Pack | None, data: np.ndarray, times: np.ndarray) -> None:
    """Fill data (N, D) and times (N,) by ``plan``; packed rows are verified after they are read."""
    n, pos, offsets = len(plan.ids), plan.pos, plan.offsets
    brk = np.ones(n, dtype=bool)
    brk[1:] = (pos[1:] != pos[:-1] + 1) | (pos[1:] < 0) | (pos[:-1] < 0)
    starts = np.flatnonzero(brk)
    for i, j in zip(starts.tolist(), [*starts[1:].tolist(), n]):
        if pos[i] < 0:  # a single per-video read (runs of -1 have length 1)
            _, f, t = plan.singles[i]
            data[offsets[i] : offsets[i + 1]] = f
            times[offsets[i] : offsets[i + 1]] = t
            continue
        a, b = int(pack.info.offsets[pos[i]]), int(pack.info.offsets[pos[j - 1] + 1])
        read_rows(pack.data, pack.path / "data", a, b, data[offsets[i] : offsets[j]])
        read_rows(pack.times, pack.path / "times", a, b, times[offsets[i] : offsets[j]])
        for k in range(i, j):
            pack.verify_rows(int(pos[k]), data[offsets[k] : offsets[k + 1]], times[offsets[k] : offsets[k + 1]])
