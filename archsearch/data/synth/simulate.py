"""Deciding outcomes: footprint separation, road layouts, and rejection sampling per video.

Whether a clip is a collision, a near miss or a normal pass is *measured* on the simulated
situation (contact, closest approach, time-to-contact), never imposed; ``simulate`` redraws
until the wanted outcome appears. That is why the classes are not trivially separable.
"""

from __future__ import annotations

import numpy as np

from archsearch.data.synth.kinematics import DT, Actor, Ctx, Situation, free_sides
from archsearch.data.synth.scene import RoadLayout
from archsearch.data.synth.situations import BUILDERS, THREAT_FAMILIES
from archsearch.data.synth.spec import SyntheticSpec, video_rng
from archsearch.data.synth.variants import CAMERAS, FAMILIES, SPEEDS

NEAR_MISS_M = 1.5  # largest closest approach that counts as a near miss (side-by-side families: less)
MIN_CLEARANCE_M = 0.3  # at difficulty 1 a near miss comes this close; easier sets keep it farther (margins())
SAFE_M = 3.0  # closest approach of a "normal" clip built from a threat situation
PENETRATION_M = 0.25  # at difficulty 1 a collision's footprints overlap this much within 0.6 s (margins())
NORMAL_ANCHOR_SHIFT_S = (-1.0, 1.5)  # a normal clip's anchor: its closest approach shifted by this much
ANCHOR_AFTER_DECISION_S = (2.0, 4.0)  # the contact or closest approach follows the decision this long after
DRAWS_PER_FAMILY = 5000  # situations drawn per family before the next family of the class is tried
CRITICAL_TTC_S = 2.5  # a near miss must have been this close to contact in time on the way in
ANTICIPATION_S = (0.5, 1.0, 1.5)  # the horizons: every anticipation window ends this long before the event


def separation(ctx, ego_x: np.ndarray, a: Actor) -> np.ndarray:
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


def in_view(ctx, ego_x: np.ndarray, a: Actor, fov_deg: float, margin_deg: float = 0.0) -> np.ndarray:
    """(N,) bool: a corner of the actor's footprint lies ahead of the camera and inside its horizontal field
    of view, narrowed by ``margin_deg`` on each side."""
    L, W = a.dims
    s, c = np.sin(a.heading), np.cos(a.heading)  # heading 0: along the road; +pi/2: moving right
    tan_half = np.tan(np.radians(fov_deg / 2 - margin_deg))
    seen = np.zeros(a.p.shape, dtype=bool)
    for along, across in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
        p = a.p + along * L / 2 * c - across * W / 2 * s
        X = a.x - ego_x + along * L / 2 * s + across * W / 2 * c + 0.5 * ctx.road.curvature * p**2
        seen |= (p > 0.5) & (np.abs(X) < tan_half * p)
    return seen


def seen_before(ctx, sit: Situation, r_event: float) -> bool:
    """Whether the camera sees the actor at the end of every anticipation window before ``r_event``: a
    collision whose other party is outside the picture (cross traffic at a steep constant bearing beside
    a wide-angle camera) cannot be anticipated from the video, whatever the labels say."""
    seen = in_view(ctx, sit.ego_x, sit.actor, CAMERAS[ctx.variant]["fov_deg"], margin_deg=1.0)
    return all(seen[int(np.argmin(np.abs(ctx.r - (r_event - h))))] for h in ANTICIPATION_S)


def _road_for(family: str, variant: str, rng) -> RoadLayout:
    need_adjacent = family in ("cut_in", "cut_out", "merge", "overtaken", "lane_change")
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


def margins(difficulty: float) -> tuple[float, float]:
    """(smallest near-miss clearance, smallest collision overlap) in m: the physical gap between the classes
    narrows as difficulty rises, from 0.8 m each at 0 to MIN_CLEARANCE_M and PENETRATION_M at 1."""
    easy = 1.0 - difficulty
    return MIN_CLEARANCE_M + 0.5 * easy, PENETRATION_M + 0.55 * easy


def _contact(r: np.ndarray, d: np.ndarray, i: int, penetration: float) -> tuple[str, float, float]:
    """A contact at index i: a collision when it is a solid hit inside the anchor window, else reject."""
    lo, hi = ANCHOR_AFTER_DECISION_S
    r_c = float(r[i - 1] + d[i - 1] / (d[i - 1] - d[i]) * DT)
    k = int(round(0.3 / DT))
    solid = (d[i - k] - d[i]) / 0.3 >= 0.4 and d[i : i + 2 * k].min() <= -penetration
    return ("collision", r_c, 0.0) if lo <= r_c <= hi and solid else ("reject", 0.0, 0.0)


