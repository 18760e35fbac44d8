"""Traffic situations simulated in the road frame: kinematics helpers and one builder per family.

Each ``_fam_*`` builder draws one instance of a situation (a lead vehicle braking, a cut-in,
crossing traffic, ...) on a fine time grid r (s, relative to the situation's trigger at r = 0);
it does not decide the outcome -- ``simulate`` does, by measuring the resulting gap. Keeping
the builders free of outcome logic is what lets collisions, near misses and normal clips
share their early history.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from archsearch.data.synth.scene import VEHICLE_SIZES, RoadLayout

DT = 0.02  # s, kinematics grid


# ---------------------------------------------------------------------------------------------
# Kinematics on a fine grid r (s, relative to the situation's trigger at r = 0)


def _speed(r: np.ndarray, v0: float, phases: list[tuple[float, float, float]]) -> np.ndarray:
    """Speed profile: from each phase start, move towards its target at |accel|, then hold."""
    v = np.full(r.shape, v0)
    cur = v0
    phases = sorted(phases)
    for i, (start, accel, target) in enumerate(phases):
        end = phases[i + 1][0] if i + 1 < len(phases) else np.inf
        m = r >= start
        rr = r[m] - start
        seg = np.minimum(cur + abs(accel) * rr, target) if target >= cur else np.maximum(cur - abs(accel) * rr, target)
        v[m] = seg
        if np.isfinite(end):
            dt = end - start
            cur = min(cur + abs(accel) * dt, target) if target >= cur else max(cur - abs(accel) * dt, target)
    return v


def _ramp(r: np.ndarray, start: float, dur: float) -> np.ndarray:
    s = np.clip((r - start) / max(dur, 1e-6), 0, 1)
    return s * s * (3 - 2 * s)


def integrate(r: np.ndarray, v: np.ndarray, i0: int) -> np.ndarray:
    """Position with value 0 at index i0 (trapezoid rule)."""
    x = np.concatenate([[0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * np.diff(r))])
    return x - x[i0]


@dataclass
class Actor:
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
    family: str
    ego_v: np.ndarray
    ego_x: np.ndarray
    actor: Actor
    salient_r: float | None = None  # normal-only families say where their moment is
    cross_p0: float | None = None  # cross-street centre relative to the camera at r = 0
    exclude_lanes: set[int] = field(default_factory=set)  # lanes kept free of background traffic


@dataclass
class Ctx:
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


def _brake_flag(v: np.ndarray, r: np.ndarray) -> np.ndarray:
    return (np.gradient(v, r) < -0.4).astype(float)


def _lead_actor(ctx: Ctx, kind, x, v_lead, v_ego, gap0) -> Actor:
    """A same-direction vehicle whose rear is ``gap0`` ahead of the ego's bumper at r = 0."""
    L = VEHICLE_SIZES[kind][0]
    p = ctx.hood + L / 2 + gap0 + integrate(ctx.r, v_lead - v_ego, ctx.i0)
    return Actor(kind, x, p, np.zeros_like(ctx.r), _brake_flag(v_lead, ctx.r))


def _fam_lead_brake(ctx: Ctx, rng) -> Situation:
    r, v0 = ctx.r, ctx.v0
    vl0 = v0 - rng.uniform(-0.5, 2.0)
    a_l = rng.uniform(2.0, 8.5)
    v_lt = vl0 * rng.uniform(0.0, 0.6)
    resume = (vl0 - v_lt) / a_l + rng.uniform(0.5, 2.5)
    v_lead = _speed(r, vl0, [(0.0, a_l, v_lt), (resume, rng.uniform(1, 2.5), vl0 * rng.uniform(0.6, 1.0))])
    react = rng.uniform(0.3, 2.4)
    v_e = _speed(
        r,
        v0,
        [
            (react, rng.uniform(1.5, 8.5), max(0.0, v_lt * rng.uniform(0.3, 1.0))),
            (resume + rng.uniform(0.5, 1.5), rng.uniform(1, 2), vl0 * rng.uniform(0.7, 1.0)),
        ],
    )
    kind = random_vehicle_kind(rng)
    actor = _lead_actor(ctx, kind, np.full_like(r, rng.uniform(-0.4, 0.4)), v_lead, v_e, rng.uniform(4, 20) + 0.4 * v0)
    return Situation("lead_brake", v_e, _wander(ctx, rng), actor)


