"""Traffic situations simulated in the road frame: one builder per family, each around a decision.

A builder draws one instance of a situation (a lead vehicle braking, a cut-in, crossing traffic,
a merge, ...) on the fine grid r (s, relative to the decision at r = 0). Before the decision the
history is shared by every outcome: the lead starts braking, the other car starts drifting, the
ego reacts. At the decision each party commits to one constant rate -- keep braking at a_e, hold
the speed, correct the drift at a_lat -- and keeps it until it stops or reaches a lane centre.
The builders never choose the outcome: ``simulate`` measures it (contact, closest approach) and
draws again until the wanted one appears, so collisions and near misses differ in the dynamics
after the decision (looming that keeps accelerating vs looming that slows; a drift that continues
vs one that is corrected; a constant bearing vs one that moves), not in their early history.
"""

from __future__ import annotations

import numpy as np

from archsearch.data.synth.kinematics import (
    Actor,
    Ctx,
    Situation,
    brake_flag,
    free_sides,
    heading_of,
    integrate,
    lateral_move,
    random_vehicle_kind,
    speed_profile,
    wander,
)
from archsearch.data.synth.scene import VEHICLE_SIZES


def lead_actor(ctx: Ctx, kind: str, x: np.ndarray, v_lead: np.ndarray, v_ego: np.ndarray, gap0: float) -> Actor:
    """A same-direction vehicle whose rear is ``gap0`` ahead of the ego's bumper at the decision."""
    L = VEHICLE_SIZES[kind][0]
    p = ctx.hood + L / 2 + gap0 + integrate(ctx.r, v_lead - v_ego, ctx.i0)
    return Actor(kind, x, p, heading_of(x, v_lead, ctx.r), brake_flag(v_lead, ctx.r))


def ego_speed(ctx: Ctx, rng, react: float | None, brake_p: float, max_decel: float = 8.0) -> np.ndarray:
    """The ego's speed: an optional early reaction (eases off from ``react``), then at the decision it
    either brakes at a constant rate (with probability ``brake_p``) or holds its speed."""
    phases = []
    if react is not None and react < 0:
        phases.append((react, rng.uniform(0.5, 3.0), ctx.v0 * rng.uniform(0.5, 0.95)))
    if rng.random() < brake_p:
        phases.append((0.0, rng.uniform(1.0, max_decel), 0.0))
    else:
        phases.append((0.0, 0.0, 0.0))  # rate 0: holds whatever speed it has
    return speed_profile(ctx.r, ctx.v0, phases)


def lead_decision(rng, v_lead0: float) -> tuple[float, float, float]:
    """What a braking lead vehicle commits to at the decision: brake hard to a stop, ease off, or pull away."""
    u = rng.random()
    if u < 0.5:
        return 0.0, rng.uniform(3.0, 8.0), 0.0
    if u < 0.8:
        return 0.0, rng.uniform(0.0, 1.5), 0.0
    return 0.0, rng.uniform(0.5, 2.5), v_lead0


def reacting_ego(ctx: Ctx, rng, cue: float) -> np.ndarray:
    """The ego's speed when it reacts to a cue at r = cue (brake lights, a car moving in): after a
    reaction time it brakes at a rate drawn the same way whatever the outcome, so the ego's own
    motion (pitch dive, slowing scene) never tells the class; the other vehicle decides."""
    phases = [(cue + rng.uniform(0.4, 1.2), rng.uniform(1.0, 4.5), ctx.v0 * rng.uniform(0.0, 0.6))]
    return speed_profile(ctx.r, ctx.v0, phases)


