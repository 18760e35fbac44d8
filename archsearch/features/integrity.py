"""Checksums that prove stored features are the bytes that were written.

Every video records the CRC32C of its features and times bytes when it is written, and every pack
records the CRC32C of each chunk file plus each video's (features, times) checksums of its packed
rows. Readers recompute them on the bytes they return, so a flipped bit or a truncated file is
found before anything trains on it, and the message names the file.

Why CRC32C: the threat is accident (bit rot, a half-copied folder, a stray write), not an
adversary, and a 32-bit CRC detects every burst error up to 32 bits and misses a random
corruption with probability 2^-32. google-crc32c (a dependency of zarr) runs at several GB/s
here, about 4x sha256, so verifying a split costs a few ms next to reading it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import google_crc32c
import numpy as np

from archsearch.features.fsio import ArrayLayout, named_os_error
from archsearch.features.records import CorruptFeaturesError

PREFIX = "crc32c:"


def checksum(array: np.ndarray) -> str:
    """``"crc32c:<8 hex>"`` of a C-contiguous array's bytes (little-endian, as stored)."""
    view = np.ascontiguousarray(array).view()
    view.flags.writeable = False  # google_crc32c takes read-only buffers only
    return f"{PREFIX}{google_crc32c.value(view.reshape(-1).view(np.uint8)):08x}"


def bytes_checksum(data: bytes) -> str:
    return f"{PREFIX}{google_crc32c.value(data):08x}"


def array_checksums(features: np.ndarray, times: np.ndarray) -> tuple[str, str]:
    """(features, times) checksums of one video's arrays: (T, D) float16 and (T,) float64."""
    return checksum(features), checksum(times)


def parse_checksums(value: object, where: str) -> tuple[str, str] | None:
    """A stored ``{"features": ..., "times": ...}`` as a pair; None when absent (written before checksums)."""
    if value is None:
        return None
    if (
        isinstance(value, dict)
        and isinstance(value.get("features"), str)
        and isinstance(value.get("times"), str)
        and all(v.startswith(PREFIX) for v in (value["features"], value["times"]))
    ):
        return value["features"], value["times"]
    raise CorruptFeaturesError(
        f"{where}: attribute 'checksums' is {value!r}; expected {{'features': '{PREFIX}...', 'times': '{PREFIX}...'}}"
    )


def checksums_attr(pair: tuple[str, str]) -> dict[str, str]:
    return {"features": pair[0], "times": pair[1]}


def check_video_arrays(vdir: Path, expected: tuple[str, str], features: np.ndarray, times: np.ndarray) -> None:
    """Raise ``CorruptFeaturesError`` naming the array whose bytes differ from its recorded checksum."""
    for name, array, want in (("features", features, expected[0]), ("times", times, expected[1])):
        got = checksum(array)
        if got != want:
            chunk = vdir / name / "c" / "/".join(["0"] * array.ndim)  # per-video arrays are one chunk
            raise CorruptFeaturesError(f"{chunk}: checksum {got} differs from the {want} recorded at write time")


def chunk_paths(layout: ArrayLayout) -> list[Path]:
    """Chunk files of a regular-grid array whose chunks span whole rows, in row order."""
    n_chunks = -(-layout.shape[0] // layout.chunk_rows)
    suffix = "/0" * (len(layout.shape) - 1)
    return [layout.path / "c" / f"{c}{suffix}" for c in range(n_chunks)]


def file_checksums(paths: Sequence[Path]) -> list[str]:
    """Checksum of each file's bytes (``CorruptFeaturesError``/``OSError`` naming a file that cannot be read)."""
    out = []
    for path in paths:
        try:
            with open(path, "rb") as fh:
                out.append(bytes_checksum(fh.read()))
        except FileNotFoundError as exc:
            raise CorruptFeaturesError(f"{path}: chunk file is missing") from exc
        except OSError as exc:
            raise named_os_error(exc, path) from exc
    return out


def check_chunk_files(layout: ArrayLayout, expected: Sequence[str]) -> list[str]:
    """Problems (each naming its file) of an uncompressed array's chunk files against recorded checksums."""
    paths = chunk_paths(layout)
    if len(paths) != len(expected):
        return [f"{layout.path}: {len(paths)} chunks by its shape but {len(expected)} checksums recorded"]
    chunk_bytes = layout.chunk_rows * layout.row_items * layout.dtype.itemsize
    problems = []
    for path, want in zip(paths, expected):
        try:
            size = os.stat(path).st_size
            if size != chunk_bytes:
                problems.append(f"{path}: {size} bytes, expected {chunk_bytes} (truncated or overwritten)")
                continue
            (got,) = file_checksums([path])
        except FileNotFoundError:
            problems.append(f"{path}: chunk file is missing")
            continue
        except (CorruptFeaturesError, OSError) as exc:
            problems.append(str(exc))
            continue
        if got != want:
            problems.append(f"{path}: checksum {got} differs from the {want} recorded when the pack was built")
    return problems