def _fam_stopped_ahead(ctx: Ctx, rng) -> Situation:
    r, v0, road = ctx.r, ctx.v0, ctx.road
    v_l = v0 * rng.uniform(0.0, 0.5) * (rng.random() < 0.6)
    ttc = rng.uniform(0.6, 3.8)
    gap0 = ttc * (v0 - v_l)
    ego_x = _wander(ctx, rng)
    sides = free_sides(road)
    exclude: set[int] = set()
    if sides and rng.random() < 0.5:  # swerve around it
        side = int(rng.choice(sides))
        ego_x = ego_x + side * road.lane_w * _ramp(r, rng.uniform(-0.3, 0.5), rng.uniform(1.0, 2.2))
        v_e = _speed(r, v0, [(rng.uniform(0.0, 1.0), rng.uniform(0.0, 3.0), v0 * 0.6)])
        exclude.add(side)
    else:
        v_e = _speed(r, v0, [(0.0, rng.uniform(2.0, 8.5), v_l * rng.uniform(0, 1))])
    actor = _lead_actor(
        ctx, random_vehicle_kind(rng), np.full_like(r, rng.uniform(-0.5, 0.5)), np.full_like(r, v_l), v_e, gap0
    )
    actor.brake[:] = float(rng.random() < 0.7)
    return Situation("stopped_ahead", v_e, ego_x, actor, exclude_lanes=exclude)


def _fam_cut_in(ctx: Ctx, rng) -> Situation:
    r, v0, road = ctx.r, ctx.v0, ctx.road
    side = int(rng.choice(free_sides(road, oncoming=False)))
    v_t0 = v0 - rng.uniform(0.5, 5.0)
    phases = []
    if rng.random() < 0.65:
        phases.append((rng.uniform(0.3, 2.0), rng.uniform(2.0, 7.5), v_t0 * rng.uniform(0.2, 0.8)))
    v_t = _speed(r, v_t0, phases)
    dur = rng.uniform(1.0, 2.5)
    x = side * road.lane_w + (rng.uniform(-0.4, 0.4) - side * road.lane_w) * _ramp(r, 0.0, dur)
    v_e = _speed(r, v0, [(rng.uniform(0.4, 2.5), rng.uniform(1.5, 8.5), float(v_t.min()) * rng.uniform(0.5, 1.0))])
    actor = _lead_actor(ctx, random_vehicle_kind(rng), x, v_t, v_e, rng.uniform(1.5, 15.0))
    actor.heading = np.arctan2(np.gradient(x, r), np.maximum(v_t, 1.0))
    return Situation("cut_in", v_e, _wander(ctx, rng), actor, exclude_lanes={side})


