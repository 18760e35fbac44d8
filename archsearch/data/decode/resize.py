"""Frame geometry in torch and numpy: the squash-resize, the display rotation, the size check.

One resizer serves the PyAV path and decord's fallback for widths its scaler cannot copy out,
so both paths produce the same pixels whenever decord is not scaling. Torch is imported
inside the function so importing the decode package stays cheap.
"""

from __future__ import annotations

import numpy as np

RESIZE_CHUNK = 32  # frames per torch resize call: amortises call overhead, bounds memory


def check_size(size: tuple[int, int] | None) -> tuple[int, int] | None:
    """``size`` as (height, width) positive ints, or None; a clear ValueError otherwise."""
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


def rotate_frame(frame: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a stored (H, W, 3) frame the way a player shows it (``rotation``: degrees counter-clockwise)."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(frame, k)) if k else frame


def resize_frames(frames: np.ndarray, size: tuple[int, int], *, chunk: int = RESIZE_CHUNK) -> np.ndarray:
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
