"""Anti-aliased 2-D drawing on a float32 canvas: convex polygons, rectangles, ellipses, glows.

Solids are filled by half-plane tests inside their bounding box with a one-pixel soft edge,
so that distant, sub-pixel vehicles fade in smoothly instead of popping (a popping vehicle
would be a spurious cue for the models).
"""

from __future__ import annotations

import math

import numpy as np

# ---------------------------------------------------------------------------------------------
# Rasterisation helpers


class Canvas:
    """A float32 (3, H, W) image with anti-aliased convex polygons, rectangles, ellipses, glows.

    Channel-first because blending a (h, w) coverage into three channels is then three long
    inner loops; channel-last broadcasting was ~15x slower here.
    """

    def __init__(self, h: int, w: int):
        self.h, self.w = h, w
        self.img = np.zeros((3, h, w), np.float32)
        self.u = (np.arange(w, dtype=np.float32) + 0.5)[None, :]  # (1, W) pixel centres
        self.v = (np.arange(h, dtype=np.float32) + 0.5)[:, None]  # (H, 1)

    def _bbox(self, x0: float, x1: float, y0: float, y1: float):
        return max(int(x0), 0), min(int(math.ceil(x1)), self.w), max(int(y0), 0), min(int(math.ceil(y1)), self.h)

    def blend(self, x0, x1, y0, y1, cov, color) -> None:
        """img[:, y0:y1, x0:x1] <- lerp towards ``color`` by ``cov`` (h, w); color (3,) or (3, 1|h, 1|w)."""
        color = np.asarray(color, np.float32)
        if color.ndim == 1:
            color = color[:, None, None]
        region = self.img[:, y0:y1, x0:x1]
        region += cov[None] * (color - region)

    def polygon(self, pts: list[tuple[float, float]], color, alpha: float = 1.0) -> None:
        """Fill a convex polygon given in pixel coordinates (any winding)."""
        n = len(pts)
        if n < 3:
            return
        xs, ys = [q[0] for q in pts], [q[1] for q in pts]
        mnx, mxx, mny, mxy = min(xs), max(xs), min(ys), max(ys)
        if mxx < 0 or mxy < 0 or mnx > self.w or mny > self.h:
            return
        x0, x1, y0, y1 = self._bbox(max(mnx, -1.0), min(mxx, self.w + 1.0), max(mny, -1.0), min(mxy, self.h + 1.0))
        if x0 >= x1 or y0 >= y1:
            return
        area = sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(n))
        if abs(area) < 1e-6:
            return
        sgn = -1.0 if area > 0 else 1.0
        u, v = self.u[:, x0:x1], self.v[y0:y1]
        cov = None
        for i in range(n):
            px, py = pts[i - 1]
            ex, ey = xs[i] - px, ys[i] - py
            ln = math.hypot(ex, ey)
            if ln < 1e-9:
                continue
            nx, ny = -ey / ln * sgn, ex / ln * sgn  # inward unit normal
            # signed distance (h, w) = u * nx + (v * ny - p.n): two tiny ops and one broadcast add
            d = u * np.float32(nx) + (v * np.float32(ny) - np.float32(px * nx + py * ny))
            cov = d if cov is None else np.minimum(cov, d, out=cov)
        if cov is None:
            return
        # Sub-pixel polygons would otherwise cover a whole pixel at full strength.
        ext = alpha * min(1.0, mxx - mnx) * min(1.0, mxy - mny)
        cov += np.float32(0.5)
        saturate(cov)
        if ext < 1.0:
            cov *= np.float32(ext)
        self.blend(x0, x1, y0, y1, cov, color)

    def rect(self, x0f: float, x1f: float, y0f: float, y1f: float, color, alpha: float = 1.0) -> None:
        """Axis-aligned rectangle with exact fractional pixel coverage (separable)."""
        x0, x1, y0, y1 = self._bbox(x0f, x1f, y0f, y1f)
        if x0 >= x1 or y0 >= y1:
            return
        if x1 - x0 == 1 and y1 - y0 == 1:  # one pixel (distant lamps): blend by covered area
            a = (min(x1f, x0 + 1.0) - max(x0f, float(x0))) * (min(y1f, y0 + 1.0) - max(y0f, float(y0))) * alpha
            px = self.img[:, y0, x0]
            px += np.float32(a) * (np.asarray(color, np.float32) - px)
            return
        if x1 - x0 <= 2 and y1 - y0 > 2:  # thin (poles, far cars): per-column blends, rows unsmoothed
            y0, y1 = max(int(round(y0f)), 0), min(int(round(y1f)), self.h)
            col = np.asarray(color, np.float32)[:, None]
            for x in range(x0, x1):
                a = (min(x + 1.0, x1f) - max(float(x), x0f)) * alpha
                if a > 0.01:
                    strip = self.img[:, y0:y1, x]
                    strip += np.float32(a) * (col - strip)
            return
        u, v = self.u[:, x0:x1], self.v[y0:y1]
        cx = saturate(np.minimum(u + 0.5, x1f) - np.maximum(u - 0.5, x0f))
        cy = saturate(np.minimum(v + 0.5, y1f) - np.maximum(v - 0.5, y0f)) * np.float32(alpha)
        self.blend(x0, x1, y0, y1, cy * cx, color)

    def ellipse(self, uc: float, vc: float, rx: float, ry: float, color) -> None:
        x0, x1, y0, y1 = self._bbox(uc - rx - 1, uc + rx + 1, vc - ry - 1, vc + ry + 1)
        if x0 >= x1 or y0 >= y1:
            return
        rx, ry = max(rx, 0.5), max(ry, 0.5)
        q = ((self.u[:, x0:x1] - uc) / rx) ** 2 + ((self.v[y0:y1] - vc) / ry) ** 2  # (h, w)
        cov = saturate((1 - q) * np.float32(0.5 * min(rx, ry)) + np.float32(0.5), min(1.0, rx * ry))
        self.blend(x0, x1, y0, y1, cov, color)

    def glow(self, uc: float, vc: float, radius: float, color, strength: float, half_width: float = 0.0) -> None:
        """Additive Gaussian light halo (separable, so one outer product); ``half_width`` > 0
        stretches it sideways into one halo for a pair of lamps."""
        r = max(radius, 0.6)
        rx = r + half_width
        x0, x1, y0, y1 = self._bbox(uc - 3 * rx, uc + 3 * rx, vc - 3 * r, vc + 3 * r)
        if x0 >= x1 or y0 >= y1:
            return
        gx = np.exp(-0.5 * ((self.u[:, x0:x1] - uc) / rx) ** 2)
        gy = np.exp(-0.5 * ((self.v[y0:y1] - vc) / r) ** 2) * np.float32(strength)
        self.img[:, y0:y1, x0:x1] += (gy * gx)[None] * np.asarray(color, np.float32)[:, None, None]


def saturate(x: np.ndarray, hi=1.0) -> np.ndarray:
    """In-place clip of a temporary to [0, hi] (np.clip's Python wrapper costs more than the work)."""
    np.maximum(x, 0, out=x)
    return np.minimum(x, hi, out=x)