def _fam_merge(ctx: Ctx, rng) -> Situation:
    """An alongside vehicle drifts into the ego's side (truck blind-spot sideswipes)."""
    r, v0, road = ctx.r, ctx.v0, ctx.road
    side = int(rng.choice(free_sides(road, oncoming=False)))
    kind = random_vehicle_kind(rng)
    L, W = VEHICLE_SIZES[kind][:2]
    v_t = np.full_like(r, v0 + rng.uniform(-1.0, 1.0))
    depth = rng.uniform(1.0, 3.6)  # how far it drifts in (m)
    lat_v = rng.uniform(0.4, 1.6)
    x = side * road.lane_w - side * depth * _ramp(r, 0.0, depth / lat_v * 1.5)
    if rng.random() < 0.5:  # driver notices and corrects
        back = rng.uniform(0.6, 2.5)
        x = x + side * depth * _ramp(r, back, rng.uniform(0.8, 1.6))
    p_rear = ctx.hood + rng.uniform(-3.0, 3.5)
    p = p_rear + L / 2 + integrate(r, v_t - v0, ctx.i0)
    heading = np.arctan2(np.gradient(x, r), np.maximum(v_t, 1.0))
    actor = Actor(kind, x, p, heading, np.zeros_like(r))
    v_e = v0 + np.zeros_like(r)
    if rng.random() < 0.5:
        v_e = _speed(r, v0, [(rng.uniform(0.3, 2.0), rng.uniform(1.5, 6.0), v0 * 0.5)])
    return Situation("merge", v_e, _wander(ctx, rng), actor, exclude_lanes={side})


def _fam_crossing(ctx: Ctx, rng) -> Situation:
    """Cross traffic at an intersection. Unbraked, the ego's bumper reaches the actor's lane
    at r = 0 and the actor crosses the ego's path at r = delta; braking (either side) and the
    simulation decide whether that ends in contact, a near miss or a clear pass."""
    r, v0 = ctx.r, ctx.v0
    dirn = 1.0 if rng.random() < 0.5 else -1.0  # +1: from the left, moving right
    v_c0 = rng.uniform(4.0, 14.0) * (1.3 if ctx.variant == "side" else 1.0)
    delta = rng.uniform(-2.5, 2.5)  # when it crosses the ego's path relative to the ego arriving
    phases = []
    if rng.random() < 0.3:
        phases.append((delta - rng.uniform(0.5, 2.0), rng.uniform(2, 6), v_c0 * rng.uniform(0, 0.5)))
    v_c = _speed(r, v_c0, phases)
    x_at = integrate(r, v_c, int(np.argmin(np.abs(r - delta))))
    x = dirn * x_at
    v_e = v0 + np.zeros_like(r)
    if rng.random() < 0.6:
        stop = rng.uniform(-2.5, -0.2)
        v_e = _speed(r, v0, [(stop, rng.uniform(2.0, 8.5), 0.0), (stop + rng.uniform(2.5, 4.0), 2.0, v0 * 0.6)])
    p_lane = ctx.hood + integrate(r, -v_e, ctx.i0)  # the actor's lane, fixed in the world
    actor = Actor(random_vehicle_kind(rng), x, p_lane, np.full_like(r, dirn * np.pi / 2), _brake_flag(v_c, r))
    return Situation("crossing", v_e, _wander(ctx, rng), actor, cross_p0=ctx.hood + dirn * 1.75)


def _fam_oncoming(ctx: Ctx, rng) -> Situation:
    r, v0, road = ctx.r, ctx.v0, ctx.road
    lane = -road.n_left - 1
    v_o = rng.uniform(8.0, 22.0)
    kind = random_vehicle_kind(rng)
    L = VEHICLE_SIZES[kind][0]
    drift = rng.uniform(0.0, 3.6)
    start = -rng.uniform(1.0, 3.5)
    x = lane * road.lane_w + rng.uniform(-0.3, 0.3) + drift * _ramp(r, start, rng.uniform(1.0, 3.0))
    if rng.random() < 0.5:
        back = rng.uniform(-1.5, 0.2)
        x = x - drift * _ramp(r, back, rng.uniform(0.6, 1.5))
    ego_x = _wander(ctx, rng)
    if rng.random() < 0.4:
        ego_x = ego_x + rng.uniform(0.3, 1.3) * _ramp(r, -rng.uniform(0.3, 1.5), 0.8)
    v_e = v0 + np.zeros_like(r)
    p = ctx.hood + L / 2 + integrate(r, -v_o - v_e, ctx.i0)
    heading = np.pi + np.arctan2(-np.gradient(x, r), v_o)
    actor = Actor(kind, x, p, heading, np.zeros_like(r))
    return Situation("oncoming", v_e, ego_x, actor, exclude_lanes={lane})


