"""The pinhole dashcam: its intrinsics and the projection of camera-frame points to pixels.

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

import numpy as np


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
