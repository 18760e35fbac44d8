"""A pack's on-disk index and its checks: what ``packs/<pack_id>/zarr.json`` records and whether the files agree.

The index holds ids, video digests, row offsets, the checksums of each video's packed rows and of
each chunk file. Loading validates the index itself; ``check_pack`` re-reads every chunk file;
``Pack.verify_rows`` checks rows a reader has just read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from archsearch.features.fsio import ArrayLayout, array_layout, parse_json
from archsearch.features.integrity import array_checksums, bytes_checksum, check_chunk_files, chunk_paths
from archsearch.features.records import CorruptFeaturesError, PackInfo


@dataclass
class Pack:
    """One loaded pack: its index, where it lives, id -> position, and the direct-read layouts."""

    info: PackInfo
    path: Path
    pos: dict[str, int]
    data: ArrayLayout | None
    times: ArrayLayout | None
    chunk_checksums: dict[str, list[str]] | None
    index_verified: bool  # the index bytes matched the checksum the pointer recorded

    @property
    def verifiable(self) -> bool:
        return self.index_verified and self.info.checksums is not None and self.chunk_checksums is not None

    def verify_rows(self, p: int, data: np.ndarray, times: np.ndarray) -> None:
        """Raise ``CorruptFeaturesError`` naming the chunk files unless pack position ``p``'s rows are intact."""
        want = self.info.checksums[p]
        got = array_checksums(data, times)
        if got == want:
            return
        k = 0 if got[0] != want[0] else 1
        name, layout = ("data", self.data) if k == 0 else ("times", self.times)
        a, b = int(self.info.offsets[p]), int(self.info.offsets[p + 1])
        files = chunk_paths(layout)[a // layout.chunk_rows : (b - 1) // layout.chunk_rows + 1] if layout else []
        raise CorruptFeaturesError(
            f"{', '.join(map(str, files or [self.path / name]))}: rows {a}:{b} (video {self.info.ids[p]!r}) have "
            f"checksum {got[k]}, not the {want[k]} recorded when the pack was built"
        )


def load_pack(path: Path, index_checksum: str | None) -> Pack:
    """A pack from its directory; ``CorruptFeaturesError`` naming the file if its index is unreadable or is
    not the one the pointer recorded (``index_checksum``; None for a pack from before checksums)."""
    where = path / "zarr.json"
    raw = where.read_bytes()
    if index_checksum is not None and (got := bytes_checksum(raw)) != index_checksum:
        raise CorruptFeaturesError(
            f"{where}: checksum {got} differs from the {index_checksum} the pack pointer "
            "recorded when the pack was built"
        )
    a = parse_json(raw, where).get("attributes", {})
    try:
        ids, digests = tuple(a["ids"]), tuple(a["digests"])
        offsets = np.asarray(a["offsets"], dtype=np.int64)  # (n+1,)
        sums = a.get("checksums")
        checksums = tuple((str(f), str(t)) for f, t in sums) if sums is not None else None
        chunk_sums = a.get("chunk_checksums")
        info = PackInfo(path.name, ids, digests, offsets, str(a["created_at"]), checksums)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFeaturesError(f"{where}: not a pack index (missing or bad {exc})") from exc
    n = len(ids)
    if len(digests) != n or offsets.shape != (n + 1,) or (checksums is not None and len(checksums) != n):
        n_sums = "no" if checksums is None else len(checksums)
        raise CorruptFeaturesError(
            f"{where}: pack index lengths disagree ({n} ids, {len(digests)} digests, "
            f"{offsets.shape[0]} offsets, {n_sums} checksums)"
        )
    pos = {v: i for i, v in enumerate(ids)}
    if len(pos) != n:
        raise CorruptFeaturesError(f"{where}: the pack index repeats video ids")
    layouts = array_layout(path / "data"), array_layout(path / "times")
    return Pack(info, path, pos, *layouts, chunk_sums, index_checksum is not None)


def check_pack(pack: Pack) -> list[str]:
    """Problems of a pack's files, each naming its file; [] when every chunk has its recorded checksum."""
    if not pack.verifiable:
        return [f"{pack.path}: written before checksums were recorded (cannot be verified; the run repacks)"]
    problems = []
    for name, layout in (("data", pack.data), ("times", pack.times)):
        if layout is None or layout.codec != "raw":
            problems.append(f"{pack.path / name}: not an uncompressed pack array")
            continue
        if layout.shape[0] != pack.info.n_rows:
            problems.append(f"{pack.path / name}: {layout.shape[0]} rows but the index says {pack.info.n_rows}")
        problems += check_chunk_files(layout, pack.chunk_checksums.get(name, []))
    return problems
