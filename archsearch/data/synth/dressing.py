"""Dressing a simulated situation: lighting and colours, roadside props, skyline, other traffic.

None of this changes the label; it is the nuisance variation (time of day, town vs highway,
background vehicles) that a model must learn to ignore. Background traffic is filtered so it
can never create a second event.
"""

from __future__ import annotations

import numpy as np

from archsearch.data.synth.kinematics import Actor, Ctx, Situation, random_vehicle_kind
from archsearch.data.synth.scene import Look, Prop, RoadLayout, Vehicle
from archsearch.data.synth.simulate import choose, separation
from archsearch.data.synth.variants import COLORS, LIGHTING


def make_look(variant: str, setting: str, rng) -> Look:
    lighting = choose(rng, dict(zip(("day", "dusk", "night"), LIGHTING[variant])))

    def jit(c, s=0.06):  # a common brightness change, only a slight tint per channel
        k = 1 + rng.uniform(-s, s)
        return tuple(float(np.clip(v * k * rng.uniform(0.97, 1.03), 0, 1)) for v in c)

    asphalt = jit((0.33, 0.33, 0.35), 0.15)
    offroad = {"urban": (0.55, 0.54, 0.52), "highway": (0.33, 0.44, 0.24), "rural": (0.36, 0.46, 0.22)}[setting]
    town = setting == "urban"
    if lighting == "day":
        return Look(
            "day",
            jit((0.36, 0.56, 0.86)),
            jit((0.78, 0.84, 0.9)),
            jit((0.55, 0.6, 0.64) if town else (0.42, 0.5, 0.44)),
            asphalt,
            jit(offroad),
            float(rng.uniform(0.85, 1.1)),
            float(rng.uniform(250, 500)),
            0.0,
            0.0,
            0.0,
        )
    if lighting == "dusk":
        return Look(
            "dusk",
            jit((0.22, 0.22, 0.42)),
            jit((0.92, 0.6, 0.4), 0.1),
            jit((0.2, 0.17, 0.2)),
            asphalt,
            jit(offroad),
            float(rng.uniform(0.4, 0.6)),
            float(rng.uniform(150, 300)),
            0.25,
            0.05 if town else 0.0,
            0.6,
        )
    glow_h = (0.13, 0.1, 0.09) if town else (0.05, 0.05, 0.07)
    return Look(
        "night",
        (0.01, 0.012, 0.03),
        jit(glow_h, 0.2),
        (0.02, 0.02, 0.03),
        asphalt,
        jit(offroad),
        float(rng.uniform(0.07, 0.13)),
        float(rng.uniform(100, 200)),
        float(rng.uniform(0.7, 1.0)),
        0.35 if setting != "rural" else 0.0,
        1.0,
    )


def make_props(road: RoadLayout, z0: float, z1: float, crosses: list[float], rng) -> list[Prop]:
    """Buildings (town), street lamps and trees along [z0, z1] of the road, none in junctions."""
    props: list[Prop] = []
    xr, xl = road.x_right + road.shoulder, road.x_left

    def clear(z: float) -> bool:
        return all(abs(z - c) > 8 for c in crosses)

    if road.setting == "urban":
        for side_x in (xr + 3.0, xl - 3.0):
            z = z0 - rng.uniform(0, 20)
            while z < z1:
                length = rng.uniform(8, 30)
                if clear(z) and clear(z + length):
                    col = _COLORS_BUILDING[int(rng.integers(len(_COLORS_BUILDING)))]
                    props.append(Prop("building", side_x, z, (length, rng.uniform(5, 20)), col))
                z += length + rng.uniform(0, 6)
    spacing = {"urban": 30.0, "highway": 40.0, "rural": 45.0}[road.setting]
    z = z0 + rng.uniform(0, spacing)
    while z < z1:
        if clear(z):
            props.append(Prop("pole", xr + 0.6, z, (0.18, 7.0 if road.setting != "rural" else 6.0), (0.35, 0.35, 0.37)))
        z += spacing
    if road.setting != "urban":
        for side in (1, -1):
            z = z0 + rng.uniform(0, 20)
            while z < z1:
                edge = xr if side > 0 else xl
                props.append(
                    Prop("tree", edge + side * rng.uniform(2.5, 9), z, (0.35, rng.uniform(1.5, 3.0)), (0.3, 0.22, 0.15))
                )
                z += rng.uniform(14, 45) * (1.0 if road.setting == "rural" else 2.0)
    return props


