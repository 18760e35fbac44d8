"""Linear probes: how much of the task a backbone's features carry with the order of frames thrown away.

Each window (``WINDOW`` steps ending at anchor - h, the space's default window length) is
mean-pooled over its real steps -- what mean pooling of per-frame features keeps -- and a
standardised L2 logistic regression is fitted on the train split and scored on test. A
backbone whose probe is far below the best head on the same features needs the temporal model.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from models.windows import WindowSet, build_windows

WINDOW = 16


def split_windows(features: dict, rows: pl.DataFrame, split: str, window: int = WINDOW) -> WindowSet:
    """Windows of one split (``rows``: one dataset's manifest rows), in video id order."""
    part = rows.filter(pl.col("split") == split).sort("video_id")
    return build_windows(
        features[split], part["video_id"].to_list(), part["label"].to_numpy(), part["anchor_time"].to_numpy(), window
    )


def mean_pooled(w: WindowSet) -> np.ndarray:
    """(N, D) mean over each window's real steps (zeros for a fully masked window)."""
    x = w.x.astype(np.float32)  # (N, T, D), zeros at padding
    n = np.maximum(w.mask.sum(1, keepdims=True), 1)  # (N, 1)
    return x.sum(1) / n


def probe_scores(features: dict, rows: pl.DataFrame, c: float = 0.1):
    """Fit on train, score test: (scores (N,), the test WindowSet)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, test = split_windows(features, rows, "train"), split_windows(features, rows, "test")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
    clf.fit(mean_pooled(train), train.y.astype(int))
    return clf.predict_proba(mean_pooled(test))[:, 1], test
