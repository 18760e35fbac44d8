"""The frame loop: a Renderer draws a Scene frame by frame, as RGB or as I420 for the encoder.

Everything is vectorised numpy on float32 images in [0, 1]. The per-clip grids (sky, lane-line
tables, noise, overlays) are computed once here; the ground and the solids are painted by the
two mixins in ``ground`` and ``objects``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from archsearch.data.synth.ground import GroundPainter
from archsearch.data.synth.objects import ObjectPainter
from archsearch.data.synth.projector import Projector
from archsearch.data.synth.raster import Canvas, saturate
from archsearch.data.synth.scene import Scene


class Renderer(GroundPainter, ObjectPainter):
    """Draws a Scene frame by frame; the per-clip grids and overlays are computed once."""

    def __init__(self, scene: Scene):
        self.sc = scene
        cam = scene.camera
        self.cv = Canvas(cam.height, cam.width)
        self.rows = np.arange(cam.height, dtype=np.float64) + 0.5  # (H,) row centres
        self.cols = np.arange(cam.width, dtype=np.float64) + 0.5  # (W,)
        rng = np.random.default_rng(scene.render_seed)
        h, w = cam.height, cam.width
        self.noise = rng.standard_normal((4, h + 16, w + 16)).astype(np.float32) * np.float32(255 * scene.noise_sigma)
        self.noise += np.float32(0.5)  # rounding offset for the uint8 conversion
        self.keep_prev = bool(np.any(scene.blur > 0))
        self.prev: np.ndarray | None = None
        self.overlay_a, self.overlay_c, self.overlay_r0 = self._overlay()
        self.rain = rain_layers(h, w, scene.rain, rng) if scene.rain > 0 else None
        self.sky, self.sky_rows, self.sky_margin = self.sky_image()
        road = scene.road
        jb = lambda x: int(round((x - road.lane_w / 2) / road.lane_w))
        self.j_min = jb(road.x_left) - 1
        kinds = np.zeros(jb(road.x_right) - self.j_min + 2, np.int8)  # 0 none, 1 dashed, 2 solid, 3 yellow
        kinds[jb(road.x_left) - self.j_min + 1 : jb(road.x_right) - self.j_min] = 1
        kinds[[jb(road.x_left) - self.j_min, jb(road.x_right) - self.j_min]] = 2
        kinds[jb(road.x_divider) - self.j_min] = 3 if road.n_oncoming > 0 else 2
        self.lut_dashed, self.lut_solid, self.lut_yellow = ((kinds == v).astype(np.float32) for v in (1, 2, 3))
        # Static props: sorted by position along the road so each frame slices its visible range.
        small = sorted((pr for pr in scene.props if pr.kind != "building"), key=lambda pr: pr.zw)
        self.small, self.small_z = small, np.array([pr.zw for pr in small])
        self.walls = {}
        for side in (1, -1):
            bl = sorted(
                (pr for pr in scene.props if pr.kind == "building" and np.sign(pr.x) == side), key=lambda pr: pr.zw
            )
            if bl:
                self.walls[side] = (
                    float(np.mean([pr.x for pr in bl])),
                    np.array([pr.zw for pr in bl]),
                    np.array([pr.zw + pr.size[0] for pr in bl]),
                    np.array([pr.size[1] for pr in bl]),
                    np.array([pr.color for pr in bl], np.float32),
                )

    # -- static overlays: hood, A-pillar, windshield smudges ------------------------------------
    def _overlay(self):
        cam, sc = self.sc.camera, self.sc
        h, w = cam.height, cam.width
        u = self.cols[None, :] / w
        v = self.rows[:, None] / h
        # Hood: a shallow arc along the bottom edge (the car's own bonnet, rigid with the camera).
        top = 0.93 if cam.height_m < 2 else 0.965
        a = np.clip((v - (top + 0.05 * ((u - 0.5) * 2) ** 2)) * h + 0.5, 0, 1)
        if sc.pillar > 0:
            a = np.maximum(a, np.clip((sc.pillar * (1.2 - v) - u) * w + 0.5, 0, 1))
        c = np.zeros((h, w, 3)) + 0.06 * (0.4 + sc.look.ambient)
        for su, sv, sr, sa in sc.smudges:
            m = sa * np.exp(-0.5 * (((u * w - su) ** 2 + (v * h - sv) ** 2) / (sr * sr)))
            c += (m * (a < 0.5))[..., None] * (0.55 * sc.look.ambient + 0.1 - c)
            a = np.maximum(a, m)
        rows = np.flatnonzero(a.max(axis=1) > 2e-3)
        r0 = int(rows[0]) if rows.size else h
        return a[None, r0:].astype(np.float32), c[r0:].transpose(2, 0, 1).astype(np.float32), r0

    # -- one frame -------------------------------------------------------------------------------
    def frame(self, k: int) -> np.ndarray:
        """Frame k as (H, W, 3) uint8 RGB."""
        out = self._frame_float(k)  # (3, H, W) in [0, 255]
        rgb = np.empty((self.sc.camera.height, self.sc.camera.width, 3), np.uint8)  # (H, W, 3)
        for c in range(3):  # per-channel copies: ~4x faster than a transposed astype
            rgb[..., c] = out[c]
        return rgb

    def frame_yuv420p(self, k: int) -> np.ndarray:
        """Frame k as (H * 3 // 2, W) uint8 I420 planes (BT.601 limited range), for the encoder.

        Converted from the float canvas directly: cheaper than RGB bytes -> YUV, and it keeps
        libswscale out of the encoding path.
        """
        return float_rgb_to_yuv420p(self._frame_float(k))

    def _frame_float(self, k: int) -> np.ndarray:
        sc = self.sc
        proj = Projector(sc.camera, sc.road, float(sc.pitch_deg[k]), float(sc.yaw_px[k]), float(sc.ego_x[k]))
        self.paint_background(k, proj)
        self.paint_walls(k, proj)
        odo = float(sc.odometer[k])
        i0, i1 = np.searchsorted(self.small_z, [odo + 1.0, odo + 90])  # farther ones are fog-grey specks
        items = [(self.small[i].zw - odo, 0, self.small[i]) for i in range(i0, i1)]
        items += [(float(v.p[k]), 1, v) for v in sc.vehicles]
        items.sort(key=lambda it: -it[0])  # painter's order, far to near
        for p, is_vehicle, obj in items:
            if is_vehicle:
                self.draw_vehicle(proj, obj, k)
            else:
                self.draw_prop(proj, obj, p)
        img = self.cv.img  # (3, H, W)
        if self.rain is not None:  # streaks in front of the scene, a new pattern every frame
            dy, dx = (k * 13) % 32, (k * 7) % 32
            a = self.rain[k % len(self.rain), dy : dy + sc.camera.height, dx : dx + sc.camera.width]
            img += a[None] * (np.float32(0.35 + 0.5 * sc.look.ambient) - img)
        r0 = self.overlay_r0
        img[:, r0:] += self.overlay_a * (self.overlay_c - img[:, r0:])
        img *= np.float32(255.0 * sc.gain[k])  # in place: the canvas is redrawn from scratch next frame
        if self.keep_prev:
            if self.prev is not None and sc.blur[k] > 0.02:
                img += np.float32(sc.blur[k]) * (self.prev - img)
            self.prev = img.copy()
        dy, dx = (k * 7) % 16, (k * 11) % 16
        img += self.noise[k % 4, None, dy : dy + sc.camera.height, dx : dx + sc.camera.width]
        out = img
        return saturate(out, 255.0)


def rain_layers(h: int, w: int, intensity: float, rng, n_layers: int = 6) -> np.ndarray:
    """(n_layers, h + 32, w + 32) float32 coverage of slanted rain streaks; frames cycle through the layers
    at shifting offsets, so every frame shows different streaks (frame differences everywhere, as real rain)."""
    out = np.zeros((n_layers, h + 32, w + 32), np.float32)
    n = int(intensity * 0.006 * h * w)
    steps = np.linspace(0.0, 1.0, 12)
    for layer in out:
        x0, y0 = rng.uniform(0, w + 32, n), rng.uniform(0, h + 32, n)
        length, alpha = rng.uniform(0.04, 0.1, n) * h, rng.uniform(0.15, 0.45, n) * intensity
        xs = np.clip((x0[:, None] + 0.25 * length[:, None] * steps).astype(int), 0, w + 31)
        ys = np.clip((y0[:, None] + length[:, None] * steps).astype(int), 0, h + 31)
        np.maximum.at(layer, (ys, xs), np.repeat(alpha[:, None], len(steps), axis=1))
    return out


def float_rgb_to_yuv420p(img: np.ndarray) -> np.ndarray:
    """(3, H, W) float RGB in [0, 255] -> (H * 3 // 2, W) uint8 I420, BT.601 limited range
    (what decoders assume for an H.264 stream without colour metadata)."""
    _, h, w = img.shape
    r, g, b = img
    out = np.empty((h * 3 // 2, w), np.uint8)
    y = r * np.float32(65.481 / 255) + g * np.float32(128.553 / 255)
    y += b * np.float32(24.966 / 255)
    y += np.float32(16.5)  # + 0.5: the uint8 cast truncates
    out[:h] = y
    s = img[:, 0::2, 0::2] + img[:, 1::2, 0::2]  # (3, H/2, W/2) 2x2 sums
    s += img[:, 0::2, 1::2]
    s += img[:, 1::2, 1::2]
    sr, sg, sb = s
    u = (
        sr * np.float32(-37.797 / 1020)
        + sg * np.float32(-74.203 / 1020)
        + sb * np.float32(112.0 / 1020)
        + np.float32(128.5)
    )
    v = (
        sr * np.float32(112.0 / 1020)
        + sg * np.float32(-93.786 / 1020)
        + sb * np.float32(-18.214 / 1020)
        + np.float32(128.5)
    )
    n = (h // 2) * (w // 2)
    chroma = out[h:].reshape(-1)
    chroma[:n] = u.reshape(-1)
    chroma[n:] = v.reshape(-1)
    return out


def render_frames(scene: Scene, fmt: str = "rgb24") -> Iterator[np.ndarray]:
    """Yield the clip's frames: (H, W, 3) uint8 RGB ("rgb24") or (H*3/2, W) I420 ("yuv420p")."""
    r = Renderer(scene)
    draw = {"rgb24": r.frame, "yuv420p": r.frame_yuv420p}[fmt]
    for k in range(scene.n_frames):
        yield draw(k)
