"""Painting solids in a frame: vehicles as oriented boxes (with cabin and lights) and roadside props.

Vehicles are boxes whose visible faces are chosen by a back-face test in the camera frame, so
their apparent size comes from the same projection as everything else and grows like
1/distance as they approach.
"""

from __future__ import annotations

import math

import numpy as np

from archsearch.data.synth.projector import NEAR_Z, Projector
from archsearch.data.synth.scene import VEHICLE_SIZES, Prop, Vehicle

_FACES = (("rear", (0, 1), 0.8), ("right", (1, 2), 0.7), ("front", (2, 3), 0.85), ("left", (3, 0), 0.65))


def _footprint(xc: float, pc: float, heading: float, L: float, W: float, shift: float = 0.0):
    """Ground corners (rear-left, rear-right, front-right, front-left) of an oriented box."""
    sh, ch = math.sin(heading), math.cos(heading)
    xc, pc = xc + sh * shift, pc + ch * shift
    fx, fz, rx, rz = sh * L / 2, ch * L / 2, ch * W / 2, -sh * W / 2
    xs = [xc - fx - rx, xc - fx + rx, xc + fx + rx, xc + fx - rx]
    zs = [pc - fz - rz, pc - fz + rz, pc + fz + rz, pc + fz - rz]
    return xs, zs


def _visible_faces(proj: Projector, xs, zs):
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


def _sub_quad(q: np.ndarray, s0: float, s1: float, r0: float, r1: float) -> np.ndarray:
    """Part of a (4, 3) quad [bl, br, tr, tl] between fractions s (across) and r (up)."""
    bl, br, tr, tl = q

    def at(s, r):
        return (1 - r) * ((1 - s) * bl + s * br) + r * ((1 - s) * tl + s * tr)

    return np.array([at(s0, r0), at(s1, r0), at(s1, r1), at(s0, r1)])


class ObjectPainter:
    """Renderer mixin: vehicles, their lights, poles, trees and street lamps.

    Relies on the attributes ``Renderer.__init__`` sets: ``sc`` (the Scene) and ``cv`` (the canvas).
    """

    def draw_vehicle(self, proj: Projector, veh: Vehicle, k: int) -> None:
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
            for _face, i, j, shade in _visible_faces(proj, cxs, czs):
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

    def draw_prop(self, proj: Projector, pr: Prop, p: float) -> None:
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