def _fam_lead_brake(ctx: Ctx, rng) -> Situation:
    r, v0 = ctx.r, ctx.v0
    vl0 = v0 + rng.uniform(-2.0, 0.5)
    start = -rng.uniform(0.5, 3.0)  # the lead starts braking
    lead = [(start, rng.uniform(2.0, 6.0), vl0 * rng.uniform(0.0, 0.6)), lead_decision(rng, vl0)]
    v_lead = speed_profile(r, vl0, lead)
    v_e = reacting_ego(ctx, rng, start)
    x = np.full_like(r, rng.uniform(-0.3, 0.3))
    actor = lead_actor(ctx, random_vehicle_kind(rng), x, v_lead, v_e, rng.uniform(3.0, 20.0))
    return Situation("lead_brake", v_e, wander(ctx, rng), actor)


def _fam_stopped_ahead(ctx: Ctx, rng) -> Situation:
    r, v0, road = ctx.r, ctx.v0, ctx.road
    v_l = v0 * rng.uniform(0.0, 0.4) if rng.random() < 0.5 else 0.0
    ego_x = wander(ctx, rng)
    sides = free_sides(road)
    exclude: set[int] = set()
    if sides and rng.random() < 0.7:  # swerve around it, braking lightly
        side = int(rng.choice(sides))
        ego_x = ego_x + lateral_move(r, 0.0, side * road.lane_w, -rng.uniform(0.0, 1.0), rng.uniform(1.0, 2.5))
        v_e = speed_profile(r, v0, [(0.0, rng.uniform(0.0, 3.0), v0 * 0.5)])
        exclude.add(side)
    else:
        v_e = ego_speed(ctx, rng, -rng.uniform(0.0, 3.0), 0.8)
    kind = random_vehicle_kind(rng)
    actor = lead_actor(
        ctx, kind, np.full_like(r, rng.uniform(-0.5, 0.5)), np.full_like(r, v_l), v_e, rng.uniform(4.0, 35.0)
    )
    actor.brake[:] = float(rng.random() < 0.7)
    return Situation("stopped_ahead", v_e, ego_x, actor, exclude_lanes=exclude)


def _fam_cut_in(ctx: Ctx, rng) -> Situation:
    r, v0, road = ctx.r, ctx.v0, ctx.road
    side = int(rng.choice(free_sides(road, oncoming=False)))
    v_t0 = v0 - rng.uniform(0.5, 5.0)
    start = -rng.uniform(0.5, 2.5)
    x = lateral_move(
        r, side * road.lane_w + rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), start, rng.uniform(0.8, 2.0)
    )
    v_t = speed_profile(r, v_t0, [lead_decision(rng, v0 + 1.0)])
    v_e = reacting_ego(ctx, rng, start)
    actor = lead_actor(ctx, random_vehicle_kind(rng), x, v_t, v_e, rng.uniform(2.0, 15.0))
    return Situation("cut_in", v_e, wander(ctx, rng), actor, exclude_lanes={side})


def _fam_cut_out(ctx: Ctx, rng) -> Situation:
    """The slower vehicle ahead changes lanes out of the ego's path while the ego closes in: it clears
    the ego's path in time (a near miss, or a normal pass), or the ego catches its rear corner."""
    r, v0, road = ctx.r, ctx.v0, ctx.road
    side = int(rng.choice(free_sides(road, oncoming=False)))
    v_l = speed_profile(r, v0 - rng.uniform(3.0, 10.0), [lead_decision(rng, v0)] if rng.random() < 0.3 else [])
    x = lateral_move(
        r,
        rng.uniform(-0.3, 0.3),
        side * road.lane_w + rng.uniform(-0.3, 0.3),
        -rng.uniform(0.0, 2.0),
        rng.uniform(0.6, 2.0),
    )
    v_e = speed_profile(r, v0, [(rng.uniform(-1.0, 0.5), rng.uniform(0.0, 2.5), v0 * 0.6)])
    actor = lead_actor(ctx, random_vehicle_kind(rng), x, np.maximum(v_l, 0.0), v_e, rng.uniform(3.0, 25.0))
    return Situation("cut_out", v_e, wander(ctx, rng), actor, exclude_lanes={side})


