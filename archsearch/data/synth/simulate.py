"""Deciding outcomes: footprint separation, road layouts, and rejection sampling per video.

Whether a clip is a collision, a near miss or a normal pass is *measured* on the simulated
situation (contact, closest approach, time-to-contact), never imposed; ``simulate`` redraws
until the wanted outcome appears. That is why the classes are not trivially separable.
"""

from __future__ import annotations

import numpy as np

from archsearch.data.synth.scene import RoadLayout
from archsearch.data.synth.situations import (
    BUILDERS,
    DT,
    THREAT_FAMILIES,
    Actor,
    Ctx,
    Situation,
    free_sides,
)
from archsearch.data.synth.spec import SyntheticSpec, video_rng
from archsearch.data.synth.variants import CAMERAS, FAMILIES, SPEEDS

NEAR_MISS_M = 2.5  # closest approach that counts as a near miss
SAFE_M = 4.0  # closest approach of a "normal" clip built from a threat situation


def separation(ctx: Ctx, ego_x: np.ndarray, a: Actor) -> np.ndarray:
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
        if need_adjacent and not free_sides(road, oncoming=False):
            continue
        return road
    raise RuntimeError(f"no road layout fits family {family!r}")  # pragma: no cover


# Outcome thresholds per family: (near-miss closest approach max, "safe" closest approach min), m.
# Side-by-side situations (merge, oncoming) pass closer than longitudinal ones in normal driving.
_THRESHOLDS = {"merge": (0.9, 1.2), "oncoming": (1.0, 1.3)}
_DEFAULT_THRESHOLDS = (NEAR_MISS_M, SAFE_M)


def _outcome(ctx: Ctx, sit: Situation, win: np.ndarray) -> tuple[str, float, float]:
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


def simulate(spec: SyntheticSpec, index: int, scenario: str, stats: dict | None = None):
    """Draw situations until the wanted outcome appears; returns (ctx, situation, r_event, d_min)."""
    rng = video_rng(spec, index, 0)
    weights = dict(FAMILIES[spec.variant][scenario])
    if scenario == "normal":  # harder sets draw more normal clips from threat situations
        weights = {f: w * (2 * spec.difficulty if f in THREAT_FAMILIES else 1.0) for f, w in weights.items()}
    family = choose(rng, weights)
    cam = CAMERAS[spec.variant]
    span = spec.duration_s + 4.0
    r = np.round(np.arange(-span, span + DT / 2, DT), 6)
    i0 = int(np.argmin(np.abs(r)))
    win = (r >= -3.0) & (r <= 5.0)
    for n in range(3000):
        road = _road_for(family, spec.variant, rng)
        lo, hi = SPEEDS[spec.variant][road.setting]
        ctx = Ctx(spec.variant, road, float(rng.uniform(lo, hi)), cam["hood_m"], cam["ego_w"], cam["ego_len"], r, i0)
        sit = BUILDERS[family](ctx, rng)
        got, r_event, dmin = _outcome(ctx, sit, win)
        if got == scenario:
            if stats is not None:
                stats[(scenario, family)] = stats.get((scenario, family), []) + [n + 1]
            return ctx, sit, r_event, dmin
    raise RuntimeError(f"synthetic video {index}: no {scenario} outcome for family {family!r} in 3000 draws")


def choose(rng, options: dict[str, float]) -> str:
    names = list(options)
    w = np.array([options[n] for n in names], float)
    return str(rng.choice(names, p=w / w.sum()))