def _fam_following(ctx: Ctx, rng) -> Situation:
    r, v0 = ctx.r, ctx.v0
    amp, period = rng.uniform(0.3, 1.5), rng.uniform(4.0, 10.0)
    v_l = v0 + amp * np.sin(2 * np.pi * r / period + rng.uniform(0, 6.3))
    dip = rng.uniform(1.0, 3.0)
    v_l = v_l - _speed(r, 0.0, [(0.0, dip, rng.uniform(1.5, 5.0)), (rng.uniform(1.5, 3.0), dip, 0.0)])
    lag = int(rng.uniform(0.6, 1.4) / DT)
    v_e = np.concatenate([np.full(lag, v_l[0]), v_l[:-lag]])
    actor = _lead_actor(
        ctx, random_vehicle_kind(rng), np.full_like(r, rng.uniform(-0.3, 0.3)), v_l, v_e, rng.uniform(8, 35)
    )
    return Situation("following", v_e, _wander(ctx, rng), actor, salient_r=float(rng.uniform(0.8, 2.0)))


def _fam_overtaken(ctx: Ctx, rng) -> Situation:
    r, v0, road = ctx.r, ctx.v0, ctx.road
    side = int(rng.choice(free_sides(road, oncoming=False)))
    v_t = np.full_like(r, v0 + rng.uniform(2.0, 10.0))
    kind = random_vehicle_kind(rng)
    x = np.full_like(r, side * road.lane_w + rng.uniform(-0.3, 0.3))
    p = integrate(r, v_t - v0, ctx.i0)
    actor = Actor(kind, x, p, np.zeros_like(r), np.zeros_like(r))
    return Situation("overtaken", v0 + np.zeros_like(r), _wander(ctx, rng), actor, salient_r=0.0, exclude_lanes={side})


def _fam_lane_change(ctx: Ctx, rng) -> Situation:
    r, v0, road = ctx.r, ctx.v0, ctx.road
    side = int(rng.choice(free_sides(road, oncoming=False)))
    dur = rng.uniform(2.0, 4.0)
    v_t = np.full_like(r, v0 + rng.uniform(-2.0, 1.0))
    lat = _ramp(r, -dur / 2, dur)
    x = side * road.lane_w * (lat if rng.random() < 0.5 else 1 - lat)  # leaves, or moves in
    v_e = v0 + np.zeros_like(r)
    actor = _lead_actor(ctx, random_vehicle_kind(rng), x, v_t, v_e, rng.uniform(12.0, 35.0))
    actor.heading = np.arctan2(np.gradient(x, r), np.maximum(v_t, 1.0))
    return Situation("lane_change", v_e, _wander(ctx, rng), actor, salient_r=0.0, exclude_lanes={side})


THREAT_FAMILIES = ("lead_brake", "stopped_ahead", "cut_in", "merge", "crossing", "oncoming")
BUILDERS = {
    "lead_brake": _fam_lead_brake,
    "stopped_ahead": _fam_stopped_ahead,
    "cut_in": _fam_cut_in,
    "merge": _fam_merge,
    "crossing": _fam_crossing,
    "oncoming": _fam_oncoming,
    "following": _fam_following,
    "overtaken": _fam_overtaken,
    "lane_change": _fam_lane_change,
}


def _wander(ctx: Ctx, rng) -> np.ndarray:
    return 0.15 * np.sin(2 * np.pi * ctx.r / rng.uniform(5, 12) + rng.uniform(0, 6.3))


def free_sides(road: RoadLayout, oncoming: bool = True) -> list[int]:
    sides = ([-1] if road.n_left > 0 or (oncoming and road.n_oncoming > 0) else []) + ([1] if road.n_right > 0 else [])
    return sides