def _fam_merge(ctx: Ctx, rng) -> Situation:
    """An alongside vehicle drifts towards the ego's side (truck blind-spot sideswipes)."""
    r, v0, road = ctx.r, ctx.v0, ctx.road
    side = int(rng.choice(free_sides(road, oncoming=False)))
    kind = random_vehicle_kind(rng)
    L = VEHICLE_SIZES[kind][0]
    drift = [(-rng.uniform(0.5, 2.5), 2.0, -side * rng.uniform(0.5, 1.5))]
    if rng.random() < 0.6:  # the driver notices and corrects at a constant lateral deceleration
        drift.append((0.0, rng.uniform(0.2, 1.5), 0.0))
    lat_v = speed_profile(r, 0.0, drift)
    x = side * road.lane_w + rng.uniform(-0.3, 0.3) + integrate(r, lat_v, 0)
    v_t = np.full_like(r, v0 + rng.uniform(-1.0, 1.0))
    v_e = ego_speed(ctx, rng, None, 0.4, 4.0)
    p = ctx.hood + rng.uniform(-4.0, 3.0) + L / 2 + integrate(r, v_t - v_e, ctx.i0)
    actor = Actor(kind, x, p, heading_of(x, v_t, r), np.zeros_like(r))
    return Situation("merge", v_e, wander(ctx, rng), actor, exclude_lanes={side})


def _fam_crossing(ctx: Ctx, rng) -> Situation:
    """Cross traffic at an intersection. Unbraked, the ego's bumper reaches the actor's lane at
    r = arrive and the actor crosses the ego's path at r = arrive + delta; who brakes at the
    decision, and how hard, settles whether that ends in contact, a near miss or a clear pass."""
    r, v0 = ctx.r, ctx.v0
    dirn = 1.0 if rng.random() < 0.5 else -1.0  # +1: from the left, moving right
    v_c0 = rng.uniform(4.0, 14.0) * (1.3 if ctx.variant == "side" else 1.0)
    arrive, delta = rng.uniform(1.5, 4.5), rng.uniform(-2.0, 2.0)
    v_c = speed_profile(r, v_c0, [(0.0, rng.uniform(2.0, 7.0), 0.0)] if rng.random() < 0.3 else [])
    x = dirn * integrate(r, v_c, int(np.argmin(np.abs(r - (arrive + delta)))))
    v_e = ego_speed(ctx, rng, -rng.uniform(0.0, 2.5) if rng.random() < 0.3 else None, 0.5)
    p_lane = ctx.hood + v0 * arrive + integrate(r, -v_e, ctx.i0)  # the actor's lane, fixed in the world
    actor = Actor(random_vehicle_kind(rng), x, p_lane, np.full_like(r, dirn * np.pi / 2), brake_flag(v_c, r))
    return Situation("crossing", v_e, wander(ctx, rng), actor, cross_p0=float(p_lane[ctx.i0] + dirn * 1.75))


def _fam_oncoming(ctx: Ctx, rng) -> Situation:
    """An oncoming car drifts over the centre line; it corrects at the decision, or does not."""
    r, v0, road = ctx.r, ctx.v0, ctx.road
    lane = -road.n_left - 1
    v_o = rng.uniform(8.0, 22.0)
    kind = random_vehicle_kind(rng)
    L = VEHICLE_SIZES[kind][0]
    drift = [(-rng.uniform(0.5, 2.5), 1.5, rng.uniform(0.3, 1.0))]
    if rng.random() < 0.6:
        drift.append((0.0, rng.uniform(0.3, 1.5), 0.0))
    x = lane * road.lane_w + rng.uniform(-0.3, 0.3) + integrate(r, speed_profile(r, 0.0, drift), 0)
    ego_x = wander(ctx, rng)
    if rng.random() < 0.3:  # the ego edges right
        ego_x = ego_x + lateral_move(r, 0.0, rng.uniform(0.3, 1.0), -rng.uniform(0.0, 1.0), rng.uniform(0.5, 1.2))
    v_e = ego_speed(ctx, rng, None, 0.3, 5.0)
    p = ctx.hood + L / 2 + (v_o + v0) * rng.uniform(2.0, 4.5) + integrate(r, -v_o - v_e, ctx.i0)
    actor = Actor(kind, x, p, heading_of(x, np.full_like(r, v_o), r, np.pi), np.zeros_like(r))
    return Situation("oncoming", v_e, ego_x, actor, exclude_lanes={lane})


