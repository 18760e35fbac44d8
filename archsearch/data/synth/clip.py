"""From a simulated situation to a renderable clip: timing, alert, camera motion, Scene.

``build_clip`` is the one place where the road-frame simulation (fine grid r) is resampled at
the frame times and turned into labels (``VideoPlan``) plus everything the renderer needs
(``Scene``). The contact jolt lives here too, and only from the contact time on, so that no
anticipation window can see it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from archsearch.data.synth.dressing import background_traffic, make_look, make_props, make_skyline, random_color
from archsearch.data.synth.kinematics import Ctx, Situation, integrate
from archsearch.data.synth.render import render_frames
from archsearch.data.synth.scene import Camera, Scene, Vehicle
from archsearch.data.synth.simulate import in_view, separation, simulate
from archsearch.data.synth.spec import SyntheticSpec, VideoPlan, assign_scenarios, video_rng
from archsearch.data.synth.variants import CAMERAS, RAIN

# ---------------------------------------------------------------------------------------------
# From a simulated situation to a renderable scene


@dataclass
class Clip:
    """One video before encoding: its labels/timing and everything the renderer needs."""

    plan: VideoPlan
    scene: Scene


def _aftermath(ctx: Ctx, sit: Situation, r_event: float, rng) -> None:
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


def _alert_r(ctx: Ctx, sit: Situation, r_event: float, tau: float, fov_deg: float) -> float:
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
    seen = in_view(ctx, sit.ego_x, sit.actor, fov_deg)
    unseen = np.flatnonzero(before & ~seen)
    r_seen = r[unseen[-1] + 1] if unseen.size else r[0]
    return float(min(max(r_ttc, r_seen), r_event - 0.1))


def _smooth_noise(rng, n: int, width: int) -> np.ndarray:
    k = np.ones(max(width, 1)) / max(width, 1)
    z = np.convolve(rng.standard_normal(n + 2 * width), k, mode="same")[width : width + n]
    return z / (z.std() + 1e-9)


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
    """Simulate and dress video ``index``: its plan (labels, times) and its renderable scene.

    Every random draw comes from one per-video stream in a fixed order, so the helpers below
    are called in exactly this sequence.
    """
    scenario = scenario or assign_scenarios(spec)[index]
    ctx, sit, r_event, dmin = simulate(spec, index, scenario)
    rng = video_rng(spec, index, 1)  # dressing draws: independent of how many rejections happened
    lo, hi = spec.event_window
    t_anchor = round(float(rng.uniform(lo, hi)), 3)
    cam_cfg = CAMERAS[spec.variant]
    collision = scenario == "collision"
    alert = None
    if collision:
        _aftermath(ctx, sit, r_event, rng)
        a_r = _alert_r(ctx, sit, r_event, float(rng.uniform(1.5, 2.5)), cam_cfg["fov_deg"])
        alert = round(max(0.0, t_anchor - (r_event - a_r)), 3)
        alert = min(alert, round(t_anchor - 0.1, 3))
    # Resample the fine grid at the frame times.
    t = np.arange(spec.n_frames) / spec.fps  # (T,)
    rk = t - t_anchor + r_event
    odo_fine = integrate(ctx.r, sit.ego_v, ctx.i0)
    odo, ego_x, ego_v = (np.interp(rk, ctx.r, v) for v in (odo_fine, sit.ego_x, sit.ego_v))
    road = ctx.road
    look = make_look(spec.variant, road.setting, rng)
    rain = float(rng.uniform(0.4, 1.0)) if rng.random() < RAIN[spec.variant] else 0.0
    if rain:  # rain shortens the sight: fog comes in closer
        look = dataclasses.replace(look, fog_m=look.fog_m * (1.0 - 0.6 * rain))
    a = sit.actor
    actor = Vehicle(
        a.kind,
        random_color(rng),
        np.interp(rk, ctx.r, a.x),
        np.interp(rk, ctx.r, a.p),
        np.interp(rk, ctx.r, a.heading),
        np.interp(rk, ctx.r, a.brake) > 0.5,
    )
    crosses = _junctions(sit, road, ctx.r, odo, odo_fine, rng)
    vehicles = [actor] + background_traffic(ctx, sit, t, odo, ego_x, actor, crosses, spec.difficulty, rng)
    props = make_props(road, float(odo[0]) - 30, float(odo[-1]) + 230, crosses, rng)
    cam = Camera(
        spec.width, spec.height, cam_cfg["fov_deg"], cam_cfg["height_m"], cam_cfg["pitch_deg"], cam_cfg["hood_m"]
    )
    side = np.sign(float(np.interp(r_event, ctx.r, a.x - sit.ego_x)) or 1.0)
    pitch, yaw_px, blur, gain = _camera_path(spec, cam, t, ego_x, ego_v, t_anchor if collision else None, side, rng)
    margin = int(0.3 * spec.width)
    skyline = make_skyline(road.setting, spec.width + 2 * margin, spec.height, rng)
    smudges, pillar = _windshield(spec, rng)
    noise = (0.002 + 0.008 * spec.difficulty) * (1.6 if look.lighting == "night" else 1.0)  # H.264 keeps little more
    render_seed = int(np.random.SeedSequence(spec.seed, spawn_key=(index, 2)).generate_state(1)[0])
    scene = Scene(
        camera=cam,
        road=road,
        look=look,
        n_frames=spec.n_frames,
        odometer=odo,
        ego_x=ego_x,
        yaw_px=yaw_px,
        pitch_deg=pitch,
        blur=blur,
        gain=gain,
        vehicles=vehicles,
        props=props,
        intersections=crosses,
        skyline_px=skyline,
        noise_sigma=noise,
        render_seed=render_seed,
        smudges=smudges,
        pillar=pillar,
        rain=rain,
    )
    times = {
        "event": t_anchor if collision else None,
        "alert": alert,
        "anchor": t_anchor,
        "decision": round(t_anchor - r_event, 3),
    }
    look_tags = (look.lighting, road.setting, "rain" if rain else "dry")
    return Clip(_video_plan(index, scenario, sit.family, look_tags, times, dmin), scene)


def _video_plan(index: int, scenario: str, family: str, look_tags: tuple[str, str, str], times: dict, dmin: float):
    """The labels and times of one video (what train.csv and synthetic.json record)."""
    return VideoPlan(
        id=f"{index:05d}",
        index=index,
        scenario=scenario,
        family=family,
        lighting=look_tags[0],
        setting=look_tags[1],
        weather=look_tags[2],
        event_time=times["event"],
        alert_time=times["alert"],
        closest_approach_time=times["anchor"] if scenario == "near_miss" else None,
        anchor_time=times["anchor"],
        decision_time=times["decision"],
        min_distance_m=round(dmin, 3),
    )


def _junctions(sit: Situation, road, r: np.ndarray, odo: np.ndarray, odo_fine: np.ndarray, rng) -> list[float]:
    """Cross-street positions: the situation's own, and in town maybe another one somewhere on the route."""
    crosses = []
    if sit.cross_p0 is not None:
        crosses.append(float(sit.cross_p0 + np.interp(0.0, r, odo_fine)))
    if road.setting == "urban" and rng.random() < 0.6:
        z = float(rng.uniform(odo[0] + 25, odo[-1] + 120))
        if all(abs(z - c) > 40 for c in crosses):
            crosses.append(z)
    return crosses


