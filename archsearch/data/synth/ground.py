"""Painting the background of a frame: sky and skyline, the road with its markings, facades.

Ground pixels are shaded from per-row quantities (each image row sees the road at one
distance), which is what keeps the road cheap enough to render hundreds of clips on a CPU.
"""

from __future__ import annotations

import math

import numpy as np

from archsearch.data.synth.projector import Projector
from archsearch.data.synth.raster import saturate


class GroundPainter:
    """Renderer mixin: sky, road and building facades.

    Relies on the attributes ``Renderer.__init__`` sets: ``sc`` (the Scene), ``cv`` (the
    canvas), ``rows``/``cols`` (pixel centres), ``sky``/``sky_rows``/``sky_margin``,
    ``j_min`` and the ``lut_*`` lane-line tables, and ``walls``.
    """

    def sky_image(self):
        """Sky gradient and skyline in horizon-relative rows, wide enough for any shake or yaw.

        Row i of the returned (3, R + 2, W + 2 * margin) image lies ``R - i - 0.5`` pixels
        above the horizon; a frame copies the window that its pitch and yaw select.
        """
        cam, look = self.sc.camera, self.sc.look
        margin = (len(self.sc.skyline_px) - cam.width) // 2
        v_h_max = cam.cy - cam.f * math.tan(math.radians(cam.pitch_deg - 25.0))  # any shake or jolt fits
        R = int(math.ceil(v_h_max)) + 1
        e = R - np.arange(R + 2) - 0.5  # (R + 2,) elevation above the horizon, px
        t = np.clip(1 - e / (0.6 * cam.height), 0, 1) ** 1.5
        top, hor = np.array(look.sky_top), np.array(look.sky_horizon)
        sky = np.repeat((top[:, None] + t[None, :] * (hor - top)[:, None])[:, :, None], cam.width + 2 * margin, axis=2)
        sil = np.clip(self.sc.skyline_px[None, :] - e[:, None] + 0.5, 0, 1)  # (R + 2, W + 2m)
        sky += sil[None] * (np.array(look.skyline)[:, None, None] - sky)
        return sky.astype(np.float32), R, margin

    # -- background: sky, skyline, road ----------------------------------------------------------
    def paint_background(self, k: int, proj: Projector) -> None:
        """Sky, skyline and the ground (road surface, markings, lighting, fog) of frame k."""
        cam, look = self.sc.camera, self.sc.look
        img = self.cv.img
        b = (self.rows - cam.cy) / cam.f  # (H,) ray slope per row
        yd = b * proj.c + proj.s  # (H,) downward component: > 0 sees the ground
        v_h = cam.cy - cam.f * proj.s / proj.c  # horizon row (continuous)
        hor = np.array(look.sky_horizon, np.float32)
        n_sky = min(max(math.ceil(v_h), 0), cam.height)
        if n_sky > 0:  # sky + skyline: a window of the per-clip sky image, shifted by pitch and yaw
            sky = self.sky
            i0 = min(max(int(round(self.sky_rows - v_h)), 0), sky.shape[1] - n_sky)
            x0 = min(max(int(round(self.sky_margin + cam.cx - proj.cx)), 0), sky.shape[2] - cam.width)
            img[:, :n_sky] = sky[:, i0 : i0 + n_sky, x0 : x0 + cam.width]
        ground = yd > 2e-3
        g0 = max(int(np.argmax(ground)) if ground.any() else cam.height, n_sky)
        if g0 >= cam.height:
            return
        img[:, n_sky:g0] = hor[:, None, None]
        s = cam.height_m / yd[g0:]  # (Hg,) ray scale to the ground
        Z = np.minimum(s * (proj.c - b[g0:] * proj.s), 3000.0)  # (Hg,) distance seen by each row
        be = (np.arange(g0, cam.height + 1, dtype=np.float64) - cam.cy) / cam.f  # row edges
        ye = be * proj.c + proj.s
        Ze = np.minimum(
            np.where(ye > 1e-4, cam.height_m / np.maximum(ye, 1e-4) * (proj.c - be * proj.s), 3000.0), 3000.0
        )
        odo = float(self.sc.odometer[k])
        a = ((self.cols - proj.cx) / cam.f).astype(np.float32)  # (W,)
        mpp = (s / cam.f).astype(np.float32)[:, None]  # (Hg, 1) metres per pixel across
        Xc = s.astype(np.float32)[:, None] * a[None, :]  # (Hg, W) lateral, camera frame
        X = Xc + (proj.ego_x - 0.5 * self.sc.road.curvature * Z * Z).astype(np.float32)[:, None]  # road frame
        cov, white, yel = self.road_paint(X, Z, Ze[:-1], Ze[1:], mpp, odo)
        g = img[:, g0:]  # (3, Hg, W)
        self.colour_ground(g, cov, white, yel, Z, odo)
        self.light_ground(g, X, Xc, Z, odo, hor)

    def road_paint(
        self, X: np.ndarray, Z: np.ndarray, z_far: np.ndarray, z_near: np.ndarray, mpp: np.ndarray, odo: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Coverage (Hg, W) of the road surface, the white markings and the yellow ones (None: no oncoming lanes)."""
        sc, road = self.sc, self.sc.road
        xl, xr = road.x_left - 0.3, road.x_right + road.shoulder
        ppm = 1 / mpp  # (Hg, 1) pixels per metre
        cov = np.abs(X - np.float32((xl + xr) / 2))
        cov = saturate((np.float32((xr - xl) / 2) - cov) * ppm + np.float32(0.5))  # (Hg, W) road surface
        cross = np.zeros(Z.shape, np.float32)
        stop = np.zeros(Z.shape, np.float32)
        for zc in sc.intersections:  # cross streets: full-width bands of rows
            zr = zc - odo
            if -12 < zr < 400:
                cross = np.maximum(cross, _band(z_near, z_far, zr - 5.0, zr + 5.0))
                stop = np.maximum(stop, _band(z_near, z_far, zr - 6.6, zr - 6.2))
        if cross.any():
            cov = np.maximum(cov, cross[:, None])
        # Markings. Every line sits on a lane boundary (x = lane_w/2 + j * lane_w), so one folded
        # distance serves all of them; per-boundary tables say dashed / solid white / yellow.
        lw = road.lane_w
        q = X * np.float32(1 / lw) - np.float32(0.5)  # (Hg, W) in lane widths
        j = np.rint(q)  # nearest boundary index
        d = np.abs(q - j)  # distance to it, lane widths
        ji = j.astype(np.int32) - self.j_min
        dash = _dash_fraction(z_near + odo, z_far + odo, 12.0 if road.setting == "highway" else 9.0, 3.5)
        keep = 1 - cross  # (Hg,) no markings across junctions
        lc = _line_cov(d, 0.15 / lw, mpp / lw, ppm * lw)  # (Hg, W) line coverage
        pattern = self.lut_dashed.take(ji, mode="clip") * (dash * keep).astype(np.float32)[:, None]
        pattern += self.lut_solid.take(ji, mode="clip") * keep[:, None]
        white = lc * pattern
        yel = lc * self.lut_yellow.take(ji, mode="clip") * keep[:, None] if road.n_oncoming > 0 else None
        if stop.any():
            white = np.maximum(white, stop[:, None] * ((road.x_divider < X) & (road.x_right > X)))
        return cov, white, yel

    def colour_ground(
        self, g: np.ndarray, cov: np.ndarray, white: np.ndarray, yel: np.ndarray | None, Z: np.ndarray, odo: float
    ) -> None:
        """Write the ground's colours into g (3, Hg, W), one channel at a time with per-row coefficients.

        Markings lie on asphalt: g = off + cov * (asphalt - off) + white * (paint - asphalt)
        + yellow * (yellow - asphalt).
        """
        look = self.sc.look
        seams = 1 + 0.06 * np.sin((Z + odo) * 0.9) * np.exp(-Z / 40)  # (Hg,) expansion joints
        for c in range(3):
            off_c = float(look.offroad[c])
            asph = look.asphalt[c] * seams  # (Hg,)
            np.multiply(cov, (asph - off_c).astype(np.float32)[:, None], out=g[c])
            g[c] += np.float32(off_c)
            g[c] += white * (0.82 - asph).astype(np.float32)[:, None]
            if yel is not None:
                g[c] += yel * ((0.85, 0.68, 0.2)[c] - asph).astype(np.float32)[:, None]

    def light_ground(
        self, g: np.ndarray, X: np.ndarray, Xc: np.ndarray, Z: np.ndarray, odo: float, hor: np.ndarray
    ) -> None:
        """Ambient light, the ego's headlight beam, street-lamp pools, then fog to the horizon, in place."""
        look, road = self.sc.look, self.sc.road
        if look.headlight > 0 or look.lamp_pool > 0:
            light = np.full(Xc.shape, look.ambient, np.float32)
            if look.headlight > 0:  # Lorentzian lateral falloff: as soft as a Gaussian, no exp
                zz = Z.astype(np.float32)[:, None]
                beam = np.exp(-zz / 22) * np.clip(zz / 4, 0, 1) * np.float32(look.headlight)  # (Hg, 1)
                u = (Xc - np.float32(0.3)) * (1 / (1.5 + 0.3 * zz))
                u *= u
                u += 1
                light += beam / u
            if look.lamp_pool > 0:
                zp = Z + odo
                zp = zp - np.floor(zp / 35.0) * 35.0
                pool = look.lamp_pool * np.exp(-0.5 * ((zp - 17.5) / 4.0) ** 2) * np.exp(-Z / 120)
                u = (X - np.float32(road.x_right)) * np.float32(0.2)
                u *= u
                u += 1
                light += pool.astype(np.float32)[:, None] / u
            g *= light[None]
            ambient = np.ones_like(Z)
        else:
            ambient = np.full_like(Z, look.ambient)
        # Ambient and fog in one pass: g <- g * ambient * (1 - fog) + fog * horizon, per row.
        fog = 1 - np.exp(-Z / look.fog_m)  # (Hg,)
        g *= (ambient * (1 - fog)).astype(np.float32)[None, :, None]
        g += (fog[None, :] * hor[:, None]).astype(np.float32)[:, :, None]

    def paint_walls(self, k: int, proj: Projector) -> None:
        """Building facades along the road, one row span per image column.

        A facade is a vertical plane at a fixed lateral offset, so each column sees it at one
        distance (solved on the curved road); the building standing there gives the height.
        """
        if not self.walls:
            return
        sc, cam, look = self.sc, self.sc.camera, self.sc.look
        a = (self.cols - proj.cx) / cam.f  # (W,)
        odo = float(sc.odometer[k])
        v_top = np.full(cam.width, np.inf)
        v_bot = np.full(cam.width, -np.inf)
        col = np.zeros((cam.width, 3), np.float32)
        for side, (xw, starts, ends, heights, colors) in self.walls.items():
            c = xw - proj.ego_x
            m = a * side > 0.02
            if not m.any():
                continue
            am = a[m]
            disc = am * am - 2 * sc.road.curvature * c
            with np.errstate(invalid="ignore", divide="ignore"):
                Z = 2 * c / (am + np.sign(am) * np.sqrt(disc))
            idx = np.searchsorted(starts, Z + odo, side="right") - 1
            ok = (disc > 0) & (Z > 0.3) & (idx >= 0) & (Z + odo < ends[np.maximum(idx, 0)])
            idx = np.maximum(idx, 0)
            Z = np.where(ok, Z, 1.0)  # NaN-free for the arithmetic below; masked out anyway
            h = heights[idx]
            zd = Z * proj.c
            bot = cam.cy + cam.f * (cam.height_m * proj.c - Z * proj.s) / (zd + cam.height_m * proj.s)
            top = cam.cy + cam.f * ((cam.height_m - h) * proj.c - Z * proj.s) / (zd + (cam.height_m - h) * proj.s)
            fog = (1 - np.exp(-Z / look.fog_m))[:, None]
            shade = colors[idx] * (look.ambient * (0.75 if side > 0 else 0.9))
            cm = shade + fog * (np.array(look.sky_horizon) - shade)
            v_top[m] = np.where(ok, top, np.inf)
            v_bot[m] = np.where(ok, bot, -np.inf)
            col[m] = cm
        seen = np.isfinite(v_top)
        if not seen.any():
            return
        r0 = max(int(v_top[seen].min()) - 1, 0)
        r1 = min(int(math.ceil(v_bot[seen].max())) + 1, cam.height)
        if r0 >= r1:
            return
        r = self.rows[r0:r1].astype(np.float32)[:, None]
        v_top, v_bot = np.clip(v_top, -1e4, 1e4).astype(np.float32), np.clip(v_bot, -1e4, 1e4).astype(np.float32)
        cov = saturate(r - (v_top[None, :] - 0.5)) * saturate((v_bot[None, :] + 0.5) - r)  # (rows, W)
        self.cv.blend(0, cam.width, r0, r1, cov, col.T[:, None, :])


def _line_cov(d: np.ndarray, w: float, p: np.ndarray, inv_p: np.ndarray) -> np.ndarray:
    """Fraction of a pixel (width p, metres; (Hg, 1)) covered by a line of width w at distance d.

    Box-filter overlap: (w/2 + p/2 - d) / p, capped at min(1, w/p) -- exact for both
    sub-pixel and wide lines.
    """
    x = (w / 2 + p / 2 - d) * inv_p
    return saturate(x, np.minimum(1, w * inv_p))


def _dash_fraction(z0: np.ndarray, z1: np.ndarray, period: float, on: float) -> np.ndarray:
    """Mean of a dash pattern (``on`` metres painted per ``period``) over [z0, z1] per row."""

    def F(z):
        return np.floor(z / period) * on + np.minimum(z - np.floor(z / period) * period, on)

    span = np.maximum(z1 - z0, 1e-6)
    return np.clip((F(z1) - F(z0)) / span, 0, 1)


def _band(z_near: np.ndarray, z_far: np.ndarray, a: float, b: float) -> np.ndarray:
    """Fraction of each row's distance span [z_near, z_far] inside [a, b]."""
    lo, hi = np.maximum(z_near, a), np.minimum(z_far, b)
    span = np.maximum(z_far - z_near, 1e-6)
    return np.clip((hi - lo) / span, 0, 1).astype(np.float32)
