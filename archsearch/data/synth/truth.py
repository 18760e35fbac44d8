"""Ground truth for every cue of a clip: what the main actor really did, frame by frame.

The generator knows the road-frame trajectories it rendered, so each cue a model could read from
the pixels has an exact value here: the gap between the two footprints, how fast it closes, the
time to contact, where the actor sits in the image (bearing) and how fast that drifts, how large
it looks and how fast it grows (looming), and the ego's own speed and braking. An "oracle" that
reads these instead of pixels bounds what any backbone can reach (``bench/calibrate.py``).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from archsearch.data.synth.kinematics import Actor
from archsearch.data.synth.simulate import separation

# Per-frame cues, in the order ``cue_matrix`` stacks them.
CUES = (
    "gap_m",  # footprint separation (<= 0: contact)
    "closing_mps",  # -d gap / dt
    "ttc_s",  # gap / closing, capped at TTC_CAP_S (not closing: the cap)
    "ahead_m",  # actor centre ahead of the camera along the road
    "lateral_m",  # actor centre right of the ego's centre (road frame)
    "lateral_mps",  # d lateral / dt
    "bearing_deg",  # direction of the actor centre in the camera (+ right)
    "bearing_rate_dps",  # d bearing / dt: ~0 while on a collision course ("constant bearing")
    "size_rad",  # apparent width of the actor (its larger horizontal extent over its distance)
    "depression_deg",  # how far below the horizon the actor's nearest ground point appears (its distance, seen)
    "looming_ps",  # d ln(size) / dt
    "ego_speed_mps",
    "ego_accel_mps2",
)
TTC_CAP_S = 10.0


def clip_truth(clip, variant_camera: dict, fps: float) -> dict[str, np.ndarray]:
    """Every cue of ``CUES`` for the clip's main actor at each frame time: name -> (T,) float64.

    ``variant_camera`` is the variant's entry of ``variants.CAMERAS`` (hood and ego footprint).
    """
    sc, actor = clip.scene, clip.scene.vehicles[0]
    t = np.arange(sc.n_frames) / fps  # (T,)
    ctx = SimpleNamespace(
        hood=variant_camera["hood_m"], ego_w=variant_camera["ego_w"], ego_len=variant_camera["ego_len"]
    )
    gap = separation(ctx, sc.ego_x, Actor(actor.kind, actor.x, actor.p, actor.heading, np.zeros_like(t)))
    closing = -np.gradient(gap, t)
    with np.errstate(divide="ignore", invalid="ignore"):
        ttc = np.where(closing > 0.05, np.maximum(gap, 0.0) / closing, TTC_CAP_S)
    lateral = actor.x - sc.ego_x
    X = lateral + 0.5 * sc.road.curvature * actor.p**2  # camera-frame lateral
    depth = np.maximum(actor.p, 0.3)
    bearing = np.degrees(np.arctan2(X, depth))
    L, W, _ = actor.size
    extent = np.abs(np.cos(actor.heading)) * W + np.abs(np.sin(actor.heading)) * L  # seen across
    near = np.maximum(depth - 0.5 * (np.abs(np.cos(actor.heading)) * L + np.abs(np.sin(actor.heading)) * W), 0.3)
    size = extent / np.hypot(near, X)
    speed = np.gradient(sc.odometer, t)
    depression = np.degrees(np.arctan2(sc.camera.height_m, near))
    return {
        "gap_m": gap,
        "closing_mps": closing,
        "ttc_s": np.minimum(ttc, TTC_CAP_S),
        "ahead_m": actor.p.astype(np.float64),
        "lateral_m": lateral,
        "lateral_mps": np.gradient(lateral, t),
        "bearing_deg": bearing,
        "bearing_rate_dps": np.gradient(bearing, t),
        "size_rad": size,
        "depression_deg": depression,
        "looming_ps": np.gradient(np.log(size), t),
        "ego_speed_mps": speed,
        "ego_accel_mps2": np.gradient(speed, t),
    }


def cue_matrix(truth: dict[str, np.ndarray]) -> np.ndarray:
    """(T, len(CUES)) in ``CUES`` order."""
    return np.stack([truth[name] for name in CUES], axis=1)


TRUTH_FILE = "truth.csv"


def truth_csv_text(spec, clips) -> str:
    """``truth.csv``: one row per (video, frame): id, frame, time_s and every cue of ``CUES`` (4 decimals)."""
    from archsearch.data.synth.variants import CAMERAS

    lines = [",".join(("id", "frame", "time_s") + CUES)]
    for clip in clips:
        m = cue_matrix(clip_truth(clip, CAMERAS[spec.variant], spec.fps))  # (T, C)
        for k, row in enumerate(m):
            values = ",".join(f"{v:.4f}" for v in row)
            lines.append(f"{clip.plan.id},{k},{k / spec.fps:.4f},{values}")
    return "\n".join(lines) + "\n"


def read_truth(path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A ``truth.csv`` as {video id: (times (T,), cues (T, len(CUES)))}; errors name the file and what is wrong."""
    import polars as pl

    table = pl.read_csv(path, schema_overrides={"id": pl.String})
    missing = [c for c in ("id", "frame", "time_s", *CUES) if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; regenerate the synthetic dataset")
    out = {}
    for (vid,), part in table.sort("id", "frame").group_by("id", maintain_order=True):
        out[str(vid)] = (part["time_s"].to_numpy(), part.select(CUES).to_numpy())
    return out