def _camera_path(
    spec: SyntheticSpec,
    cam: Camera,
    t: np.ndarray,
    ego_x: np.ndarray,
    ego_v: np.ndarray,
    contact: float | None,
    side: float,
    rng,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame pitch (deg), yaw shift (px), blur and exposure gain, each (T,)."""
    d = spec.difficulty
    motion = camera_motion(t, ego_v, d, contact, side, rng)
    pitch = motion["shake_pitch"] + motion["dive"] + motion["bumps"] + motion["jolt_pitch"]
    yaw = motion["shake_yaw"] + motion["jolt_yaw"]
    lat_v = np.gradient(ego_x, t)
    yaw_px = cam.f * (np.tan(np.radians(yaw)) + lat_v / np.maximum(ego_v, 2.0))
    gain = math.exp(rng.normal(0, 0.05 + 0.15 * d)) * (1 + 0.02 * d * _smooth_noise(rng, len(t), 5))
    return pitch, yaw_px, motion["blur"], gain


def _windshield(spec: SyntheticSpec, rng) -> tuple[list[tuple[float, float, float, float]], float]:
    """Smudges (u, v, radius, alpha) on the windshield and the width of a dark A-pillar (0: none)."""
    d = spec.difficulty
    smudges = []
    if rng.random() < 0.7 * d:
        for _ in range(int(rng.integers(1, 7))):
            smudges.append(
                (
                    float(rng.uniform(0, spec.width)),
                    float(rng.uniform(0, spec.height * 0.8)),
                    float(rng.uniform(0.015, 0.06) * spec.width),
                    float(rng.uniform(0.15, 0.45)),
                )
            )
    pillar = float(rng.uniform(0.05, 0.12)) if rng.random() < 0.25 * d else 0.0
    return smudges, pillar


def plan_dataset(spec: SyntheticSpec) -> list[VideoPlan]:
    """Labels and times of every video, without rendering (cheap: kinematics only)."""
    return [build_clip(spec, i, s).plan for i, s in enumerate(assign_scenarios(spec))]


def render_video(spec: SyntheticSpec, index: int) -> np.ndarray:
    """All frames of video ``index`` as a (T, H, W, 3) uint8 array (for tests and previews)."""
    clip = build_clip(spec, index)
    return np.stack(list(render_frames(clip.scene)))
