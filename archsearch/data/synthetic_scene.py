"""Rendering of synthetic dashcam frames: a pinhole camera over a road, vehicles and lighting.

Kept separate from the scenario logic (``synthetic.py``) so the geometry can be tested on its
own: a vehicle's projected size must grow like 1/distance, or "looming" -- the cue collision
anticipation models are supposed to learn -- would be an artefact of the drawing code.

Everything is vectorised numpy on float32 images in [0, 1]. Ground pixels are shaded from
per-row quantities (each image row sees the road at one distance), and solids are convex
polygons filled by half-plane tests inside their bounding box, with a one-pixel soft edge
so that distant, sub-pixel vehicles fade in smoothly instead of popping.

Coordinates: the *road frame* has x lateral (m, + right of the ego lane centre) and p
longitudinal distance ahead of the camera along the road. The *camera frame* (X right, Y up,
Z forward, origin on the road under the camera) follows the road's curvature:
``X = x - ego_x + curvature * p**2 / 2``, ``Z = p``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

NEAR_Z = 0.25  # m: polygons are clipped against this plane in front of the camera

# Vehicle body styles: (length, width, height) in metres and the height where the cabin starts.
VEHICLE_SIZES: dict[str, tuple[float, float, float, float]] = {
    "car": (4.5, 1.8, 1.45, 0.8),
    "suv": (4.8, 1.95, 1.75, 1.0),
    "van": (5.2, 2.0, 2.2, 2.2),  # no separate cabin: body goes to the roof
    "truck": (8.0, 2.5, 3.3, 3.3),
}


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


@dataclass
class Vehicle:
    """One vehicle's track in the road frame, sampled at the video's frame times."""

    kind: str
    color: tuple[float, float, float]
    x: np.ndarray  # (T,) lateral position of the footprint centre (m)
    p: np.ndarray  # (T,) distance of the centre ahead of the camera along the road (m)
    heading: np.ndarray  # (T,) rad vs the road: 0 same way as ego, pi oncoming, +pi/2 moving right
    brake: np.ndarray  # (T,) bool, brake lights on

    @property
    def size(self) -> tuple[float, float, float]:
        L, W, H, _ = VEHICLE_SIZES[self.kind]
        return L, W, H


@dataclass(frozen=True)
class RoadLayout:
    """Lanes are 3.5 m wide; the ego lane is index 0, same-direction lanes -n_left..n_right."""

    setting: str  # highway | urban | rural
    n_left: int
    n_right: int
    n_oncoming: int
    curvature: float  # 1/m
    shoulder: float = 0.5  # paved strip right of the last lane (parking lane in town)
    lane_w: float = 3.5

    @property
    def x_divider(self) -> float:
        return -self.lane_w * (self.n_left + 0.5)

    @property
    def x_left(self) -> float:
        return self.x_divider - self.lane_w * self.n_oncoming

    @property
    def x_right(self) -> float:
        return self.lane_w * (self.n_right + 0.5)


@dataclass(frozen=True)
class Look:
    """Colours and light levels of one clip (lighting + setting + per-clip variation)."""

    lighting: str  # day | dusk | night
    sky_top: tuple[float, float, float]
    sky_horizon: tuple[float, float, float]
    skyline: tuple[float, float, float]
    asphalt: tuple[float, float, float]
    offroad: tuple[float, float, float]
    ambient: float  # multiplies everything not self-lit
    fog_m: float  # distance at which the scene fades to the horizon colour
    headlight: float  # strength of the ego's beam on the road (night/dusk)
    lamp_pool: float  # strength of street-lamp pools on the road
    glow: float  # size/strength of light glows (0 in daylight)


@dataclass
class Prop:
    """A static roadside object at world position ``zw`` along the road (m)."""

    kind: str  # pole | tree | building
    x: float  # lateral, road frame (m)
    zw: float
    size: tuple[float, float]  # (width or length along the road, height)
    color: tuple[float, float, float]


@dataclass
class Scene:
    """Everything the renderer needs for one clip; built by ``synthetic.build_scene``."""

    camera: Camera
    road: RoadLayout
    look: Look
    n_frames: int
    odometer: np.ndarray  # (T,) ego distance travelled (m)
    ego_x: np.ndarray  # (T,) ego lateral position, road frame (m)
    yaw_px: np.ndarray  # (T,) image shift from ego heading and shake (px)
    pitch_deg: np.ndarray  # (T,) pitch offset from shake, braking dive and the contact jolt
    blur: np.ndarray  # (T,) weight of the previous frame (motion-blur-ish smear)
    gain: np.ndarray  # (T,) exposure
    vehicles: list[Vehicle]
    props: list[Prop]
    intersections: list[float]  # world positions of cross-street centres (m)
    skyline_px: np.ndarray  # (W + 2 * margin,) silhouette height above the horizon (px)
    noise_sigma: float
    render_seed: int
    smudges: list[tuple[float, float, float, float]] = field(default_factory=list)  # (u, v, r, a)
    pillar: float = 0.0  # width fraction of a dark A-pillar on the left edge (0 = none)


# ---------------------------------------------------------------------------------------------
# Rasterisation helpers


class _Canvas:
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

    def _blend(self, x0, x1, y0, y1, cov, color) -> None:
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
        _sat(cov)
        if ext < 1.0:
            cov *= np.float32(ext)
        self._blend(x0, x1, y0, y1, cov, color)

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
        cx = _sat(np.minimum(u + 0.5, x1f) - np.maximum(u - 0.5, x0f))
        cy = _sat(np.minimum(v + 0.5, y1f) - np.maximum(v - 0.5, y0f)) * np.float32(alpha)
        self._blend(x0, x1, y0, y1, cy * cx, color)

    def ellipse(self, uc: float, vc: float, rx: float, ry: float, color) -> None:
        x0, x1, y0, y1 = self._bbox(uc - rx - 1, uc + rx + 1, vc - ry - 1, vc + ry + 1)
        if x0 >= x1 or y0 >= y1:
            return
        rx, ry = max(rx, 0.5), max(ry, 0.5)
        q = ((self.u[:, x0:x1] - uc) / rx) ** 2 + ((self.v[y0:y1] - vc) / ry) ** 2  # (h, w)
        cov = _sat((1 - q) * np.float32(0.5 * min(rx, ry)) + np.float32(0.5), min(1.0, rx * ry))
        self._blend(x0, x1, y0, y1, cov, color)

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


def _sat(x: np.ndarray, hi=1.0) -> np.ndarray:
    """In-place clip of a temporary to [0, hi] (np.clip's Python wrapper costs more than the work)."""
    np.maximum(x, 0, out=x)
    return np.minimum(x, hi, out=x)


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


_FACES = (("rear", (0, 1), 0.8), ("right", (1, 2), 0.7), ("front", (2, 3), 0.85), ("left", (3, 0), 0.65))


def _footprint(xc: float, pc: float, heading: float, L: float, W: float, shift: float = 0.0):
    """Ground corners (rear-left, rear-right, front-right, front-left) of an oriented box."""
    sh, ch = math.sin(heading), math.cos(heading)
    xc, pc = xc + sh * shift, pc + ch * shift
    fx, fz, rx, rz = sh * L / 2, ch * L / 2, ch * W / 2, -sh * W / 2
    xs = [xc - fx - rx, xc - fx + rx, xc + fx + rx, xc + fx - rx]
    zs = [pc - fz - rz, pc - fz + rz, pc + fz + rz, pc + fz - rz]
    return xs, zs


def _visible_faces(proj: _Projector, xs, zs):
    """Names, corner pairs and shades of the vertical faces the camera sees (back-face test
    in the camera frame, where the road's curvature rotates directions by curvature * p)."""
    k = proj.road.curvature
    out = []
    for name, (i, j), shade in _FACES:
        ex, ez = xs[j] - xs[i], zs[j] - zs[i]
        nx, nz = ez, -ex  # outward normal for the counter-clockwise-in-(x, p) ordering above
        mx, mz = (xs[i] + xs[j]) / 2, (zs[i] + zs[j]) / 2
        X_m = mx - proj.ego_x + 0.5 * k * mz * mz
        ncx, ncz = nx + k * mz * nz, nz - k * mz * nx
        if ncx * -X_m + ncz * -mz > 0:
            out.append((name, i, j, shade))
    return out


# ---------------------------------------------------------------------------------------------
# The renderer


class Renderer:
    """Draws a Scene frame by frame; the per-clip grids and overlays are computed once."""

    def __init__(self, scene: Scene):
        self.sc = scene
        cam = scene.camera
        self.cv = _Canvas(cam.height, cam.width)
        self.rows = np.arange(cam.height, dtype=np.float64) + 0.5  # (H,) row centres
        self.cols = np.arange(cam.width, dtype=np.float64) + 0.5  # (W,)
        rng = np.random.default_rng(scene.render_seed)
        h, w = cam.height, cam.width
        self.noise = rng.standard_normal((4, h + 16, w + 16)).astype(np.float32) * np.float32(255 * scene.noise_sigma)
        self.noise += np.float32(0.5)  # rounding offset for the uint8 conversion
        self.keep_prev = bool(np.any(scene.blur > 0))
        self.prev: np.ndarray | None = None
        self.overlay_a, self.overlay_c, self.overlay_r0 = self._overlay()
        self.sky, self.sky_rows, self.sky_margin = self._sky()
        road = scene.road
        jb = lambda x: int(round((x - road.lane_w / 2) / road.lane_w))  # noqa: E731 - boundary index
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
            bl = sorted((pr for pr in scene.props if pr.kind == "building" and np.sign(pr.x) == side), key=lambda pr: pr.zw)
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

    def _sky(self):
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
    def _background(self, k: int, proj: _Projector) -> None:
        sc, cam, road, look = self.sc, self.sc.camera, self.sc.road, self.sc.look
        img = self.cv.img
        f, cy = cam.f, cam.cy
        b = (self.rows - cy) / f  # (H,) ray slope per row
        yd = b * proj.c + proj.s  # (H,) downward component: > 0 sees the ground
        v_h = cy - f * proj.s / proj.c  # horizon row (continuous)
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
        be = (np.arange(g0, cam.height + 1, dtype=np.float64) - cy) / f  # row edges
        ye = be * proj.c + proj.s
        Ze = np.minimum(np.where(ye > 1e-4, cam.height_m / np.maximum(ye, 1e-4) * (proj.c - be * proj.s), 3000.0), 3000.0)
        z_far, z_near = Ze[:-1], Ze[1:]  # (Hg,)
        odo = float(sc.odometer[k])
        a = ((self.cols - proj.cx) / f).astype(np.float32)  # (W,)
        mpp = (s / f).astype(np.float32)[:, None]  # (Hg, 1) metres per pixel across
        Xc = s.astype(np.float32)[:, None] * a[None, :]  # (Hg, W) lateral, camera frame
        X = Xc + (proj.ego_x - 0.5 * road.curvature * Z * Z).astype(np.float32)[:, None]  # road frame
        xl, xr = road.x_left - 0.3, road.x_right + road.shoulder
        ppm = 1 / mpp  # (Hg, 1) pixels per metre
        cov = np.abs(X - np.float32((xl + xr) / 2))
        cov = _sat((np.float32((xr - xl) / 2) - cov) * ppm + np.float32(0.5))  # (Hg, W) road surface
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
            white = np.maximum(white, stop[:, None] * ((X > road.x_divider) & (X < road.x_right)))
        # Colours, one channel at a time with per-row coefficients (markings lie on asphalt):
        # g = off + cov * (asphalt - off) + white * (paint - asphalt) + yellow * (yellow - asphalt)
        g = img[:, g0:]  # (3, Hg, W)
        seams = 1 + 0.06 * np.sin((Z + odo) * 0.9) * np.exp(-Z / 40)  # (Hg,) expansion joints
        for c in range(3):
            off_c = float(look.offroad[c])
            asph = look.asphalt[c] * seams  # (Hg,)
            np.multiply(cov, (asph - off_c).astype(np.float32)[:, None], out=g[c])
            g[c] += np.float32(off_c)
            g[c] += white * (0.82 - asph).astype(np.float32)[:, None]
            if yel is not None:
                g[c] += yel * ((0.85, 0.68, 0.2)[c] - asph).astype(np.float32)[:, None]
        # Lighting: ambient, the ego's headlight beam, street-lamp pools; then fog to the horizon.
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

    def _walls(self, k: int, proj: _Projector) -> None:
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
        cov = _sat(r - (v_top[None, :] - 0.5)) * _sat((v_bot[None, :] + 0.5) - r)  # (rows, W)
        self.cv._blend(0, cam.width, r0, r1, cov, col.T[:, None, :])

    # -- objects ---------------------------------------------------------------------------------
    def _draw_vehicle(self, proj: _Projector, veh: Vehicle, k: int) -> None:
        look, cam, cv = self.sc.look, self.sc.camera, self.cv
        L, W, H = veh.size
        hb = VEHICLE_SIZES[veh.kind][3]
        x, p, hd = float(veh.x[k]), float(veh.p[k]), float(veh.heading[k])
        if p < -L or p > 250:
            return
        # Quick cull on the centre: off to the side by more than its own size.
        cq = proj.to_cam(x, H / 2, p)
        if cq[2] > L and abs(cq[0]) - L > cq[2] * (cam.cx + 4) / cam.f:
            return
        lit = look.ambient + look.headlight * 0.9 * math.exp(-max(p, 0) / 25) * math.exp(-(((x - proj.ego_x) / 4) ** 2))
        body = np.array(veh.color, np.float32) * np.float32(lit)
        xs, zs = _footprint(x, p, hd, L, W)
        size_px = cam.f * H / max(cq[2], 0.1)  # apparent height
        if size_px < 3.0:  # a few pixels: one soft rectangle (+ lights after dark)
            us, vs = proj.uv(proj.to_cam(xs + xs, [0.28] * 4 + [H] * 4, zs + zs))
            cv.rect(float(us.min()), float(us.max()), float(vs.min()), float(vs.max()), body * 0.75)
            if look.glow > 0:
                self._lights(proj, veh, k, xs, zs, hb, _visible_faces(proj, xs, zs))
            return
        near = size_px >= 14.0 and hb < H
        faces = _visible_faces(proj, xs, zs)
        top_y = hb if near else H
        if size_px >= 8.0:  # a dark contact patch grounds the vehicle on the road
            q = proj.to_cam(xs, [0.0] * 4, [z + 0.0 for z in zs])
            cv.polygon(proj.poly(q), np.array(look.asphalt, np.float32) * np.float32(0.22 * look.ambient), 0.8)
        pts = proj.to_cam(xs + xs, [0.28] * 4 + [top_y] * 4, zs + zs)  # (8, 3): bottom, then top ring
        for name, i, j, shade in faces:
            cv.polygon(proj.poly(pts[[i, j, 4 + j, 4 + i]]), body * np.float32(shade))
            if not near and hb >= H and size_px >= 14.0 and name != "rear":
                glass = body * 0.25 + np.array(look.sky_horizon, np.float32) * np.float32(0.15 * look.ambient)
                cv.polygon(proj.poly(_sub_quad(pts[[i, j, 4 + j, 4 + i]], 0.1, 0.9, 0.62, 0.9)), glass)
        if cam.height_m > top_y and size_px >= 8.0:
            cv.polygon(proj.poly(pts[4:]), body)
        if near:  # the cabin: glass all round, roof on top
            glass = body * 0.25 + np.array(look.sky_horizon, np.float32) * np.float32(0.15 * look.ambient)
            cxs, czs = _footprint(x, p, hd, 0.5 * L, 0.86 * W, shift=-0.08 * L)
            cpts = proj.to_cam(cxs + cxs, [hb] * 4 + [H] * 4, czs + czs)
            for name, i, j, shade in _visible_faces(proj, cxs, czs):
                cv.polygon(proj.poly(cpts[[i, j, 4 + j, 4 + i]]), glass * np.float32(shade) + body * np.float32(0.1))
            if cam.height_m > H:
                cv.polygon(proj.poly(cpts[4:]), body * np.float32(0.95))
        self._lights(proj, veh, k, xs, zs, hb, faces)

    def _lights(self, proj, veh, k, xs, zs, hb, faces) -> None:
        """Tail/brake lights on a visible rear face, headlights on a visible front face."""
        look, cam, cv = self.sc.look, self.sc.camera, self.cv
        brake, on = bool(veh.brake[k]), look.glow > 0
        yl = min(hb - 0.15, 0.75)
        for name, i, j, _ in faces:
            if name not in ("rear", "front"):
                continue
            # Two lamps at 15 % / 85 % across the face.
            lx = [xs[i] + (xs[j] - xs[i]) * s for s in (0.13, 0.87)]
            lz = [zs[i] + (zs[j] - zs[i]) * s for s in (0.13, 0.87)]
            q = proj.to_cam(lx, [yl, yl], lz)
            if q[:, 2].min() < NEAR_Z:
                continue
            us, vs = proj.uv(q)
            r = cam.f * 0.13 / q[:, 2]
            if name == "rear":
                col = (1.0, 0.12, 0.1) if brake else ((0.75, 0.08, 0.08) if on else (0.5, 0.09, 0.09))
            else:
                col = (1.0, 0.97, 0.85) if on else (0.8, 0.8, 0.78)
            for u, v, rr in zip(us.tolist(), vs.tolist(), r.tolist()):
                cv.rect(u - rr, u + rr, v - 0.6 * rr, v + 0.6 * rr, col)
            if on or brake:  # one halo stretched over both lamps
                strength = (look.glow * (1.4 if name == "front" else (0.9 if brake else 0.45))) if on else 0.2
                radius = min(max(1.0, 2.0 * float(r.mean())), 0.04 * cam.width)
                cv.glow(float(us.mean()), float(vs.mean()), radius, col, 1.3 * strength, abs(float(us[1] - us[0])) / 2)

    def _draw_prop(self, proj: _Projector, pr: Prop, p: float) -> None:
        look, cam, cv = self.sc.look, self.sc.camera, self.cv
        w, h = pr.size
        # Plain-float projection of the base and the top: numpy is slower for two points.
        X = pr.x - proj.ego_x + 0.5 * self.sc.road.curvature * p * p
        zb = p * proj.c + cam.height_m * proj.s
        zt = p * proj.c + (cam.height_m - h) * proj.s
        if zb < 1.0 or zt < 1.0:
            return
        f = cam.f
        u = proj.cx + f * X / zb
        half = f * w / 2 / zb
        crown = f * 1.6 / zt if pr.kind == "tree" else 0.0
        if u + half + crown < 0 or u - half - crown > cam.width:
            return
        vb = cam.cy + f * (cam.height_m * proj.c - p * proj.s) / zb
        vt = cam.cy + f * ((cam.height_m - h) * proj.c - p * proj.s) / zt
        amb = np.float32(look.ambient)
        cv.rect(u - half, u + half, vt, vb, np.array(pr.color, np.float32) * amb)
        if pr.kind == "tree":
            cv.ellipse(u, vt - 0.8 * crown, crown, crown * 1.1, np.array((0.13, 0.26, 0.1), np.float32) * amb)
        elif look.glow > 0:  # street lamp
            cv.glow(u, vt, min(max(0.8, f * 0.5 / zt), 0.03 * cam.width), (1.0, 0.85, 0.55), 0.8 * look.glow)

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
        proj = _Projector(sc.camera, sc.road, float(sc.pitch_deg[k]), float(sc.yaw_px[k]), float(sc.ego_x[k]))
        self._background(k, proj)
        self._walls(k, proj)
        odo = float(sc.odometer[k])
        i0, i1 = np.searchsorted(self.small_z, [odo + 1.0, odo + 90])  # farther ones are fog-grey specks
        items = [(self.small[i].zw - odo, 0, self.small[i]) for i in range(i0, i1)]
        items += [(float(v.p[k]), 1, v) for v in sc.vehicles]
        items.sort(key=lambda it: -it[0])  # painter's order, far to near
        for p, is_vehicle, obj in items:
            if is_vehicle:
                self._draw_vehicle(proj, obj, k)
            else:
                self._draw_prop(proj, obj, p)
        img = self.cv.img  # (3, H, W)
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
        return _sat(out, 255.0)


def _sub_quad(q: np.ndarray, s0: float, s1: float, r0: float, r1: float) -> np.ndarray:
    """Part of a (4, 3) quad [bl, br, tr, tl] between fractions s (across) and r (up)."""
    bl, br, tr, tl = q

    def at(s, r):
        return (1 - r) * ((1 - s) * bl + s * br) + r * ((1 - s) * tl + s * tr)

    return np.array([at(s0, r0), at(s1, r0), at(s1, r1), at(s0, r1)])


def _line_cov(d: np.ndarray, w: float, p: np.ndarray, inv_p: np.ndarray) -> np.ndarray:
    """Fraction of a pixel (width p, metres; (Hg, 1)) covered by a line of width w at distance d.

    Box-filter overlap: (w/2 + p/2 - d) / p, capped at min(1, w/p) -- exact for both
    sub-pixel and wide lines.
    """
    x = (w / 2 + p / 2 - d) * inv_p
    return _sat(x, np.minimum(1, w * inv_p))


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
    u = sr * np.float32(-37.797 / 1020) + sg * np.float32(-74.203 / 1020) + sb * np.float32(112.0 / 1020) + np.float32(128.5)
    v = sr * np.float32(112.0 / 1020) + sg * np.float32(-93.786 / 1020) + sb * np.float32(-18.214 / 1020) + np.float32(128.5)
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
