"""A feature group with a known, learnable signal, and its manifest: ground truth for checks of heads.

Tests, benchmarks and sanity checks of a new head need features whose answer is known without any
video or backbone: noise everywhere, plus a ramp along one direction before the event in positives.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from archsearch.data.splits import assign_splits
from archsearch.features.extraction import split_order
from archsearch.features.keys import feature_key
from archsearch.features.store import FeatureGroup, FeatureStore


def synthetic_feature_group(
    store_root: str,
    *,
    dataset: str = "synthetic_features",
    n_videos: int = 120,
    steps: int = 50,
    dim: int = 64,
    rate: float = 5.0,
    signal: float = 1.0,
    ramp_s: float = 3.0,
    positive_fraction: float = 0.5,
    anchor_range: tuple[float, float] | None = None,
    seed: int = 0,
) -> tuple[pl.DataFrame, FeatureGroup]:
    """A feature group with a known learnable signal plus its manifest, for tests, benchmarks and demos.

    Every video has `steps` causal feature steps at `rate` Hz of N(0, 1) noise; positives add
    `signal` x ramp(t) along one fixed direction, where ramp rises linearly from 0 at anchor - ramp_s
    to 1 at the anchor. So the task is learnable, harder at longer horizons (as in real dashcam data),
    and `signal` sets how hard. Anchors are uniform in `anchor_range` (default: late enough that a
    24-step window at the 1500 ms horizon fits). Splits: archsearch.data.splits.assign_splits (70/15/15).
    """

    rng = np.random.default_rng(seed)
    times = np.arange(steps) / rate  # (T,)
    duration = float(times[-1])
    lo, hi = anchor_range if anchor_range is not None else (min(1.5 + 23 / rate, duration), duration)
    labels = (np.arange(n_videos) < round(positive_fraction * n_videos)).astype(np.int8)
    rng.shuffle(labels)
    anchors = rng.uniform(lo, hi, n_videos)
    ids = [f"{i:05d}" for i in range(n_videos)]
    direction = rng.standard_normal(dim).astype(np.float32)
    direction /= np.linalg.norm(direction) / np.sqrt(dim)  # unit RMS per channel
    sampling = {"synthetic_seed": seed, "signal": signal, "rate": rate}
    key = feature_key("synthetic", f"seed{seed}", sampling)
    store = FeatureStore(store_root)
    group = store.group(
        dataset,
        key,
        attrs={
            "backbone": "synthetic",
            "weights_digest": f"seed{seed}",
            "sampling": sampling,
            "feature_rate": rate,
            "dim": dim,
        },
    )
    for i, vid in enumerate(ids):
        x = rng.standard_normal((steps, dim), dtype=np.float32)  # (T, D)
        if labels[i]:
            ramp = np.clip(1.0 - (anchors[i] - times) / ramp_s, 0.0, 1.0)  # (T,) 0 -> 1 at the anchor
            x += (signal * ramp)[:, None] * direction[None, :]
        group.write(vid, f"d{seed}x{i}", x.astype(np.float16), times)
    table = pl.DataFrame(
        {
            "dataset": [dataset] * n_videos,
            "video_id": ids,
            "path": [""] * n_videos,
            "label": pl.Series(labels, dtype=pl.Int8),
            "event_time": [float(a) if y else None for a, y in zip(anchors, labels)],
            "alert_time": pl.Series([None] * n_videos, dtype=pl.Float64),
            "anchor_time": anchors,
            "duration": [duration] * n_videos,
            "fps": [rate] * n_videos,
            "n_frames": [steps] * n_videos,
            "width": [0] * n_videos,
            "height": [0] * n_videos,
            "video_digest": [f"d{seed}x{i}" for i in range(n_videos)],
            "scenario": ["synthetic"] * n_videos,
        }
    )
    manifest = assign_splits(table, seed=seed)

    group.pack(split_order(manifest))
    return manifest, group
