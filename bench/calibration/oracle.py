"""The oracle: a classifier that reads the true trajectories instead of pixels.

For every video and horizon h it sees the ground truth of every cue (``truth.CUES``: gap,
closing speed, time to contact, bearing and its drift, apparent size and looming, the ego's
speed and braking) at the feature clock (5 Hz) over the last ``steps`` steps at or before
anchor - h: exactly the span a head's window covers, with perfect perception. Its test mAP bounds
what any backbone can reach; the *pooled* oracle, which sees only the window means of the
snapshot cues (where the actor is and how large it looks, not how they change), shows how much
of the task needs the order of the frames.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from archsearch.data.synth.truth import CUES
from bench.calibration.stats import HORIZONS_MS

SNAPSHOT_CUES = ("ahead_m", "lateral_m", "bearing_deg", "size_rad", "ego_speed_mps")
FEATURE_RATE = 5.0


def cue_windows(truth: dict, rows: pl.DataFrame, steps: int = 8, pooled: bool = False):
    """Oracle inputs for ``rows`` (video_id, label, anchor_time): X (N, F), y (N,), horizon_ms (N,), video (N,).

    One row per (video, horizon), horizon as the last feature. Steps before the clip's start
    repeat its first frame (the same causal padding as the features).
    """
    cols = [CUES.index(c) for c in SNAPSHOT_CUES]
    xs, ys, hs, vids = [], [], [], []
    for vid, label, anchor in rows.select("video_id", "label", "anchor_time").iter_rows():
        times, cues = truth[vid]
        for h in HORIZONS_MS:
            end = np.floor((anchor - h / 1000.0) * FEATURE_RATE + 1e-6) / FEATURE_RATE
            grid = end - np.arange(steps)[::-1] / FEATURE_RATE  # (steps,) oldest first
            idx = np.clip(np.searchsorted(times, grid + 1e-6, side="right") - 1, 0, len(times) - 1)
            window = cues[idx]  # (steps, C)
            feats = window[:, cols].mean(0) if pooled else window.reshape(-1)
            xs.append(np.r_[feats, h / 1000.0])
            ys.append(int(label))
            hs.append(h)
            vids.append(vid)
    return np.asarray(xs), np.asarray(ys), np.asarray(hs), np.asarray(vids)


def oracle_scores(truth: dict, rows: pl.DataFrame, pooled: bool = False, seed: int = 0):
    """Fit on the train split, score the test split: (test scores (N,), y, horizon_ms, video ids)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    train = rows.filter(pl.col("split") == "train")
    test = rows.filter(pl.col("split") == "test")
    x_tr, y_tr, _, _ = cue_windows(truth, train, pooled=pooled)
    x_te, y_te, h_te, v_te = cue_windows(truth, test, pooled=pooled)
    clf = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, random_state=seed).fit(x_tr, y_tr)
    return clf.predict_proba(x_te)[:, 1], y_te, h_te, v_te
