"""Atomic small-file writes: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path


def write_text_atomic(path: str | os.PathLike[str], text: str, staging_dir: str | os.PathLike[str] | None = None) -> Path:
    """Write ``text`` to a temp file, fsync it, then rename it over ``path``.

    The temp file lives beside ``path`` (or in ``staging_dir``, which must be on the same
    filesystem: the feature store stages in its own swept tmp folder so a killed writer leaves no
    stray file among its groups), so the rename never crosses filesystems; its name carries host and
    pid so concurrent writers (several workers on a shared disk) never collide.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = path.parent if staging_dir is None else Path(staging_dir)
    tmp = folder / f".{path.name}.{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
