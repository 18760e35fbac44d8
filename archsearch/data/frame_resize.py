"""Squash-resize of decoded frames in torch (bilinear, antialiased), and the size argument check.

Why a module of its own: the PyAV backend always resizes here, and decord falls back to it
for widths its own scaler cannot copy out; keeping one resizer means both paths produce the
same pixels whenever decord is not doing the scaling. Torch is imported inside the function
so importing the decode package stays cheap.
"""

from __future__ import annotations

import numpy as np

_RESIZE_CHUNK = 32  # frames per torch resize call: amortises call overhead, bounds memory


def _check_size(size: tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    try:
        h, w = (int(v) for v in size)
        ok = (h, w) == tuple(size) and h >= 1 and w >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"size: expected (height, width) positive integers, got {size!r}")
    return h, w


def resize_frames(
    frames: np.ndarray, size: tuple[int, int], *, chunk: int = _RESIZE_CHUNK
) -> np.ndarray:
    """Squash-resize (T, H, W, 3) uint8 frames to size=(h, w): bilinear, antialiased, torch."""
    import torch
    import torch.nn.functional as F

    h, w = size
    if frames.shape[1:3] == (h, w):
        return frames
    out = np.empty((frames.shape[0], h, w, 3), dtype=np.uint8)  # (T, h, w, 3)
    for i in range(0, frames.shape[0], chunk):
        x = torch.from_numpy(np.ascontiguousarray(frames[i : i + chunk]))
        x = x.permute(0, 3, 1, 2).float()  # (t, 3, H, W)
        y = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
        y = y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)  # (t, h, w, 3)
        out[i : i + chunk] = y.numpy()
    return out
