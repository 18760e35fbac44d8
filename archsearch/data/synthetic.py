"""Embedded synthetic dashcam dataset in the Nexar collision-prediction format.

The demo must run with no downloads, yet the architecture search only means something if
the task is not trivially separable. So every clip comes from one generative process per
traffic situation (a lead vehicle braking, a cut-in, crossing traffic at an intersection, an
oncoming car drifting, a merge), simulated in the road frame; whether it ends in contact, a
near miss or a comfortable pass is *decided by the simulation* and clips are drawn by
rejection until the wanted outcome appears. Collisions, near misses and many normal clips
therefore share their early history: all of them loom, brake and swerve; the jolt comes
only at contact, after every anticipation window.

Per-video randomness comes from ``SeedSequence(spec.seed, spawn_key=(index, stream))``, so
video k never depends on another video and workers can render in any order.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from pathlib import Path

import numpy as np

from archsearch.data.synthetic_scene import (
    VEHICLE_SIZES,
    Camera,
    Look,
    Prop,
    RoadLayout,
    Scene,
    Vehicle,
    render_frames,
)

VARIANTS = ("front", "side")
SCENARIOS = ("collision", "near_miss", "normal")
FORMAT = "archsearch-synthetic/1"
DT = 0.02  # s, kinematics grid
NEAR_MISS_M = 2.5  # closest approach that counts as a near miss
SAFE_M = 4.0  # closest approach of a "normal" clip built from a threat situation

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class SyntheticSpecError(ValueError):
    """A SyntheticSpec field is out of range; the message names the field."""


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate. Defaults give the Nexar-like 10 s, 20 fps front-camera set."""

    name: str
    variant: str = "front"
    n_videos: int = 240
    duration_s: float = 10.0
    fps: float = 20.0
    width: int = 256
    height: int = 144
    positive_fraction: float = 0.5
    near_miss_fraction: float = 0.5
    difficulty: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        def bad(name: str, expected: str) -> SyntheticSpecError:
            return SyntheticSpecError(f"SyntheticSpec field {name!r}: expected {expected}, got {getattr(self, name)!r}")

        def number(name: str, lo: float, hi: float, expected: str) -> None:
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, (int, float)) or not (lo <= val <= hi):
                raise bad(name, expected)
            object.__setattr__(self, name, float(val))

        def integer(name: str, lo: int, hi: int, expected: str) -> None:
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or not (lo <= val <= hi):
                raise bad(name, expected)

        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise bad("name", "a non-empty name of letters, digits, '_', '-' or '.' (it names a folder)")
        if self.variant not in VARIANTS:
            raise bad("variant", f"one of {VARIANTS}")
        integer("n_videos", 1, 100_000, "an integer in [1, 100000]")
        number("duration_s", 2.0, 120.0, "a clip length in seconds within [2, 120]")
        number("fps", 1.0, 60.0, "a whole number of frames per second in [1, 60]")
        if not float(self.fps).is_integer():
            raise bad("fps", "a whole number of frames per second in [1, 60]")
        if abs(self.duration_s * self.fps - round(self.duration_s * self.fps)) > 1e-6:
            raise bad("duration_s", f"a whole number of frames at {self.fps:g} fps (duration_s * fps integral)")
        integer("width", 32, 1920, "an even integer in [32, 1920] (H.264 yuv420p needs even sizes)")
        integer("height", 24, 1080, "an even integer in [24, 1080] (H.264 yuv420p needs even sizes)")
        if self.width % 2:
            raise bad("width", "an even integer in [32, 1920] (H.264 yuv420p needs even sizes)")
        if self.height % 2:
            raise bad("height", "an even integer in [24, 1080] (H.264 yuv420p needs even sizes)")
        number("positive_fraction", 0.0, 1.0, "a fraction in [0, 1]")
        number("near_miss_fraction", 0.0, 1.0, "a fraction of the negatives in [0, 1]")
        number("difficulty", 0.0, 1.0, "a level in [0, 1]")
        integer("seed", 0, 2**63 - 1, "a non-negative integer")

    @property
    def n_frames(self) -> int:
        return int(round(self.duration_s * self.fps))

    @property
    def event_window(self) -> tuple[float, float]:
        """Where events (and negatives' reference moments) fall: ~[6.5, 9.5] s of a 10 s clip."""
        d = self.duration_s
        return 0.65 * d, min(0.95 * d, d - 0.3)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


DEFAULT_SPECS: dict[str, SyntheticSpec] = {
    "synth_front": SyntheticSpec(name="synth_front", variant="front", n_videos=240, seed=0),
    "synth_side": SyntheticSpec(name="synth_side", variant="side", n_videos=160, seed=1),
}


@dataclass(frozen=True)
class VideoPlan:
    """One clip's label and timing (what train.csv and synthetic.json say about it)."""

    id: str
    index: int
    scenario: str  # collision | near_miss | normal
    family: str  # the traffic situation it was drawn from
    lighting: str
    setting: str
    event_time: float | None  # contact (collisions only)
    alert_time: float | None  # collisions only
    closest_approach_time: float | None  # near misses (pseudo-event; not in train.csv)
    anchor_time: float  # event, closest approach, or the normal clip's salient moment
    min_distance_m: float  # closest approach between the ego and the main actor (<= 0: contact)

    @property
    def target(self) -> int:
        return int(self.scenario == "collision")


# ---------------------------------------------------------------------------------------------
# Variant geometry and class mixes