def _fam_following(ctx: Ctx, rng) -> Situation:
    r, v0 = ctx.r, ctx.v0
    amp, period = rng.uniform(0.3, 1.5), rng.uniform(4.0, 10.0)
    v_l = v0 + amp * np.sin(2 * np.pi * r / period + rng.uniform(0, 6.3))
    dip = rng.uniform(1.0, 3.0)
    v_l = v_l - speed_profile(
        r, 0.0, [(-rng.uniform(0.0, 2.0), dip, rng.uniform(1.5, 5.0)), (rng.uniform(0.5, 2.0), dip, 0.0)]
    )
    lag = int(rng.uniform(0.6, 1.4) / (r[1] - r[0]))
    v_e = np.concatenate([np.full(lag, v_l[0]), v_l[:-lag]])
    actor = lead_actor(
        ctx, random_vehicle_kind(rng), np.full_like(r, rng.uniform(-0.3, 0.3)), v_l, v_e, rng.uniform(6.0, 35.0)
    )
    return Situation("following", v_e, wander(ctx, rng), actor, salient_r=float(rng.uniform(2.0, 4.0)))


def _fam_overtaken(ctx: Ctx, rng) -> Situation:
    r, v0, road = ctx.r, ctx.v0, ctx.road
    side = int(rng.choice(free_sides(road, oncoming=False)))
    v_t = np.full_like(r, v0 + rng.uniform(2.0, 10.0))
    salient = float(rng.uniform(2.0, 4.0))
    x = np.full_like(r, side * road.lane_w + rng.uniform(-0.3, 0.3))
    p = integrate(r, v_t - v0, int(np.argmin(np.abs(r - salient))))
    actor = Actor(random_vehicle_kind(rng), x, p, np.zeros_like(r), np.zeros_like(r))
    return Situation(
        "overtaken", v0 + np.zeros_like(r), wander(ctx, rng), actor, salient_r=salient, exclude_lanes={side}
    )


def _fam_lane_change(ctx: Ctx, rng) -> Situation:
    r, v0, road = ctx.r, ctx.v0, ctx.road
    side = int(rng.choice(free_sides(road, oncoming=False)))
    salient = float(rng.uniform(2.0, 4.0))
    leaves = rng.random() < 0.5
    x0, x1 = (0.0, side * road.lane_w) if leaves else (side * road.lane_w, 0.0)
    x = lateral_move(
        r,
        x0 + rng.uniform(-0.3, 0.3),
        x1 + rng.uniform(-0.3, 0.3),
        salient - rng.uniform(0.5, 2.0),
        rng.uniform(0.6, 1.5),
    )
    v_t = np.full_like(r, v0 + rng.uniform(-2.0, 1.0))
    v_e = v0 + np.zeros_like(r)
    actor = lead_actor(ctx, random_vehicle_kind(rng), x, v_t, v_e, rng.uniform(12.0, 35.0))
    return Situation("lane_change", v_e, wander(ctx, rng), actor, salient_r=salient, exclude_lanes={side})


THREAT_FAMILIES = ("lead_brake", "stopped_ahead", "cut_in", "cut_out", "merge", "crossing", "oncoming")
BUILDERS = {
    "lead_brake": _fam_lead_brake,
    "stopped_ahead": _fam_stopped_ahead,
    "cut_in": _fam_cut_in,
    "cut_out": _fam_cut_out,
    "merge": _fam_merge,
    "crossing": _fam_crossing,
    "oncoming": _fam_oncoming,
    "following": _fam_following,
    "overtaken": _fam_overtaken,
    "lane_change": _fam_lane_change,
}
