"""Per-frame projection from the road frame to pixels, with polygons clipped at the near plane.

The renderer builds one Projector per frame from the camera, the road's curvature and the
frame's pitch, yaw and lateral position; ground and object painters draw through it.
"""

from __future__ import annotations

import math

import numpy as np

from archsearch.data.synth.camera import Camera
from archsearch.data.synth.scene import RoadLayout

NEAR_Z = 0.25  # m: polygons are clipped against this plane in front of the camera


def clip_near(pts: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman clip of a (n, 3) polygon (x, y, depth) against depth >= NEAR_Z."""
    inside = pts[:, 2] >= NEAR_Z
    if inside.all():
        return pts
    if not inside.any():
        return pts[:0]
    out = []
    n = len(pts)
    for i in range(n):
        a, b = pts[i], pts[(i + 1) % n]
        ia, ib = a[2] >= NEAR_Z, b[2] >= NEAR_Z
        if ia:
            out.append(a)
        if ia != ib:
            t = (NEAR_Z - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    return np.asarray(out)


class Projector:
    """Per-frame camera state: pitch, yaw shift, and the road-to-camera transform."""

    def __init__(self, cam: Camera, road: RoadLayout, pitch_deg: float, yaw_px: float, ego_x: float):
        self.cam, self.road = cam, road
        th = math.radians(cam.pitch_deg + pitch_deg)
        self.c, self.s = math.cos(th), math.sin(th)
        self.cx = cam.cx - yaw_px
        self.ego_x = ego_x

    def to_cam(self, x, y, p) -> np.ndarray:
        """Road-frame points -> rotated camera coordinates (x, y_down, depth): (n, 3)."""
        x, y, p = np.asarray(x, float), np.asarray(y, float), np.asarray(p, float)
        X = x - self.ego_x + 0.5 * self.road.curvature * p * p
        yd = self.cam.height_m - y
        out = np.empty(X.shape + (3,))
        out[..., 0] = X
        out[..., 1] = yd * self.c - p * self.s
        out[..., 2] = p * self.c + yd * self.s
        return out

    def uv(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = np.maximum(q[..., 2], 1e-6)
        return self.cx + self.cam.f * q[..., 0] / z, self.cam.cy + self.cam.f * q[..., 1] / z

    def poly(self, q: np.ndarray) -> list[tuple[float, float]]:
        """Camera-frame polygon -> clipped pixel polygon."""
        q = clip_near(q)
        if len(q) < 3:
            return []
        u, v = self.uv(q)
        return list(zip(u.tolist(), v.tolist()))
