"""Scores and intervals for the calibration: mAP over horizons, bootstrapped over videos.

Every number the calibration prints is a mean AP over the three anticipation horizons on one
split, and its interval comes from resampling that split's *videos* (with replacement, within
each class, so every draw keeps the split's class balance): the three windows of a video move
together, as they are not independent. A draw is a vector of multiplicities, so AP is computed
with those as sample weights, vectorised over draws (one sort per score vector).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HORIZONS_MS = (500, 1000, 1500)


def weighted_ap(y: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AP of ``scores`` for 0/1 labels ``y`` (N,) under sample weights (B, N): one AP per row of weights.

    Equal to ``sklearn.metrics.average_precision_score(y, scores, sample_weight=w)`` for each row w,
    tied scores included (they form one threshold).
    """
    order = np.argsort(-scores, kind="mergesort")
    y, s, w = y[order].astype(np.float64), scores[order], np.atleast_2d(weights)[:, order].astype(np.float64)
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]  # (K,) one threshold per distinct score
    tp = np.cumsum(w * y, axis=1)[:, last_of_tie]  # (B, K)
    seen = np.cumsum(w, axis=1)[:, last_of_tie]
    n_pos = tp[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(seen > 0, tp / seen, 0.0)
        recall = np.where(n_pos > 0, tp / n_pos, 0.0)
    return np.sum(np.diff(recall, axis=1, prepend=0.0) * precision, axis=1)  # (B,)


@dataclass(frozen=True)
class Split:
    """One split's windows: label, horizon and video of each, plus the bootstrap draws over its videos."""

    y: np.ndarray  # (N,) 0/1
    horizon_ms: np.ndarray  # (N,)
    video: np.ndarray  # (N,) int, index of the window's video in 0..V-1
    draws: np.ndarray  # (B, V) multiplicity of each video in each draw (row 0: every video once)

    @classmethod
    def build(cls, y, horizon_ms, video_ids, n_boot: int = 1000, seed: int = 0) -> Split:
        y, horizon_ms, video_ids = np.asarray(y), np.asarray(horizon_ms), np.asarray(video_ids)
        names, video = np.unique(video_ids, return_inverse=True)
        label = np.zeros(len(names), dtype=np.int64)
        label[video] = y
        rng = np.random.default_rng(seed)
        draws = np.ones((n_boot + 1, len(names)), dtype=np.int64)
        for cls_ in (0, 1):
            members = np.flatnonzero(label == cls_)
            if members.size:
                picks = rng.choice(members, size=(n_boot, members.size), replace=True)  # (B, n_c)
                counts = np.zeros((n_boot, len(names)), dtype=np.int64)
                np.add.at(counts, (np.arange(n_boot)[:, None], picks), 1)
                draws[1:, members] = counts[:, members]
        return cls(y.astype(np.int64), horizon_ms.astype(np.int64), video.astype(np.int64), draws)

    @property
    def n_videos(self) -> int:
        return int(self.draws.shape[1])

    def maps(self, scores: np.ndarray) -> np.ndarray:
        """mAP over the horizons for every draw: (B + 1,), entry 0 on the split itself."""
        out = np.zeros(self.draws.shape[0])
        horizons = np.unique(self.horizon_ms)
        for h in horizons:
            m = self.horizon_ms == h
            out += weighted_ap(self.y[m], np.asarray(scores, np.float64)[m], self.draws[:, self.video[m]])
        return out / len(horizons)

    def aps(self, scores: np.ndarray) -> dict[str, float]:
        """AP per horizon on the split itself: {"ap_500": ..., ...}."""
        s = np.asarray(scores, np.float64)
        return {
            f"ap_{int(h)}": float(weighted_ap(self.y[m], s[m], np.ones((1, int(m.sum()))))[0])
            for h in np.unique(self.horizon_ms)
            for m in [self.horizon_ms == h]
        }


def interval(draws: np.ndarray, level: float = 0.95) -> list[float]:
    """Percentile interval of the bootstrap draws (entry 0, the point estimate, excluded)."""
    q = 100 * (1 - level) / 2
    lo, hi = np.percentile(draws[1:], [q, 100 - q])
    return [round(float(lo), 4), round(float(hi), 4)]


def summary(draws: np.ndarray) -> dict:
    """{"map": point estimate, "ci95": [lo, hi]} of one mAP's draws."""
    return {"map": round(float(draws[0]), 4), "ci95": interval(draws)}
