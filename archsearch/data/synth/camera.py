"""The pinhole dashcam: projection of camera-frame points, near-plane clipping, per-frame pose.

Kept on its own so the geometry can be tested without the renderer: a vehicle's projected size
must grow like 1/distance, or "looming" -- the cue collision anticipation models are supposed
to learn -- would be an artefact of the drawing code.

Coordinates: the *road frame* has x lateral (m, + right of the ego lane centre) and p
longitudinal distance ahead of the camera along the road. The *camera frame* (X right, Y up,
Z forward, origin on the road under the camera) follows the road's curvature:
``X = x - ego_x + curvature * p**2 / 2``, ``Z = p``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from archsearch.data.synth.scene import RoadLayout

NEAR_Z = 0.25  # m: polygons are clipped against this plane in front of the camera


@dataclass(frozen=True)
class Camera:
    """Pinhole dashcam: horizontal field of view, height over the road, downward pitch."""

    width: int
    height: int
    fov_deg: float
    height_m: float
    pitch_deg: float
    hood_m: float  # camera to front bumper (m): where contact happens

    @property
    def f(self) -> float:
        return 0.5 * self.width / math.tan(math.radians(self.fov_deg) / 2)

    @property
    def cx(self) -> float:
        return self.width / 2

    @property
    def cy(self) -> float:
        return self.height / 2


def camera_coords(cam: Camera, X, Y, Z, pitch_deg: float | None = None):
    """Camera-frame (X, Y, Z) -> rotated coordinates (x, y_down, depth) after the pitch."""
    th = math.radians(cam.pitch_deg if pitch_deg is None else pitch_deg)
    X, Y, Z = (np.asarray(a, dtype=np.float64) for a in (X, Y, Z))
    yd = cam.height_m - Y
    c, s = math.cos(th), math.sin(th)
    return X, yd * c - Z * s, Z * c + yd * s


def project_points(cam: Camera, X, Y, Z, *, pitch_deg: float | None = None, yaw_px: float = 0.0):
    """Project camera-frame points to pixel coordinates; returns ``(u, v, depth)``.

    Pixel centres sit at half-integers, so u in [0, width) covers the image. Yaw is modelled
    as a horizontal image shift (small angles), which keeps every image row at one road
    distance and the ground shading per-row.
    """
    x, y, z = camera_coords(cam, X, Y, Z, pitch_deg)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = cam.cx - yaw_px + cam.f * x / z
        v = cam.cy + cam.f * y / z
    return u, v, z


def _clip_near(pts: np.ndarray) -> np.ndarray:
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


class _Projector:
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
        q = _clip_near(q)
        if len(q) < 3:
            return []
        u, v = self.uv(q)
        return list(zip(u.tolist(), v.tolist()))
