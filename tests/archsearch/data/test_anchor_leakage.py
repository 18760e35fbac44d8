"""Window position must not tell the label: a classifier on everything except pixels stays at chance.

Manifests are built from metadata only (durations and event times, no video), on clip-length
distributions chosen to break naive anchoring. The classifier sees, per horizon, what the
windows the experiments build (models.windows.build_windows) reveal besides content: the anchor's
time from the start of the video's view, the view's length, the anchor's distance to the view's
end, the real steps and the masked fraction of 8- and 24-step windows. The same classifier on
the old policy (negatives take a positive's event time, the clip is the view) must find the leak,
so the test can fail.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from archsearch.data.anchors import HISTORY_S, match_anchors
from models.windows import HORIZONS_MS, build_windows

RATE = 5.0  # Hz: the feature clock of every backbone
N = 600  # videos per class


def scenario(name: str, seed: int = 0) -> pl.DataFrame:
    """Positives' and negatives' durations and event times for one adversarial length distribution."""
    rng = np.random.default_rng(seed)
    if name == "event_at_fixed_fraction":  # 4-12 s clips, the event 80 % of the way in
        d_pos, d_neg = rng.uniform(4, 12, N), rng.uniform(4, 12, N)
        events = 0.8 * d_pos
    elif name == "short_negatives":  # negatives 5-15 s, positives 30-40 s
        d_pos, d_neg = rng.uniform(30, 40, N), rng.uniform(5, 15, N)
        events = d_pos - rng.uniform(1, 5, N)
    elif name == "nexar_like":  # 20-40 s clips, events in the last seconds
        d_pos, d_neg = rng.uniform(20, 40, N), rng.uniform(20, 40, N)
        events = d_pos - rng.uniform(0.3, 2.0, N)
    else:
        raise ValueError(name)
    return pl.DataFrame(
        {
            "dataset": ["d"] * (2 * N),
            "video_id": [f"v{i:05d}" for i in range(2 * N)],
            "label": pl.Series([1] * N + [0] * N, dtype=pl.Int8),
            "event_time": list(events) + [None] * N,
            "duration": np.concatenate([d_pos, d_neg]),
        }
    )


def old_policy(table: pl.DataFrame, seed: int = 0) -> pl.DataFrame:
    """The policy this replaces: a negative draws a positive's event time that fits in its clip
    (else keeps a positive's distance to the end), plus jitter; the whole clip is the view."""
    rng = np.random.default_rng(seed)
    pos = table.filter(pl.col("label") == 1)
    events, tails = pos["event_time"].to_numpy(), (pos["duration"] - pos["event_time"]).to_numpy()
    anchors = []
    for label, event, duration in table.select("label", "event_time", "duration").iter_rows():
        if label == 1:
            anchors.append(event)
            continue
        fits = events[events <= duration]
        t = rng.choice(fits) if fits.size else duration - rng.choice(tails)
        anchors.append(float(np.clip(t + rng.normal(0, 0.1), min(0.5, duration / 2), duration)))
    return table.with_columns(pl.Series("anchor_time", anchors), pl.lit(0.0).alias("view_start"))


def position_features(table: pl.DataFrame, view_end: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per horizon: (X, y) with every non-pixel quantity of the windows the experiments would build."""
    ids = table["video_id"].to_list()
    durations = table["duration"].to_numpy()
    features = {
        v: (np.zeros((int(d * RATE) + 1, 1), np.float16), np.arange(int(d * RATE) + 1) / RATE)
        for v, d in zip(ids, durations)
    }  # a causal feature every 0.2 s from 0 to the clip end
    anchors, starts = table["anchor_time"].to_numpy(), table["view_start"].to_numpy()
    ends = anchors if view_end == "anchor" else durations
    labels = table["label"].to_numpy()
    per_length = {L: build_windows(features, ids, labels, anchors, L) for L in (8, 24)}
    out = {}
    for k, h in enumerate(HORIZONS_MS):
        cols = [anchors - starts, ends - starts, ends - anchors]
        for w in per_length.values():
            mask = w.mask[k :: len(HORIZONS_MS)]  # (N, L) this horizon's windows, video order
            cols += [mask.sum(axis=1), 1 - mask.mean(axis=1)]
        out[h] = (np.column_stack(cols), labels)
    return out


def cv_auc(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    """Out-of-fold AUC of a gradient-boosted classifier (5 folds): what a model could exploit.

    A negative copies its partner positive's history exactly, so the two go into the same fold
    (``groups``): split apart, the copy would look like a positive seen in training and push
    the out-of-fold AUC below 0.5, hiding a leak as easily as showing one.
    """
    clf = HistGradientBoostingClassifier(max_iter=50, random_state=0)
    with threadpool_limits(1):  # OpenMP threads fight over a busy 2-core box: 20x slower
        proba = cross_val_predict(
            clf, x, y, groups=groups, method="predict_proba", cv=StratifiedGroupKFold(5, shuffle=True, random_state=0)
        )[:, 1]
    return float(roc_auc_score(y, proba))


def pair_groups(table: pl.DataFrame) -> np.ndarray:
    """Each positive's id, and for each negative the id of the positive whose history it took."""
    own = table["video_id"].to_numpy()
    if "anchor_partner" not in table.columns:
        return own
    return np.where(table["label"].to_numpy() == 1, own, table["anchor_partner"].to_numpy())


SCENARIOS = ["event_at_fixed_fraction", "short_negatives", "nexar_like"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_matched_views_leave_no_position_signal(name):
    assignment = match_anchors(scenario(name), seed=0)
    kept = assignment.table
    n_pos, n_neg = int((kept["label"] == 1).sum()), int((kept["label"] == 0).sum())
    assert n_pos >= 0.7 * N and n_neg >= 0.7 * N, f"kept {n_pos} positives, {n_neg} negatives"
    assert kept.height + assignment.excluded.height == 2 * N
    groups = pair_groups(kept)
    for h, (x, y) in position_features(kept, view_end="anchor").items():
        auc = cv_auc(x, y, groups)
        assert auc <= 0.55, f"{name}, horizon {h} ms: window position predicts the label (AUC {auc:.3f})"


@pytest.mark.parametrize("name", SCENARIOS)
def test_old_policy_leaks_so_the_classifier_has_power(name):
    table = old_policy(scenario(name))
    aucs = [cv_auc(x, y, pair_groups(table)) for x, y in position_features(table, view_end="clip").values()]
    assert min(aucs) > 0.6, f"{name}: the classifier found no leak in the old policy (AUCs {aucs})"


def test_windows_stay_inside_views():
    """Everything a window reads lies in [view_start, anchor]: the view is what the model sees."""
    kept = match_anchors(scenario("event_at_fixed_fraction"), seed=1).table
    assert (kept["view_start"] >= 0).all() and (kept["anchor_time"] <= kept["duration"] + 1e-9).all()
    history = (kept["anchor_time"] - kept["view_start"]).to_numpy()
    assert history.max() <= HISTORY_S + 1e-9
    lookback = max(HORIZONS_MS) / 1000 + (24 - 1) / RATE  # the longest window at the longest horizon
    full = history >= HISTORY_S - 1e-9
    assert lookback <= HISTORY_S and (kept["view_start"].to_numpy()[~full] == 0).all()