_CAMERAS = {  # fov, height, pitch, hood; ego width and length (for contact geometry)
    "front": dict(fov_deg=80.0, height_m=1.3, pitch_deg=3.0, hood_m=2.0, ego_w=1.8, ego_len=4.6),
    "side": dict(fov_deg=105.0, height_m=2.4, pitch_deg=7.0, hood_m=1.2, ego_w=2.5, ego_len=7.0),
}
_LIGHTING = {"front": ((0.6, 0.2, 0.2)), "side": ((0.3, 0.3, 0.4))}  # day, dusk, night
_FAMILIES = {  # outcome -> {family: weight}
    "front": {
        "collision": {"lead_brake": 0.3, "stopped_ahead": 0.15, "cut_in": 0.2, "crossing": 0.25, "oncoming": 0.1},
        "near_miss": {"lead_brake": 0.2, "stopped_ahead": 0.2, "cut_in": 0.2, "crossing": 0.25, "oncoming": 0.15},
        "normal": {
            "lead_brake": 0.1, "stopped_ahead": 0.1, "cut_in": 0.1, "crossing": 0.15, "oncoming": 0.15,
            "following": 0.15, "overtaken": 0.1, "lane_change": 0.15,
        },
    },
    "side": {
        "collision": {"crossing": 0.5, "merge": 0.3, "lead_brake": 0.2},
        "near_miss": {"crossing": 0.45, "merge": 0.35, "lead_brake": 0.2},
        "normal": {"crossing": 0.3, "merge": 0.2, "lead_brake": 0.1, "following": 0.15, "overtaken": 0.1, "lane_change": 0.15},
    },
}
_SPEEDS = {  # ego cruising speed range (m/s) by setting
    "front": {"highway": (15.0, 28.0), "urban": (6.0, 14.0), "rural": (10.0, 22.0)},
    "side": {"highway": (14.0, 24.0), "urban": (5.0, 12.0), "rural": (9.0, 20.0)},
}
_COLORS = [
    (0.85, 0.85, 0.85), (0.1, 0.1, 0.12), (0.55, 0.56, 0.6), (0.6, 0.1, 0.1), (0.15, 0.25, 0.55),
    (0.3, 0.32, 0.35), (0.9, 0.9, 0.88), (0.2, 0.35, 0.25), (0.75, 0.6, 0.3), (0.4, 0.4, 0.42),
]


def _video_rng(spec: SyntheticSpec, index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(index, stream)))


def scenario_counts(spec: SyntheticSpec) -> dict[str, int]:
    n_pos = int(round(spec.positive_fraction * spec.n_videos))
    n_near = int(round(spec.near_miss_fraction * (spec.n_videos - n_pos)))
    return {"collision": n_pos, "near_miss": n_near, "normal": spec.n_videos - n_pos - n_near}


def assign_scenarios(spec: SyntheticSpec) -> list[str]:
    """Exact class counts, shuffled by the spec seed."""
    counts = scenario_counts(spec)
    labels = [s for s in SCENARIOS for _ in range(counts[s])]
    order = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(2**32 - 1,))).permutation(len(labels))
    return [labels[i] for i in order]


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


def _integrate(r: np.ndarray, v: np.ndarray, i0: int) -> np.ndarray:
    """Position with value 0 at index i0 (trapezoid rule)."""
    x = np.concatenate([[0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * np.diff(r))])
    return x - x[i0]


@dataclass
class _Actor:
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
class _Situation:
    family: str
    ego_v: np.ndarray
    ego_x: np.ndarray
    actor: _Actor
    salient_r: float | None = None  # normal-only families say where their moment is
    cross_p0: float | None = None  # cross-street centre relative to the camera at r = 0
    exclude_lanes: set[int] = field(default_factory=set)  # lanes kept free of background traffic


@dataclass
class _Ctx:
    variant: str
    road: RoadLayout
    v0: float
    hood: float
    ego_w: float
    ego_len: float
    r: np.ndarray
    i0: int


def _kind(rng) -> str:
    return str(rng.choice(["car", "suv", "van", "truck"], p=[0.6, 0.25, 0.1, 0.05]))


def _brake_flag(v: np.ndarray, r: np.ndarray) -> np.ndarray:
    return (np.gradient(v, r) < -0.4).astype(float)


def _lead_actor(ctx: _Ctx, kind, x, v_lead, v_ego, gap0) -> _Actor:
    """A same-direction vehicle whose rear is ``gap0`` ahead of the ego's bumper at r = 0."""
    L = VEHICLE_SIZES[kind][0]
    p = ctx.hood + L / 2 + gap0 + _integrate(ctx.r, v_lead - v_ego, ctx.i0)
    return _Actor(kind, x, p, np.zeros_like(ctx.r), _brake_flag(v_lead, ctx.r))


def _fam_lead_brake(ctx: _Ctx, rng) -> _Situation:
    r, v0 = ctx.r, ctx.v0
    vl0 = v0 - rng.uniform(-0.5, 2.0)
    a_l = rng.uniform(2.0, 8.5)
    v_lt = vl0 * rng.uniform(0.0, 0.6)
    resume = (vl0 - v_lt) / a_l + rng.uniform(0.5, 2.5)
    v_lead = _speed(r, vl0, [(0.0, a_l, v_lt), (resume, rng.uniform(1, 2.5), vl0 * rng.uniform(0.6, 1.0))])
    react = rng.uniform(0.3, 2.4)
    v_e = _speed(r, v0, [(react, rng.uniform(1.5, 8.5), max(0.0, v_lt * rng.uniform(0.3, 1.0))),
                         (resume + rng.uniform(0.5, 1.5), rng.uniform(1, 2), vl0 * rng.uniform(0.7, 1.0))])
    kind = _kind(rng)
    actor = _lead_actor(ctx, kind, np.full_like(r, rng.uniform(-0.4, 0.4)), v_lead, v_e, rng.uniform(4, 20) + 0.4 * v0)
    return _Situation("lead_brake", v_e, _wander(ctx, rng), actor)


def _fam_stopped_ahead(ctx: _Ctx, rng) -> _Situation:
    r, v0, road = ctx.r, ctx.v0, ctx.road
    v_l = v0 * rng.uniform(0.0, 0.5) * (rng.random() < 0.6)
    ttc = rng.uniform(0.6, 3.8)
    gap0 = ttc * (v0 - v_l)
    ego_x = _wander(ctx, rng)
    sides = _free_sides(road)
    exclude: set[int] = set()
    if sides and rng.random() < 0.5:  # swerve around it
        side = int(rng.choice(sides))
        ego_x = ego_x + side * road.lane_w * _ramp(r, rng.uniform(-0.3, 0.5), rng.uniform(1.0, 2.2))
        v_e = _speed(r, v0, [(rng.uniform(0.0, 1.0), rng.uniform(0.0, 3.0), v0 * 0.6)])
        exclude.add(side)
    else:
        v_e = _speed(r, v0, [(0.0, rng.uniform(2.0, 8.5), v_l * rng.uniform(0, 1))])
    actor = _lead_actor(ctx, _kind(rng), np.full_like(r, rng.uniform(-0.5, 0.5)), np.full_like(r, v_l), v_e, gap0)
    actor.brake[:] = float(rng.random() < 0.7)
    return _Situation("stopped_ahead", v_e, ego_x, actor, exclude_lanes=exclude)


