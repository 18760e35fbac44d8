"""What a manifest records about each video file: counted frames, timing, size, codec, digest, backend.

One ClipProber serves every dataset of a manifest build and caches by resolved path, so a file
listed in two datasets is read, digested and probed once. Probing reads the whole file (every
packet, plus the last GOP decoded), decides the decode backend for it and, when that is decord,
checks decord's frame times against the container's once.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from archsearch.data.decode import BackendChoice, VideoInfo, choose_backend, probe_video


@dataclass(frozen=True)
class ClipFacts:
    """A probed video file: its counted facts, its content digest and the backend that decodes it."""

    info: VideoInfo
    digest: str
    backend: BackendChoice


def file_digest(path: str | Path, chunk: int = 1 << 20) -> str:
    """Content digest (sha256, 16 hex) so a changed video invalidates exactly its own features."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(chunk):
                h.update(block)
    except OSError as e:
        raise OSError(f"{path}: cannot read the file to digest it ({e.strerror or e})") from e
    return h.hexdigest()[:16]


class ClipProber:
    """Probes video files once each (cached by resolved path) with the configured backend mode."""

    def __init__(self, backend_mode: str = "auto", workers: int = 4):
        self.backend_mode = backend_mode
        self.workers = max(1, int(workers))
        self.cache: dict[str, ClipFacts | str] = {}

    def probe_one(self, path: Path) -> ClipFacts | str:
        """ClipFacts, or the error message (type and text) when the file cannot be used."""
        try:
            info = probe_video(path, full=True)
            choice = choose_backend(info.facts, self.backend_mode, verify=True)
            return ClipFacts(info, file_digest(path), choice)
        except Exception as exc:  # noqa: BLE001 - reported per row by the caller, never swallowed
            return f"{type(exc).__name__}: {exc}"

    def probe_many(self, paths: list[Path]) -> dict[str, ClipFacts | str]:
        """Resolved path -> ClipFacts or error, probing only files not seen before (in threads)."""
        keys = [str(p.resolve()) for p in paths]
        todo = sorted({k for k in keys if k not in self.cache})
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for key, result in zip(todo, pool.map(lambda k: self.probe_one(Path(k)), todo)):
                self.cache[key] = result
        return {k: self.cache[k] for k in keys}