def _outcome(ctx: Ctx, sit: Situation, difficulty: float) -> tuple[str, float, float]:
    """Classify a simulated situation: ("collision" | "near_miss" | "normal" | "reject", r, d_min).

    The contact or closest approach must come 2-4 s after the decision, so that every
    anticipation window (ending 0.5-1.5 s before it) already shows the committed dynamics, and a
    collision's other party must be in the picture at the end of each of those windows. A near
    miss must come close *and* be critical (time-to-contact <= 2.5 s on the way in), and nothing
    may come that close before the decision: the early history never gives the class away.
    """
    r = ctx.r
    d = separation(ctx, sit.ego_x, sit.actor)
    near_max, safe_min = _THRESHOLDS.get(sit.family, _DEFAULT_THRESHOLDS)
    clearance, penetration = margins(difficulty)
    before = (r >= -6.0) & (r < 0)
    if d[before].min() <= near_max:
        return "reject", 0.0, 0.0
    after = r >= 0
    hit = np.flatnonzero((d <= 0) & after)
    if hit.size:
        got = _contact(r, d, int(hit[0]), penetration)
        return got if got[0] != "collision" or seen_before(ctx, sit, got[1]) else ("reject", 0.0, 0.0)
    if sit.salient_r is not None:
        j = int(np.argmin(np.abs(r - sit.salient_r)))
        return "normal", float(r[j]), float(d[j])
    lo, hi = ANCHOR_AFTER_DECISION_S
    idx = np.flatnonzero(after & (r <= hi + 2.0))
    j = int(idx[np.argmin(d[idx])])
    if not lo <= r[j] <= hi:
        return "reject", 0.0, 0.0  # no closest approach inside the anchor window
    dmin = float(d[j])
    closing = -np.gradient(d[idx[0] : j + 1], r[idx[0] : j + 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        ttc = float(np.min(np.where(closing > 0.1, d[idx[0] : j + 1] / closing, np.inf)))
    if clearance <= dmin <= near_max and ttc <= CRITICAL_TTC_S:
        return "near_miss", float(r[j]), dmin
    if dmin >= safe_min or (dmin > near_max and ttc >= 2 * CRITICAL_TTC_S):
        return "normal", float(r[j]), dmin
    return "reject", 0.0, 0.0


def simulate(spec: SyntheticSpec, index: int, scenario: str, stats: dict | None = None):
    """Draw situations until the wanted outcome appears; returns (ctx, situation, r_event, d_min).

    The family is drawn by the variant's weights. A family that cannot produce the outcome at this
    difficulty (at difficulty 0 a cut-out rarely overlaps the ego by the required 0.8 m) gives way to
    the class's other families, heaviest first, instead of failing the dataset; every clip that
    succeeds with its first family is unaffected.
    """
    rng = video_rng(spec, index, 0)
    weights = dict(FAMILIES[spec.variant][scenario])
    if scenario == "normal":  # harder sets draw more normal clips from threat situations
        weights = {f: w * (2 * spec.difficulty if f in THREAT_FAMILIES else 1.0) for f, w in weights.items()}
    first = choose(rng, weights)
    families = [first, *sorted((f for f, w in weights.items() if f != first and w > 0), key=lambda f: (-weights[f], f))]
    cam = CAMERAS[spec.variant]
    r = np.round(np.arange(-(spec.duration_s + 2.0), ANCHOR_AFTER_DECISION_S[1] + spec.duration_s + DT / 2, DT), 6)
    i0 = int(np.argmin(np.abs(r)))
    for family in families:
        for n in range(DRAWS_PER_FAMILY):
            road = _road_for(family, spec.variant, rng)
            lo, hi = SPEEDS[spec.variant][road.setting]
            v0 = float(rng.uniform(lo, hi))
            ctx = Ctx(spec.variant, road, v0, cam["hood_m"], cam["ego_w"], cam["ego_len"], r, i0)
            sit = BUILDERS[family](ctx, rng)
            got, r_event, dmin = _outcome(ctx, sit, spec.difficulty)
            if got == scenario:
                if got == "normal" and sit.salient_r is None:  # not always the closest approach: it may be past
                    r_event += float(rng.uniform(*NORMAL_ANCHOR_SHIFT_S))
                if stats is not None:
                    stats[(scenario, family)] = stats.get((scenario, family), []) + [n + 1]
                return ctx, sit, r_event, dmin
    raise RuntimeError(
        f"synthetic video {index}: no {scenario} outcome in {DRAWS_PER_FAMILY} draws of any of the families "
        f"{families} at difficulty {spec.difficulty:g}"
    )


def choose(rng, options: dict[str, float]) -> str:
    names = list(options)
    w = np.array([options[n] for n in names], float)
    return str(rng.choice(names, p=w / w.sum()))
