"""Small PNG previews so a user can see in the UI what a dataset's clips look like."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np


def thumbnail_strip(path: str | Path, times: list[float], height: int = 90) -> bytes:
    """Frames at ``times`` side by side, as PNG bytes."""
    from PIL import Image

    from archsearch.data.decode import decode_video

    clip = decode_video(path, fps=10.0)
    idx = [int(np.searchsorted(clip.timestamps, t, side="right") - 1) for t in times]
    frames = [clip.frames[max(i, 0)] for i in idx]  # (H, W, 3) each
    h, w = frames[0].shape[:2]
    width = max(1, round(w * height / h))
    tiles = [Image.fromarray(f).resize((width, height), Image.BILINEAR) for f in frames]
    strip = Image.new("RGB", (width * len(tiles) + 2 * (len(tiles) - 1), height), (255, 255, 255))
    for i, tile in enumerate(tiles):
        strip.paste(tile, (i * (width + 2), 0))
    buf = io.BytesIO()
    strip.save(buf, format="PNG")
    return buf.getvalue()


def png_markdown(png: bytes, alt: str) -> str:
    """Inline a PNG into markdown metadata (the Dagster UI renders data URIs)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
