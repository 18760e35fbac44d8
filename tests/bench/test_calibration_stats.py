"""The calibration's statistics: weighted AP against scikit-learn, video-level bootstrap draws, and
the coverage of the percentile interval on a population whose AP is known."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from bench.calibration.stats import Split, interval, weighted_ap


@pytest.mark.parametrize("seed", range(5))
def test_weighted_ap_equals_sklearn_with_sample_weights_and_ties(seed):
    rng = np.random.default_rng(seed)
    n = 60
    y = (rng.random(n) < 0.4).astype(int)
    y[0], y[1] = 1, 0
    scores = np.round(rng.normal(size=n) + y, 1)  # rounding makes ties
    weights = rng.integers(0, 4, size=(7, n))
    weights[:, 0] = 1  # every draw keeps a positive
    got = weighted_ap(y, scores, weights)
    want = [average_precision_score(y, scores, sample_weight=w) for w in weights]
    assert got == pytest.approx(want, abs=1e-12)


def test_split_draws_resample_videos_within_each_class():
    rng = np.random.default_rng(0)
    videos = np.repeat([f"v{i:03d}" for i in range(40)], 3)  # three horizons per video
    labels = np.repeat((np.arange(40) < 15).astype(int), 3)
    horizons = np.tile([500, 1000, 1500], 40)
    split = Split.build(labels, horizons, videos, n_boot=200, seed=1)
    assert split.draws.shape == (201, 40) and (split.draws[0] == 1).all()
    video_label = labels[::3]
    assert (split.draws[:, video_label == 1].sum(1) == 15).all()  # class sizes are kept in every draw
    assert (split.draws[:, video_label == 0].sum(1) == 25).all()
    scores = labels + rng.normal(size=labels.size)
    maps = split.maps(scores)
    want = np.mean([average_precision_score(labels[horizons == h], scores[horizons == h]) for h in (500, 1000, 1500)])
    assert maps[0] == pytest.approx(want, abs=1e-12)
    assert split.aps(scores)["ap_1000"] == pytest.approx(
        average_precision_score(labels[horizons == 1000], scores[horizons == 1000]), abs=1e-12
    )


@pytest.mark.slow
def test_percentile_interval_covers_the_population_ap():
    """Test sets of 140 videos (70 positives) from a population whose AP is known: the 95 % interval
    over resampled videos should cover it about 95 % of the time."""
    rng = np.random.default_rng(3)

    def draw(n_pos: int, n_neg: int):
        y = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
        latent = rng.normal(size=y.size)  # a video's own difficulty, shared by its three horizons
        scores = np.stack([1.2 * y + latent + 0.5 * rng.normal(size=y.size) for _ in range(3)], 1)  # (V, 3)
        return y, scores

    y_pop, s_pop = draw(100_000, 100_000)
    truth = np.mean([average_precision_score(y_pop, s_pop[:, j]) for j in range(3)])
    hits, sims = 0, 200
    for _ in range(sims):
        y, s = draw(70, 70)
        ids = np.repeat(np.arange(y.size), 3)
        split = Split.build(
            np.repeat(y, 3), np.tile([500, 1000, 1500], y.size), ids, n_boot=400, seed=int(rng.integers(1 << 30))
        )
        lo, hi = interval(split.maps(s.reshape(-1)))
        hits += lo <= truth <= hi
    assert 0.90 <= hits / sims <= 0.99, hits / sims