_COLORS_BUILDING = [(0.7, 0.65, 0.55), (0.55, 0.5, 0.48), (0.6, 0.35, 0.28), (0.8, 0.78, 0.74), (0.45, 0.47, 0.5)]


def make_skyline(setting: str, n: int, h: int, rng) -> np.ndarray:
    x = np.arange(n)
    if setting == "urban":
        out = np.zeros(n)
        i = 0
        while i < n:
            w = int(rng.integers(max(2, n // 40), max(3, n // 10)))
            out[i : i + w] = rng.uniform(0.02, 0.2) * h
            i += w
        return out
    hills = sum(
        rng.uniform(0.005, 0.03) * h * np.sin(2 * np.pi * x / (n * rng.uniform(0.2, 1.0)) + rng.uniform(0, 6.3))
        for _ in range(3)
    )
    trees = np.abs(np.convolve(rng.standard_normal(n), np.ones(3) / 3, mode="same")) * 0.012 * h
    return np.maximum(hills + 0.03 * h + trees, 0)


def background_traffic(
    ctx: Ctx,
    sit: Situation,
    t: np.ndarray,
    odo: np.ndarray,
    ego_x: np.ndarray,
    actor: Vehicle,
    crosses: list[float],
    difficulty: float,
    rng,
) -> list[Vehicle]:
    """Other traffic: steady vehicles in free lanes, oncoming traffic, cross traffic at junctions.

    Anything that would come within 1 m of the ego, or within 7 m of the main actor, is
    dropped: background traffic must never create a second event.
    """
    road = ctx.road
    same = [j for j in range(-road.n_left, road.n_right + 1) if j != 0 and j not in sit.exclude_lanes]
    onc = [j for j in range(-road.n_left - road.n_oncoming, -road.n_left) if j not in sit.exclude_lanes]
    lam = 0.5 + 1.5 * difficulty
    out: list[Vehicle] = []
    T = len(t)
    for lane in same + onc:
        oncoming = lane in onc
        v = rng.uniform(8, 22) if oncoming else ctx.v0 + rng.uniform(-4, 5)
        zs = np.sort(rng.uniform(-30, 160, size=int(rng.poisson(lam))))
        for z in zs[np.diff(np.concatenate([[-99.0], zs])) > 14]:
            p = z + (-v if oncoming else v) * t - (odo - odo[0])
            x = np.full(T, lane * road.lane_w + rng.uniform(-0.3, 0.3))
            out.append(
                Vehicle(
                    random_vehicle_kind(rng),
                    random_color(rng),
                    x,
                    p,
                    np.full(T, np.pi if oncoming else 0.0),
                    np.zeros(T, bool),
                )
            )
    for zc in crosses:  # cross traffic that clears the junction long before/after the ego
        arrive = np.interp(zc - ctx.hood, odo, t) if odo[-1] > zc - ctx.hood else t[-1] + 5
        for _ in range(int(rng.integers(0, 3))):
            dirn = 1.0 if rng.random() < 0.5 else -1.0
            when = arrive + rng.choice([-1, 1]) * rng.uniform(3.0, 8.0)
            vc = rng.uniform(5, 13)
            x = dirn * vc * (t - when)
            p = zc - dirn * 1.75 - odo
            out.append(
                Vehicle(
                    random_vehicle_kind(rng), random_color(rng), x, p, np.full(T, dirn * np.pi / 2), np.zeros(T, bool)
                )
            )
    keep = []
    for veh in out:
        a = Actor(veh.kind, veh.x, veh.p, veh.heading, np.zeros(T))
        if separation(ctx, ego_x, a).min() < 1.0:
            continue
        if np.hypot(veh.x - actor.x, veh.p - actor.p).min() < 7.0:
            continue
        keep.append(veh)
    return keep


def random_color(rng) -> tuple[float, float, float]:
    c = COLORS[int(rng.integers(len(COLORS)))]
    return tuple(float(np.clip(v * rng.uniform(0.9, 1.1), 0, 1)) for v in c)
