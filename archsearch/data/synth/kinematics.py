"""Kinematics on a fine time grid: speed profiles, lateral moves, integration, and the plain data
that a traffic situation is made of (``Actor``, ``Situation``, ``Ctx``).

Time ``r`` (s) is relative to the situation's *decision*: every manoeuvre that decides how it ends
(braking, a correction, a swerve) is under way by r = 0, and from then on every velocity either
holds or changes at a constant rate until it reaches zero or a lane centre. So the state at any
time after the decision (positions, velocities, accelerations) determines the outcome, which is
what lets an oracle on the true trajectories reach near-perfect AP at every horizon.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from archsearch.data.synth.scene import VEHICLE_SIZES, RoadLayout

DT = 0.02  # s, kinematics grid


def speed_profile(r: np.ndarray, v0: float, phases: list[tuple[float, float, float]]) -> np.ndarray:
    """A velocity over r: from each phase's start it moves towards the phase's target at |accel|, then holds.

    A later phase takes over from wherever the previous one had got to; works for signed
    (lateral) velocities as well as speeds.
    """
    v = np.full(r.shape, float(v0))
    cur = float(v0)
    phases = sorted(phases)
    for i, (start, accel, target) in enumerate(phases):
        end = phases[i + 1][0] if i + 1 < len(phases) else np.inf
        m = r >= start
        rr = r[m] - start
        rate = abs(accel)
        v[m] = np.minimum(cur + rate * rr, target) if target >= cur else np.maximum(cur - rate * rr, target)
        if np.isfinite(end):
            dt = end - start
            cur = min(cur + rate * dt, target) if target >= cur else max(cur - rate * dt, target)
    return v


def smooth_step(r: np.ndarray, start: float, dur: float) -> np.ndarray:
    """0 before ``start``, 1 after ``start + dur``, a smooth S in between."""
    s = np.clip((r - start) / max(dur, 1e-6), 0, 1)
    return s * s * (3 - 2 * s)


def integrate(r: np.ndarray, v: np.ndarray, i0: int) -> np.ndarray:
    """Position with value 0 at index i0 (trapezoid rule)."""
    x = np.concatenate([[0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * np.diff(r))])
    return x - x[i0]


def lateral_move(r: np.ndarray, x0: float, x1: float, start: float, speed: float, accel: float = 2.5) -> np.ndarray:
    """Lateral position moving from x0 to x1: lateral speed ramps up at ``accel`` to ``speed`` from ``start``,
    holds, and ramps down at ``accel`` so that it stops exactly at x1 (a lane change ends in a lane)."""
    dist = abs(x1 - x0)
    if dist < 1e-9:
        return np.full(r.shape, float(x0))
    ramp = speed / accel
    if 2 * (0.5 * accel * ramp**2) > dist:  # never reaches full speed: triangle profile
        ramp = np.sqrt(dist / accel)
        speed = accel * ramp
    cruise = (dist - accel * ramp**2) / speed
    tt = np.clip(r - start, 0, None)
    t1, t2, t3 = ramp, ramp + cruise, 2 * ramp + cruise
    s = np.where(
        tt < t1,
        0.5 * accel * tt**2,
        np.where(
            tt < t2,
            0.5 * accel * t1**2 + speed * (tt - t1),
            np.where(tt < t3, dist - 0.5 * accel * np.clip(t3 - tt, 0, None) ** 2, dist),
        ),
    )
    return x0 + np.sign(x1 - x0) * s


@dataclass
class Actor:
    """The main other vehicle, in the road frame on the fine grid."""

    kind: str
    x: np.ndarray  # (N,) lateral, road frame
    p: np.ndarray  # (N,) ahead of the camera
    heading: np.ndarray  # (N,)
    brake: np.ndarray  # (N,) float 0/1

    @property
    def dims(self) -> tuple[float, float]:
        L, W, _, _ = VEHICLE_SIZES[self.kind]
        return L, W


@dataclass
class Situation:
    """One drawn traffic situation: the ego's motion, the main actor, and what the dressing must respect."""

    family: str
    ego_v: np.ndarray
    ego_x: np.ndarray
    actor: Actor
    salient_r: float | None = None  # normal-only families say where their moment is
    cross_p0: float | None = None  # cross-street centre relative to the camera at r = 0
    exclude_lanes: set[int] = field(default_factory=set)  # lanes kept free of background traffic


@dataclass
class Ctx:
    """What every situation builder needs: variant, road, ego cruising speed, ego geometry, the grid."""

    variant: str
    road: RoadLayout
    v0: float
    hood: float
    ego_w: float
    ego_len: float
    r: np.ndarray
    i0: int


def random_vehicle_kind(rng) -> str:
    return str(rng.choice(["car", "suv", "van", "truck"], p=[0.6, 0.25, 0.1, 0.05]))


def brake_flag(v: np.ndarray, r: np.ndarray) -> np.ndarray:
    """1 where the vehicle decelerates harder than 0.4 m/s^2 (its brake lights are on)."""
    return (np.gradient(v, r) < -0.4).astype(float)


def heading_of(x: np.ndarray, v: np.ndarray, r: np.ndarray, base: float = 0.0) -> np.ndarray:
    """Heading from the lateral and longitudinal velocities (``base`` pi for oncoming traffic)."""
    lat = np.gradient(x, r)
    if base:
        return base + np.arctan2(-lat, np.maximum(np.abs(v), 1.0))
    return np.arctan2(lat, np.maximum(v, 1.0))


def wander(ctx: Ctx, rng) -> np.ndarray:
    """The ego's slight lane keeping sway (m)."""
    return 0.1 * np.sin(2 * np.pi * ctx.r / rng.uniform(6, 12) + rng.uniform(0, 6.3))


def free_sides(road: RoadLayout, oncoming: bool = True) -> list[int]:
    """Sides (-1 left, +1 right) with an adjacent lane (oncoming lanes count when ``oncoming``)."""
    left = road.n_left > 0 or (oncoming and road.n_oncoming > 0)
    return ([-1] if left else []) + ([1] if road.n_right > 0 else [])
