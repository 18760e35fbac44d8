"""Shared test fixtures: tiny real videos, an isolated data root, no network."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def write_test_video(path: Path, *, n_frames: int = 40, fps: int = 20, size: tuple[int, int] = (48, 64)) -> Path:
    """A small H.264 clip whose frame k has mean intensity ~ 4k (so tests can tell frames apart)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = size
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "18", "preset": "ultrafast"}
        for k in range(n_frames):
            frame = np.full((h, w, 3), (4 * k) % 256, dtype=np.uint8)
            frame[:, : w // 4, 0] = 255 - (4 * k) % 256
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def toy_manifest(folder: Path, n: int = 6, n_frames: int = 40, frames_step: int = 2, size: tuple[int, int] = (48, 64)):
    """A manifest of ``n`` real clips of dataset "toy" under ``folder/vids`` (clip i has n_frames + i * frames_step
    frames; splits and labels alternate), as the feature store and extraction read it."""
    import polars as pl

    from archsearch.data.manifest import file_digest

    rows = []
    for i in range(n):
        p = write_test_video(folder / "vids" / f"{i:05d}.mp4", n_frames=n_frames + frames_step * i, fps=20, size=size)
        rows.append(
            {
                "dataset": "toy",
                "video_id": f"{i:05d}",
                "path": str(p),
                "video_digest": file_digest(p),
                "split": ["train", "val", "test"][i % 3],
                "label": i % 2,
            }
        )
    return pl.DataFrame(rows)


@pytest.fixture
def video_factory(tmp_path):
    def make(name: str = "clip.mp4", **kw) -> Path:
        return write_test_video(tmp_path / name, **kw)

    return make


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "archsearch_home"
    monkeypatch.setenv("ARCHSEARCH_HOME", str(root))
    return root


@pytest.fixture
def one_torch_thread():
    """Tiny tensors gain nothing from threads, and on a shared 2-core box a second OpenMP thread waiting
    for a busy core made tests up to 20x slower. Use with ``pytestmark = pytest.mark.usefixtures(...)``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