def _fam_cut_in(ctx: _Ctx, rng) -> _Situation:
    r, v0, road = ctx.r, ctx.v0, ctx.road
    side = int(rng.choice(_free_sides(road, oncoming=False)))
    v_t0 = v0 - rng.uniform(0.5, 5.0)
    phases = []
    if rng.random() < 0.65:
        phases.append((rng.uniform(0.3, 2.0), rng.uniform(2.0, 7.5), v_t0 * rng.uniform(0.2, 0.8)))
    v_t = _speed(r, v_t0, phases)
    dur = rng.uniform(1.0, 2.5)
    x = side * road.lane_w + (rng.uniform(-0.4, 0.4) - side * road.lane_w) * _ramp(r, 0.0, dur)
    v_e = _speed(r, v0, [(rng.uniform(0.4, 2.5), rng.uniform(1.5, 8.5), float(v_t.min()) * rng.uniform(0.5, 1.0))])
    actor = _lead_actor(ctx, _kind(rng), x, v_t, v_e, rng.uniform(1.5, 15.0))
    actor.heading = np.arctan2(np.gradient(x, r), np.maximum(v_t, 1.0))
    return _Situation("cut_in", v_e, _wander(ctx, rng), actor, exclude_lanes={side})


def _fam_merge(ctx: _Ctx, rng) -> _Situation:
    """An alongside vehicle drifts into the ego's side (truck blind-spot sideswipes)."""
    r, v0, road = ctx.r, ctx.v0, ctx.road
    side = int(rng.choice(_free_sides(road, oncoming=False)))
    kind = _kind(rng)
    L, W = VEHICLE_SIZES[kind][:2]
    v_t = np.full_like(r, v0 + rng.uniform(-1.0, 1.0))
    depth = rng.uniform(1.0, 3.6)  # how far it drifts in (m)
    lat_v = rng.uniform(0.4, 1.6)
    x = side * road.lane_w - side * depth * _ramp(r, 0.0, depth / lat_v * 1.5)
    if rng.random() < 0.5:  # driver notices and corrects
        back = rng.uniform(0.6, 2.5)
        x = x + side * depth * _ramp(r, back, rng.uniform(0.8, 1.6))
    p_rear = ctx.hood + rng.uniform(-3.0, 3.5)
    p = p_rear + L / 2 + _integrate(r, v_t - v0, ctx.i0)
    heading = np.arctan2(np.gradient(x, r), np.maximum(v_t, 1.0))
    actor = _Actor(kind, x, p, heading, np.zeros_like(r))
    v_e = v0 + np.zeros_like(r)
    if rng.random() < 0.5:
        v_e = _speed(r, v0, [(rng.uniform(0.3, 2.0), rng.uniform(1.5, 6.0), v0 * 0.5)])
    return _Situation("merge", v_e, _wander(ctx, rng), actor, exclude_lanes={side})


def _fam_crossing(ctx: _Ctx, rng) -> _Situation:
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
    x_at = _integrate(r, v_c, int(np.argmin(np.abs(r - delta))))
    x = dirn * x_at
    v_e = v0 + np.zeros_like(r)
    if rng.random() < 0.6:
        stop = rng.uniform(-2.5, -0.2)
        v_e = _speed(r, v0, [(stop, rng.uniform(2.0, 8.5), 0.0), (stop + rng.uniform(2.5, 4.0), 2.0, v0 * 0.6)])
    p_lane = ctx.hood + _integrate(r, -v_e, ctx.i0)  # the actor's lane, fixed in the world
    actor = _Actor(_kind(rng), x, p_lane, np.full_like(r, dirn * np.pi / 2), _brake_flag(v_c, r))
    return _Situation("crossing", v_e, _wander(ctx, rng), actor, cross_p0=ctx.hood + dirn * 1.75)


def _fam_oncoming(ctx: _Ctx, rng) -> _Situation:
    r, v0, road = ctx.r, ctx.v0, ctx.road
    lane = -road.n_left - 1
    v_o = rng.uniform(8.0, 22.0)
    kind = _kind(rng)
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
    p = ctx.hood + L / 2 + _integrate(r, -v_o - v_e, ctx.i0)
    heading = np.pi + np.arctan2(-np.gradient(x, r), v_o)
    actor = _Actor(kind, x, p, heading, np.zeros_like(r))
    return _Situation("oncoming", v_e, ego_x, actor, exclude_lanes={lane})


def _fam_following(ctx: _Ctx, rng) -> _Situation:
    r, v0 = ctx.r, ctx.v0
    amp, period = rng.uniform(0.3, 1.5), rng.uniform(4.0, 10.0)
    v_l = v0 + amp * np.sin(2 * np.pi * r / period + rng.uniform(0, 6.3))
    dip = rng.uniform(1.0, 3.0)
    v_l = v_l - _speed(r, 0.0, [(0.0, dip, rng.uniform(1.5, 5.0)), (rng.uniform(1.5, 3.0), dip, 0.0)])
    lag = int(rng.uniform(0.6, 1.4) / DT)
    v_e = np.concatenate([np.full(lag, v_l[0]), v_l[:-lag]])
    actor = _lead_actor(ctx, _kind(rng), np.full_like(r, rng.uniform(-0.3, 0.3)), v_l, v_e, rng.uniform(8, 35))
    return _Situation("following", v_e, _wander(ctx, rng), actor, salient_r=float(rng.uniform(0.8, 2.0)))


def _fam_overtaken(ctx: _Ctx, rng) -> _Situation:
    r, v0, road = ctx.r, ctx.v0, ctx.road
    side = int(rng.choice(_free_sides(road, oncoming=False)))
    v_t = np.full_like(r, v0 + rng.uniform(2.0, 10.0))
    kind = _kind(rng)
    x = np.full_like(r, side * road.lane_w + rng.uniform(-0.3, 0.3))
    p = _integrate(r, v_t - v0, ctx.i0)
    actor = _Actor(kind, x, p, np.zeros_like(r), np.zeros_like(r))
    return _Situation("overtaken", v0 + np.zeros_like(r), _wander(ctx, rng), actor, salient_r=0.0, exclude_lanes={side})


