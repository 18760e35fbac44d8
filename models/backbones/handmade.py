"""Weight-free baselines: `motion` (hand-made motion energy + looming cues) and `pixels` (tiny frames).

They answer "how far do learned features get us beyond raw motion/appearance?" and cost almost
nothing to compute, so the default offline search space always has cheap, well-understood cells.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import InputSpec
from .runtime import TorchBackbone

GRID = 8  # motion cells per side
SEARCH = 4  # block-matching search radius in pixels (at the motion resolution)
_LUMA = (0.299, 0.587, 0.114)
# The 16 global motion scalars, in feature order (after the five 8x8 grids).
SCALAR_NAMES = (
    "energy",
    "energy_centre",
    "energy_left",
    "energy_right",
    "energy_bottom",
    "energy_top",
    "change",
    "change_centre",
    "radial",
    "radial_centre",
    "divergence",
    "divergence_centre",
    "speed",
    "area_growth_centre",
    "area_growth",
    "area_centre",
)


def _gray(clips: torch.Tensor) -> torch.Tensor:
    """(B, F, 3, H, W) in [0, 1] -> (B, F, H, W) luma."""
    w = torch.tensor(_LUMA, dtype=clips.dtype, device=clips.device).view(1, 1, 3, 1, 1)
    return (clips * w).sum(dim=2)


def _cells(x: torch.Tensor) -> torch.Tensor:
    """(B, H, W) -> (B, GRID, GRID) cell means."""
    return F.adaptive_avg_pool2d(x.unsqueeze(1), GRID).squeeze(1)


def _subpixel(cm: torch.Tensor, c0: torch.Tensor, cp: torch.Tensor) -> torch.Tensor:
    """Parabola through costs at -1, 0, +1: offset of its minimum in [-0.5, 0.5]."""
    den = cm - 2 * c0 + cp
    return torch.where(den > 1e-6, 0.5 * (cm - cp) / den.clamp_min(1e-6), torch.zeros_like(den)).clamp(-0.5, 0.5)


def block_match(prev: torch.Tensor, cur: torch.Tensor, radius: int = SEARCH) -> tuple[torch.Tensor, torch.Tensor]:
    """Coarse optical flow per cell by exhaustive block matching: (B, H, W) x2 -> u, v (B, GRID, GRID) px.

    For every shift (dx, dy) within +-radius, the mean absolute difference between the current frame
    and the shifted previous frame is pooled per cell; the best shift is the cell's motion
    (prev(y - dy, x - dx) ~ cur(y, x)), refined to sub-pixel by a parabola fit per axis. A small
    penalty on |shift| makes flat cells prefer zero motion.
    """
    pad = F.pad(prev.unsqueeze(1), [radius] * 4, mode="replicate").squeeze(1)  # (B, H+2r, W+2r)
    h, w = cur.shape[-2:]
    n = 2 * radius + 1
    sads, penalty = [], []
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            shifted = pad[:, radius - dy : radius - dy + h, radius - dx : radius - dx + w]
            sads.append(_cells((cur - shifted).abs()))
            penalty.append(1e-3 * (dx * dx + dy * dy) ** 0.5)
    sad = torch.stack(sads, dim=1)  # (B, n*n, 8, 8), shift index = (dy + r) * n + (dx + r)
    best = (sad + torch.tensor(penalty, dtype=sad.dtype, device=sad.device).view(1, -1, 1, 1)).argmin(dim=1)
    iy, ix = best // n, best % n  # (B, 8, 8)

    def at(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return sad.gather(1, (y.clamp(0, n - 1) * n + x.clamp(0, n - 1)).unsqueeze(1)).squeeze(1)

    c0 = at(iy, ix)
    refine = c0 > 1e-3  # an (almost) exact match means the integer shift is the motion
    zero = torch.zeros_like(c0)
    fx = torch.where(refine & (ix > 0) & (ix < n - 1), _subpixel(at(iy, ix - 1), c0, at(iy, ix + 1)), zero)
    fy = torch.where(refine & (iy > 0) & (iy < n - 1), _subpixel(at(iy - 1, ix), c0, at(iy + 1, ix)), zero)
    return (ix - radius).to(cur.dtype) + fx, (iy - radius).to(cur.dtype) + fy


class MotionBackbone(TorchBackbone):
    """Motion energy on an 8x8 grid, block-matching flow, radial (looming) flow and region energies.

    Each feature at t uses the three frames t-0.2, t-0.1, t (decoded at 10 fps), i.e. the two most
    recent frame differences. Layout (336 dims): energy grid 64 | energy change grid 64 | flow u 64 |
    flow v 64 | radial flow 64 | 16 global scalars (SCALAR_NAMES). Flow is in image widths/heights
    per second so it does not depend on the decode resolution.
    """

    name, dim, pooling = "motion", 336, "grid8"
    use_autocast = False
    exportable = False  # cheap tensor arithmetic, no weights: eager torch whatever runtime is asked

    def __init__(
        self, *, weights_dir=None, device=None, batch_size: int = 64, runtime: str = "torch", cache_dir=None
    ) -> None:
        super().__init__(device=device, batch_size=batch_size, runtime=runtime, cache_dir=cache_dir)
        self.spec = InputSpec(10.0, 3, 2, (72, 128), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))

    def _compute_digest(self) -> str:
        return "none"

    def _extra_params(self) -> dict:
        return {"grid": GRID, "search_radius": SEARCH, "motion_version": 2}

    def forward_clips(self, clips: torch.Tensor) -> torch.Tensor:
        g = _gray(clips.float())  # (B, 3, H, W)
        b, _, h, w = g.shape
        fps = self.spec.decode_fps
        d1, d2 = (g[:, 1] - g[:, 0]).abs(), (g[:, 2] - g[:, 1]).abs()  # (B, H, W) older, newer
        e1, e2 = _cells(d1), _cells(d2)  # (B, 8, 8)
        energy, change = (e1 + e2) / 2, e2 - e1
        u, v = block_match(g[:, 1], g[:, 2])  # (B, 8, 8) pixels per frame
        u, v = u * fps / w, v * fps / h  # image widths / heights per second
        # Outward unit vectors from the image centre at each cell centre: looming = positive radial flow.
        c = (torch.arange(GRID, dtype=g.dtype, device=g.device) + 0.5) / GRID - 0.5
        ry, rx = torch.meshgrid(c, c, indexing="ij")
        norm = (rx**2 + ry**2).sqrt()
        radial = u * (rx / norm) + v * (ry / norm)  # (B, 8, 8)
        # Divergence of the flow grid (central differences, cell spacing 1/GRID image).
        div = (torch.gradient(u, dim=2)[0] + torch.gradient(v, dim=1)[0]) * GRID  # (B, 8, 8)
        mid = slice(GRID // 4, GRID - GRID // 4)
        # Growth of the high-difference area: share of pixels above a fixed threshold, newer - older.
        thr = 0.08
        centre = (slice(None), slice(h // 4, h - h // 4), slice(w // 4, w - w // 4))
        area1, area2 = (d1 > thr).float(), (d2 > thr).float()

        def area(a: torch.Tensor, region=(slice(None),) * 3) -> torch.Tensor:
            return a[region].mean((1, 2))  # (B,) share of high-difference pixels

        s = {
            "energy": energy.mean((1, 2)),
            "energy_centre": energy[:, mid, mid].mean((1, 2)),
            "energy_left": energy[:, :, : GRID // 2].mean((1, 2)),
            "energy_right": energy[:, :, GRID // 2 :].mean((1, 2)),
            "energy_bottom": energy[:, GRID // 2 :].mean((1, 2)),
            "energy_top": energy[:, : GRID // 2].mean((1, 2)),
            "change": change.mean((1, 2)),
            "change_centre": change[:, mid, mid].mean((1, 2)),
            "radial": radial.mean((1, 2)),
            "radial_centre": radial[:, mid, mid].mean((1, 2)),
            "divergence": div.mean((1, 2)),
            "divergence_centre": div[:, mid, mid].mean((1, 2)),
            "speed": (u**2 + v**2).sqrt().mean((1, 2)),
            "area_growth_centre": area(area2, centre) - area(area1, centre),
            "area_growth": area(area2) - area(area1),
            "area_centre": area(area2, centre),
        }
        scalars = torch.stack([s[k] for k in SCALAR_NAMES], dim=1)  # (B, 16)
        grids = [energy, change, u, v, radial]
        return torch.cat([x.reshape(b, -1) for x in grids] + [scalars], dim=1)  # (B, 336)


class PixelsBackbone(TorchBackbone):
    """Grayscale frame downsampled to 16x16 (256-d), standardised per frame (mean 0, std 1)."""

    name, dim, pooling = "pixels", 256, "gray16x16"
    use_autocast = False
    exportable = False  # cheap tensor arithmetic, no weights: eager torch whatever runtime is asked
    SIDE = 16

    def __init__(
        self, *, weights_dir=None, device=None, batch_size: int = 256, runtime: str = "torch", cache_dir=None
    ) -> None:
        super().__init__(device=device, batch_size=batch_size, runtime=runtime, cache_dir=cache_dir)
        self.spec = InputSpec(5.0, 1, 1, (64, 64), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))

    def _compute_digest(self) -> str:
        return "none"

    def _extra_params(self) -> dict:
        return {"side": self.SIDE, "normalise": "per_frame_zscore_std_floor_0.05"}

    def forward_clips(self, clips: torch.Tensor) -> torch.Tensor:
        g = _gray(clips[:, -1:].float())  # (B, 1, H, W)
        small = F.interpolate(g, size=(self.SIDE, self.SIDE), mode="bilinear", antialias=True, align_corners=False)
        flat = small.flatten(1)  # (B, 256)
        mu, sd = flat.mean(1, keepdim=True), flat.std(1, keepdim=True).clamp_min(0.05)
        return (flat - mu) / sd