def _fam_lane_change(ctx: _Ctx, rng) -> _Situation:
    r, v0, road = ctx.r, ctx.v0, ctx.road
    side = int(rng.choice(_free_sides(road, oncoming=False)))
    dur = rng.uniform(2.0, 4.0)
    v_t = np.full_like(r, v0 + rng.uniform(-2.0, 1.0))
    lat = _ramp(r, -dur / 2, dur)
    x = side * road.lane_w * (lat if rng.random() < 0.5 else 1 - lat)  # leaves, or moves in
    v_e = v0 + np.zeros_like(r)
    actor = _lead_actor(ctx, _kind(rng), x, v_t, v_e, rng.uniform(12.0, 35.0))
    actor.heading = np.arctan2(np.gradient(x, r), np.maximum(v_t, 1.0))
    return _Situation("lane_change", v_e, _wander(ctx, rng), actor, salient_r=0.0, exclude_lanes={side})


_THREAT_FAMILIES = ("lead_brake", "stopped_ahead", "cut_in", "merge", "crossing", "oncoming")
_BUILDERS = {
    "lead_brake": _fam_lead_brake, "stopped_ahead": _fam_stopped_ahead, "cut_in": _fam_cut_in,
    "merge": _fam_merge, "crossing": _fam_crossing, "oncoming": _fam_oncoming,
    "following": _fam_following, "overtaken": _fam_overtaken, "lane_change": _fam_lane_change,
}


def _wander(ctx: _Ctx, rng) -> np.ndarray:
    return 0.15 * np.sin(2 * np.pi * ctx.r / rng.uniform(5, 12) + rng.uniform(0, 6.3))


def _free_sides(road: RoadLayout, oncoming: bool = True) -> list[int]:
    sides = ([-1] if road.n_left > 0 or (oncoming and road.n_oncoming > 0) else []) + ([1] if road.n_right > 0 else [])
    return sides


def separation(ctx: _Ctx, ego_x: np.ndarray, a: _Actor) -> np.ndarray:
    """Gap (m) between the ego's and the actor's footprints; <= 0 means contact.

    Footprints are treated as road-aligned rectangles (a crossing actor's is turned 90
    degrees): exact for the situations here, where headings stay within ~10 degrees of an axis.
    """
    L, W = a.dims
    crossing = np.abs(np.sin(a.heading)) > 0.7
    az, ax = np.where(crossing, W / 2, L / 2), np.where(crossing, L / 2, W / 2)
    sz = np.maximum((a.p - az) - ctx.hood, (ctx.hood - ctx.ego_len) - (a.p + az))
    sx = np.maximum((a.x - ax) - (ego_x + ctx.ego_w / 2), (ego_x - ctx.ego_w / 2) - (a.x + ax))
    m = np.maximum(sz, sx)
    return np.where(m > 0, np.hypot(np.maximum(sz, 0), np.maximum(sx, 0)), m)


def _road_for(family: str, variant: str, rng) -> RoadLayout:
    need_adjacent = family in ("cut_in", "merge", "overtaken", "lane_change")
    for _ in range(100):
        if family == "crossing":
            setting = "urban"
        elif family == "oncoming":
            setting = str(rng.choice(["urban", "rural"]))
        else:
            setting = str(rng.choice(["highway", "urban", "rural"], p=[0.4, 0.35, 0.25]))
        if setting == "highway":
            n_same, n_on, shoulder = int(rng.integers(2, 4)), 0, 2.5
        elif setting == "urban":
            n_same, n_on, shoulder = int(rng.integers(1, 3)), int(rng.integers(1, 3)), 2.4
        else:
            n_same, n_on, shoulder = 1, 1, 0.6
        n_left = int(rng.integers(0, n_same))
        if family == "oncoming":
            n_left = 0
        road = RoadLayout(setting, n_left, n_same - 1 - n_left, n_on, float(rng.uniform(-1, 1) * 0.0025), shoulder)
        if need_adjacent and not _free_sides(road, oncoming=False):
            continue
        return road
    raise RuntimeError(f"no road layout fits family {family!r}")  # pragma: no cover


# Outcome thresholds per family: (near-miss closest approach max, "safe" closest approach min), m.
# Side-by-side situations (merge, oncoming) pass closer than longitudinal ones in normal driving.
_THRESHOLDS = {"merge": (0.9, 1.2), "oncoming": (1.0, 1.3)}
_DEFAULT_THRESHOLDS = (NEAR_MISS_M, SAFE_M)


def _outcome(ctx: _Ctx, sit: _Situation, win: np.ndarray) -> tuple[str, float, float]:
    """Classify a simulated situation: ("collision" | "near_miss" | "normal" | "reject", r, d_min).

    A near miss must come close *and* be critical (time-to-contact <= 1.5 s on the way in),
    so an early, calm lane change past a stopped car is normal driving, not a near miss.
    """
    r = ctx.r
    d = separation(ctx, sit.ego_x, sit.actor)
    hit = np.flatnonzero(d <= 0)
    if hit.size:
        i = hit[0]
        if i == 0 or not win[i] or (d[i - int(0.3 / DT)] - d[i]) / 0.3 < 1.0:
            return "reject", 0.0, 0.0  # outside the window, or a graze at walking pace
        return "collision", float(r[i - 1] + d[i - 1] / (d[i - 1] - d[i]) * DT), 0.0
    if sit.salient_r is not None:
        j = int(np.argmin(np.abs(r - sit.salient_r)))
        return "normal", float(r[j]), float(d[j])
    idx = np.flatnonzero(win)
    j = int(idx[np.argmin(d[idx])])
    if j in (idx[0], idx[-1]):
        return "reject", 0.0, 0.0  # no real closest approach inside the window
    dmin = float(d[j])
    closing = -np.gradient(d[idx[0] : j + 1], r[idx[0] : j + 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        ttc = float(np.min(np.where(closing > 0.1, d[idx[0] : j + 1] / closing, np.inf)))
    near_max, safe_min = _THRESHOLDS.get(sit.family, _DEFAULT_THRESHOLDS)
    if 0.15 <= dmin <= near_max and ttc <= 1.5:
        return "near_miss", float(r[j]), dmin
    if dmin > near_max and (dmin >= safe_min or ttc >= 2.5):
        return "normal", float(r[j]), dmin
    return "reject", 0.0, 0.0


def _simulate(spec: SyntheticSpec, index: int, scenario: str, stats: dict | None = None):
    """Draw situations until the wanted outcome appears; returns (ctx, situation, r_event, d_min)."""
    rng = _video_rng(spec, index, 0)
    weights = dict(_FAMILIES[spec.variant][scenario])
    if scenario == "normal":  # harder sets draw more normal clips from threat situations
        weights = {f: w * (2 * spec.difficulty if f in _THREAT_FAMILIES else 1.0) for f, w in weights.items()}
    family = _choose(rng, weights)
    cam = _CAMERAS[spec.variant]
    span = spec.duration_s + 4.0
    r = np.round(np.arange(-span, span + DT / 2, DT), 6)
    i0 = int(np.argmin(np.abs(r)))
    win = (r >= -3.0) & (r <= 5.0)
    for n in range(3000):
        road = _road_for(family, spec.variant, rng)
        lo, hi = _SPEEDS[spec.variant][road.setting]
        ctx = _Ctx(spec.variant, road, float(rng.uniform(lo, hi)), cam["hood_m"], cam["ego_w"], cam["ego_len"], r, i0)
        sit = _BUILDERS[family](ctx, rng)
        got, r_event, dmin = _outcome(ctx, sit, win)
        if got == scenario:
            if stats is not None:
                stats[(scenario, family)] = stats.get((scenario, family), []) + [n + 1]
            return ctx, sit, r_event, dmin
    raise RuntimeError(f"synthetic video {index}: no {scenario} outcome for family {family!r} in 3000 draws")


# ---------------------------------------------------------------------------------------------
# From a simulated situation to a renderable scene


@dataclass
class Clip:
    """One video before encoding: its labels/timing and everything the renderer needs."""

    plan: VideoPlan
    scene: Scene


def _aftermath(ctx: _Ctx, sit: _Situation, r_event: float, rng) -> None:
    """After contact: the ego stops within ~1 s and the other vehicle stays locked to it."""
    r = ctx.r
    after = r > r_event
    v_c = float(np.interp(r_event, r, sit.ego_v))
    sit.ego_v = np.where(after, v_c * np.exp(-(r - r_event) / 0.4), sit.ego_v)
    a = sit.actor
    p_c, x_c, h_c = (float(np.interp(r_event, r, arr)) for arr in (a.p, a.x, a.heading))
    ease = 1 - np.exp(-np.maximum(r - r_event, 0) / 0.3)
    spin = rng.uniform(0.1, 0.5) * (1 if rng.random() < 0.5 else -1) if abs(math.sin(h_c)) > 0.7 else 0.0
    a.p = np.where(after, p_c + rng.uniform(0.2, 1.0) * ease, a.p)
    a.x = np.where(after, x_c + 0.3 * math.sin(h_c) * ease, a.x)
    a.heading = np.where(after, h_c + spin * ease, a.heading)
    a.brake = np.where(after, 1.0, a.brake)


def _alert_r(ctx: _Ctx, sit: _Situation, r_event: float, tau: float, fov_deg: float) -> float:
    """When a driver would first notice: time-to-contact stays below ``tau`` from then on,
    and the other vehicle is in view."""
    r = ctx.r
    d = separation(ctx, sit.ego_x, sit.actor)
    closing = -np.gradient(d, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        ttc = np.where(closing > 0.2, d / closing, np.inf)
    before = r < r_event
    ok = (ttc <= tau) | ~before
    bad = np.flatnonzero(before & ~ok)
    r_ttc = r[bad[-1] + 1] if bad.size else r[0]
    a = sit.actor
    X = a.x - sit.ego_x + 0.5 * ctx.road.curvature * a.p**2
    half = max(a.dims) / 2  # any part of it in view
    seen = (a.p + half > 0.5) & (np.abs(X) - half < np.tan(np.radians(fov_deg) / 2) * np.maximum(a.p + half, 0.5))
    unseen = np.flatnonzero(before & ~seen)
    r_seen = r[unseen[-1] + 1] if unseen.size else r[0]
    return float(min(max(r_ttc, r_seen), r_event - 0.1))


def _choose(rng, options: dict[str, float]) -> str:
    names = list(options)
    w = np.array([options[n] for n in names], float)
    return str(rng.choice(names, p=w / w.sum()))


def _look(variant: str, setting: str, rng) -> Look:
    lighting = _choose(rng, dict(zip(("day", "dusk", "night"), _LIGHTING[variant])))

    def jit(c, s=0.06):  # a common brightness change, only a slight tint per channel
        k = 1 + rng.uniform(-s, s)
        return tuple(float(np.clip(v * k * rng.uniform(0.97, 1.03), 0, 1)) for v in c)

    asphalt = jit((0.33, 0.33, 0.35), 0.15)
    offroad = {"urban": (0.55, 0.54, 0.52), "highway": (0.33, 0.44, 0.24), "rural": (0.36, 0.46, 0.22)}[setting]
    town = setting == "urban"
    if lighting == "day":
        return Look("day", jit((0.36, 0.56, 0.86)), jit((0.78, 0.84, 0.9)), jit((0.55, 0.6, 0.64) if town else (0.42, 0.5, 0.44)),
                    asphalt, jit(offroad), float(rng.uniform(0.85, 1.1)), float(rng.uniform(250, 500)), 0.0, 0.0, 0.0)
    if lighting == "dusk":
        return Look("dusk", jit((0.22, 0.22, 0.42)), jit((0.92, 0.6, 0.4), 0.1), jit((0.2, 0.17, 0.2)), asphalt, jit(offroad),
                    float(rng.uniform(0.4, 0.6)), float(rng.uniform(150, 300)), 0.25, 0.05 if town else 0.0, 0.6)
    glow_h = (0.13, 0.1, 0.09) if town else (0.05, 0.05, 0.07)
    return Look("night", (0.01, 0.012, 0.03), jit(glow_h, 0.2), (0.02, 0.02, 0.03), asphalt, jit(offroad),
                float(rng.uniform(0.07, 0.13)), float(rng.uniform(100, 200)), float(rng.uniform(0.7, 1.0)),
                0.35 if setting != "rural" else 0.0, 1.0)


def _props(road: RoadLayout, z0: float, z1: float, crosses: list[float], rng) -> list[Prop]:
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
                props.append(Prop("tree", edge + side * rng.uniform(2.5, 9), z, (0.35, rng.uniform(1.5, 3.0)), (0.3, 0.22, 0.15)))
                z += rng.uniform(14, 45) * (1.0 if road.setting == "rural" else 2.0)
    return props


_COLORS_BUILDING = [(0.7, 0.65, 0.55), (0.55, 0.5, 0.48), (0.6, 0.35, 0.28), (0.8, 0.78, 0.74), (0.45, 0.47, 0.5)]


def _skyline(setting: str, n: int, h: int, rng) -> np.ndarray:
    x = np.arange(n)
    if setting == "urban":
        out = np.zeros(n)
        i = 0
        while i < n:
            w = int(rng.integers(max(2, n // 40), max(3, n // 10)))
            out[i : i + w] = rng.uniform(0.02, 0.2) * h
            i += w
        return out
    hills = sum(rng.uniform(0.005, 0.03) * h * np.sin(2 * np.pi * x / (n * rng.uniform(0.2, 1.0)) + rng.uniform(0, 6.3)) for _ in range(3))
    trees = np.abs(np.convolve(rng.standard_normal(n), np.ones(3) / 3, mode="same")) * 0.012 * h
    return np.maximum(hills + 0.03 * h + trees, 0)


def _smooth_noise(rng, n: int, width: int) -> np.ndarray:
    k = np.ones(max(width, 1)) / max(width, 1)
    z = np.convolve(rng.standard_normal(n + 2 * width), k, mode="same")[width : width + n]
    return z / (z.std() + 1e-9)


def _background(ctx: _Ctx, sit: _Situation, t: np.ndarray, odo: np.ndarray, ego_x: np.ndarray, actor: Vehicle,
                crosses: list[float], difficulty: float, rng) -> list[Vehicle]:
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
            out.append(Vehicle(_kind(rng), _color(rng), x, p, np.full(T, np.pi if oncoming else 0.0), np.zeros(T, bool)))
    for zc in crosses:  # cross traffic that clears the junction long before/after the ego
        arrive = np.interp(zc - ctx.hood, odo, t) if odo[-1] > zc - ctx.hood else t[-1] + 5
        for _ in range(int(rng.integers(0, 3))):
            dirn = 1.0 if rng.random() < 0.5 else -1.0
            when = arrive + rng.choice([-1, 1]) * rng.uniform(3.0, 8.0)
            vc = rng.uniform(5, 13)
            x = dirn * vc * (t - when)
            p = zc - dirn * 1.75 - odo
            out.append(Vehicle(_kind(rng), _color(rng), x, p, np.full(T, dirn * np.pi / 2), np.zeros(T, bool)))
    keep = []
    for veh in out:
        a = _Actor(veh.kind, veh.x, veh.p, veh.heading, np.zeros(T))
        if separation(ctx, ego_x, a).min() < 1.0:
            continue
        if np.hypot(veh.x - actor.x, veh.p - actor.p).min() < 7.0:
            continue
        keep.append(veh)
    return keep


def _color(rng) -> tuple[float, float, float]:
    c = _COLORS[int(rng.integers(len(_COLORS)))]
    return tuple(float(np.clip(v * rng.uniform(0.9, 1.1), 0, 1)) for v in c)


JOLT_MIN_DEG = 2.5  # smallest contact jolt (pitch amplitude); bumps stay below BUMP_MAX_DEG
BUMP_MAX_DEG = 1.5


def camera_motion(t: np.ndarray, ego_v: np.ndarray, difficulty: float, contact: float | None, side: float, rng) -> dict:
    """Camera pitch/yaw (degrees) and smear per frame, as separate components.

    Road shake and braking dive follow the ego's speed; bumps (potholes, more with difficulty)
    can come in any clip; the contact jolt exists only in collisions and only from the
    contact time on, so no anticipation window (which ends >= 0.5 s before it) can see it.
    """
    T = len(t)
    shake = (0.05 + 0.15 * difficulty) * (0.4 + ego_v / 25)
    out = {
        "shake_pitch": shake * _smooth_noise(rng, T, 2),
        "shake_yaw": 0.3 * shake * _smooth_noise(rng, T, 3),
        "dive": 0.16 * np.clip(-np.gradient(ego_v, t), -3, 9),  # nose dips under braking
        "bumps": np.zeros(T),
        "jolt_pitch": np.zeros(T),
        "jolt_yaw": np.zeros(T),
    }
    duration = float(t[-1] + (t[1] - t[0]))
    for tb in rng.uniform(0.3, duration - 0.3, size=int(rng.poisson(0.8 * difficulty))):
        dtb = np.maximum(t - tb, 0)
        out["bumps"] += (t >= tb) * rng.uniform(0.4, BUMP_MAX_DEG) * np.cos(2 * np.pi * 6 * dtb) * np.exp(-dtb / 0.15)
    blur = np.full(T, difficulty * rng.uniform(0, 0.35))
    if contact is not None:
        dte = np.maximum(t - contact, 0)
        env = (t >= contact) * np.exp(-dte / 0.3)
        out["jolt_pitch"] = rng.uniform(JOLT_MIN_DEG, 5.0) * np.cos(2 * np.pi * rng.uniform(4, 7) * dte) * env
        out["jolt_yaw"] = side * rng.uniform(1.0, 3.0) * np.sin(2 * np.pi * rng.uniform(3, 6) * dte) * env
        blur = np.clip(blur + 0.45 * env, 0, 0.8)
    out["blur"] = blur
    return out


def build_clip(spec: SyntheticSpec, index: int, scenario: str | None = None) -> Clip:
    """Simulate and dress video ``index``: its plan (labels, times) and its renderable scene."""
    scenario = scenario or assign_scenarios(spec)[index]
    ctx, sit, r_event, dmin = _simulate(spec, index, scenario)
    rng = _video_rng(spec, index, 1)  # dressing draws: independent of how many rejections happened
    lo, hi = spec.event_window
    t_anchor = round(float(rng.uniform(lo, hi)), 3)
    cam_cfg = _CAMERAS[spec.variant]
    collision = scenario == "collision"
    if collision:
        _aftermath(ctx, sit, r_event, rng)
    alert = None
    if collision:
        a_r = _alert_r(ctx, sit, r_event, float(rng.uniform(1.5, 2.5)), cam_cfg["fov_deg"])
        alert = round(max(0.0, t_anchor - (r_event - a_r)), 3)
        alert = min(alert, round(t_anchor - 0.1, 3))
    # Resample the fine grid at the frame times.
    T = spec.n_frames
    t = np.arange(T) / spec.fps  # (T,)
    rk = t - t_anchor + r_event
    odo_fine = _integrate(ctx.r, sit.ego_v, ctx.i0)
    odo = np.interp(rk, ctx.r, odo_fine)
    ego_x = np.interp(rk, ctx.r, sit.ego_x)
    ego_v = np.interp(rk, ctx.r, sit.ego_v)
    a = sit.actor
    road = ctx.road
    look = _look(spec.variant, road.setting, rng)
    actor = Vehicle(a.kind, _color(rng), np.interp(rk, ctx.r, a.x), np.interp(rk, ctx.r, a.p),
                    np.interp(rk, ctx.r, a.heading), np.interp(rk, ctx.r, a.brake) > 0.5)
    # Junctions: the situation's own, and in town maybe another one somewhere on the route.
    crosses = []
    if sit.cross_p0 is not None:
        crosses.append(float(sit.cross_p0 + np.interp(0.0, ctx.r, odo_fine)))
    if road.setting == "urban" and rng.random() < 0.6:
        z = float(rng.uniform(odo[0] + 25, odo[-1] + 120))
        if all(abs(z - c) > 40 for c in crosses):
            crosses.append(z)
    vehicles = [actor] + _background(ctx, sit, t, odo, ego_x, actor, crosses, spec.difficulty, rng)
    props = _props(road, float(odo[0]) - 30, float(odo[-1]) + 230, crosses, rng)
    d = spec.difficulty
    cam = Camera(spec.width, spec.height, cam_cfg["fov_deg"], cam_cfg["height_m"], cam_cfg["pitch_deg"], cam_cfg["hood_m"])
    side = np.sign(float(np.interp(r_event, ctx.r, a.x - sit.ego_x)) or 1.0)
    motion = camera_motion(t, ego_v, d, t_anchor if collision else None, side, rng)
    pitch = motion["shake_pitch"] + motion["dive"] + motion["bumps"] + motion["jolt_pitch"]
    yaw = motion["shake_yaw"] + motion["jolt_yaw"]
    blur = motion["blur"]
    lat_v = np.gradient(ego_x, t)
    yaw_px = cam.f * (np.tan(np.radians(yaw)) + lat_v / np.maximum(ego_v, 2.0))
    gain = math.exp(rng.normal(0, 0.05 + 0.15 * d)) * (1 + 0.02 * d * _smooth_noise(rng, T, 5))
    margin = int(0.3 * spec.width)
    skyline = _skyline(road.setting, spec.width + 2 * margin, spec.height, rng)
    smudges = []
    if rng.random() < 0.7 * d:
        for _ in range(int(rng.integers(1, 7))):
            smudges.append((float(rng.uniform(0, spec.width)), float(rng.uniform(0, spec.height * 0.8)),
                            float(rng.uniform(0.015, 0.06) * spec.width), float(rng.uniform(0.15, 0.45))))
    pillar = float(rng.uniform(0.05, 0.12)) if rng.random() < 0.25 * d else 0.0
    noise = (0.002 + 0.008 * d) * (1.6 if look.lighting == "night" else 1.0)  # H.264 keeps little more
    render_seed = int(np.random.SeedSequence(spec.seed, spawn_key=(index, 2)).generate_state(1)[0])
    scene = Scene(cam, road, look, T, odo, ego_x, yaw_px, pitch, blur, gain, vehicles, props, crosses,
                  skyline, noise, render_seed, smudges, pillar)
    plan = VideoPlan(
        id=f"{index:05d}", index=index, scenario=scenario, family=sit.family, lighting=look.lighting,
        setting=road.setting, event_time=t_anchor if collision else None, alert_time=alert,
        closest_approach_time=t_anchor if scenario == "near_miss" else None, anchor_time=t_anchor,
        min_distance_m=round(dmin, 3),
    )
    return Clip(plan, scene)


def plan_dataset(spec: SyntheticSpec) -> list[VideoPlan]:
    """Labels and times of every video, without rendering (cheap: kinematics only)."""
    return [build_clip(spec, i, s).plan for i, s in enumerate(assign_scenarios(spec))]


def render_video(spec: SyntheticSpec, index: int) -> np.ndarray:
    """All frames of video ``index`` as a (T, H, W, 3) uint8 array (for tests and previews)."""
    clip = build_clip(spec, index)
    return np.stack(list(render_frames(clip.scene)))


# ---------------------------------------------------------------------------------------------
# Writing the dataset


def _encode(frames_yuv, path: Path, spec: SyntheticSpec) -> None:
    """Write I420 frames ((H * 3 // 2, W) uint8 each) as an H.264 mp4."""
    import av

    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(int(spec.fps)))
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
        # veryfast, trimmed (no B-frames, one reference, cheap motion search and partitions):
        # ~0.3 ms a frame, ~130 KB a 10 s clip. Stock veryfast (B-frames + macroblock-tree)
        # gave *different bytes from run to run* on small frames with this x264 build; this set
        # is bit-stable, as is one thread (parallelism comes from the workers). A GOP of 2 s
        # keeps seeking cheap for decoders that sample windows.
        stream.options = {
            "preset": "veryfast", "crf": "23", "g": str(2 * int(spec.fps)), "threads": "1",
            "x264-params": "ref=1:subme=1:me=dia:trellis=0:bframes=0:weightp=0:partitions=none:no-8x8dct=1",
        }
        for yuv in frames_yuv:
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _write_video(spec: SyntheticSpec, index: int, out_dir: Path) -> str:
    """Render one clip to a temp file, then move it into place (never a half-written mp4)."""
    clip = build_clip(spec, index)
    final = out_dir / "train" / f"{clip.plan.id}.mp4"
    tmp = final.with_name(f".{clip.plan.id}.{os.getpid()}.tmp.mp4")
    try:
        _encode(render_frames(clip.scene, "yuv420p"), tmp, spec)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
    return clip.plan.id


def _render_in_subprocesses(out: Path, spec: SyntheticSpec, pending: list[int], n_workers: int, bar) -> None:
    """Render ``pending`` videos in ``n_workers`` child interpreters (``python -m`` this module).

    Plain subprocesses rather than multiprocessing: "spawn" re-imports the caller's main
    script (breaking unguarded scripts) and "fork" is unsafe inside threaded hosts such as a
    Dagster run worker. Each child prints one line per finished video.
    """
    import subprocess
    import sys
    import tempfile
    import threading

    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    lock = threading.Lock()
    procs, logs, threads = [], [], []

    def pump(proc) -> None:
        for _ in proc.stdout:
            with lock:
                bar.update()

    try:
        for w in range(n_workers):
            chunk = ",".join(str(i) for i in pending[w::n_workers])
            log = tempfile.TemporaryFile(mode="w+")
            cmd = [sys.executable, "-m", "archsearch.data.synthetic", str(out), json.dumps(spec.to_dict()), chunk]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
            procs.append(proc)
            logs.append(log)
            threads.append(threading.Thread(target=pump, args=(proc,), daemon=True))
            threads[-1].start()
        for proc, thread in zip(procs, threads):
            proc.wait()
            thread.join()
        failed = [(p, log) for p, log in zip(procs, logs) if p.returncode != 0]
        if failed:
            proc, log = failed[0]
            log.seek(0)
            tail = log.read()[-3000:]
            raise RuntimeError(f"{out}: synthetic video worker exited with code {proc.returncode}:\n{tail}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()


def video_is_complete(path: Path, n_frames: int) -> bool:
    """Cheap check (container header only) that ``path`` holds ``n_frames`` frames."""
    if not path.is_file():
        return False
    try:
        import av

        with av.open(str(path)) as c:
            return int(c.streams.video[0].frames) == n_frames
    except Exception:  # noqa: BLE001 - any unreadable file is simply regenerated
        return False


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except (OSError, OverflowError):
        return False
    return True


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _csv_text(plans: list[VideoPlan]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "target", "time_of_event", "time_of_alert"])
    for p in plans:
        fmt = lambda x: "" if x is None else f"{x:.3f}"  # noqa: E731
        w.writerow([p.id, p.target, fmt(p.event_time), fmt(p.alert_time)])
    return buf.getvalue()


def _meta_text(spec: SyntheticSpec, plans: list[VideoPlan], complete: bool) -> str:
    videos = [{k: v for k, v in asdict(p).items() if k != "index"} | {"target": p.target} for p in plans]
    meta = {"format": FORMAT, "spec": spec.to_dict(), "n_frames": spec.n_frames, "complete": complete, "videos": videos}
    return json.dumps(meta, indent=1) + "\n"


def generate_dataset(out_dir, spec: SyntheticSpec, *, workers: int | None = None, progress: bool = True) -> Path:
    """Write ``out_dir/train/<id>.mp4``, ``train.csv`` (Nexar columns) and ``synthetic.json``.

    Resumable: videos already present with the right frame count are kept; others (missing,
    truncated, foreign) are rendered again. Each mp4 is written under a temp name and moved
    into place, so an interrupted run never leaves a half file behind. ``workers=None`` uses
    every core; ``workers<=1`` renders in this process.
    """
    out = Path(out_dir)
    meta_path = out / "synthetic.json"
    if (out / "train.csv").exists() and not meta_path.is_file():
        raise ValueError(
            f"{out}: holds a train.csv but no synthetic.json, so it is not a synthetic dataset "
            "(a real Nexar folder?); refusing to overwrite it -- choose another folder"
        )
    (out / "train").mkdir(parents=True, exist_ok=True)
    if meta_path.is_file():
        try:
            old = json.loads(meta_path.read_text()).get("spec")
        except (json.JSONDecodeError, AttributeError):
            old = None
        if old is not None and old != spec.to_dict():
            diff = sorted(k for k in spec.to_dict() if old.get(k) != spec.to_dict()[k])
            raise ValueError(
                f"{meta_path}: folder holds synthetic dataset {old.get('name')!r} made with other settings "
                f"(field(s) {diff}: {[old.get(k) for k in diff]} here vs {[spec.to_dict()[k] for k in diff]} requested); "
                "use another folder or delete this one"
            )
    plans = plan_dataset(spec)
    _atomic_write(meta_path, _meta_text(spec, plans, complete=False))
    for stale in (out / "train").glob(".*.tmp.mp4"):  # left by a killed run (not a live one)
        pid = stale.name.split(".")[2]
        if not (pid.isdigit() and _pid_alive(int(pid))):
            stale.unlink(missing_ok=True)
    pending = [p.index for p in plans if not video_is_complete(out / "train" / f"{p.id}.mp4", spec.n_frames)]
    from tqdm.auto import tqdm

    bar = tqdm(total=len(pending), desc=f"synthetic {spec.name}", unit="video", disable=None if progress and pending else True)  # None: off when not a terminal
    n_workers = min(os.cpu_count() or 1, len(pending)) if workers is None else min(workers, len(pending))
    try:
        if n_workers <= 1:
            for i in pending:
                _write_video(spec, i, out)
                bar.update()
        else:
            _render_in_subprocesses(out, spec, pending, n_workers, bar)
    finally:
        bar.close()
    _atomic_write(out / "train.csv", _csv_text(plans))
    _atomic_write(meta_path, _meta_text(spec, plans, complete=True))
    return out


def _worker_main(argv: list[str]) -> None:
    """``python -m archsearch.data.synthetic OUT_DIR SPEC_JSON 3,5,7``: render those videos."""
    out, spec_json, indices = argv
    spec = SyntheticSpec(**json.loads(spec_json))
    for i in (int(x) for x in indices.split(",") if x):
        _write_video(spec, i, Path(out))
        print(i, flush=True)


if __name__ == "__main__":
    import sys

    _worker_main(sys.argv[1:])
