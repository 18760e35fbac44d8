"""Power-law recovery on data with known a, b, c; the asymptote flag; AIC against rivals; degenerate curves."""

from __future__ import annotations

import numpy as np
import pytest

from archsearch.analysis.base import NotEnoughData
from archsearch.analysis.powerlaw import PowerLawResult, fit_power_law, predict


@pytest.mark.parametrize("a,b,c", [(0.9, 0.3, 0.4), (0.95, 0.5, 1.2), (0.8, 0.1, 0.11)])
def test_recovers_known_parameters(a, b, c):
    n = np.arange(1, 201)
    r = fit_power_law(list(a - b * n ** (-c)))
    assert isinstance(r, PowerLawResult)
    assert r.power.params["a"] == pytest.approx(a, abs=1e-6)
    assert r.power.params["b"] == pytest.approx(b, abs=1e-6)
    assert r.power.params["c"] == pytest.approx(c, abs=1e-6)
    assert r.power.r2 == pytest.approx(1.0, abs=1e-9) and not r.asymptote_above_max and r.flag_text() == ""
    assert predict(r.power, np.array([50.0]))[0] == pytest.approx(a - b * 50 ** (-c), abs=1e-6)


def test_noisy_power_law_wins_by_aic_and_stays_close():
    rng = np.random.default_rng(0)
    n = np.arange(1, 301)
    r = fit_power_law(list(0.9 - 0.3 * n ** -0.4 + rng.normal(0, 0.002, n.size)))
    assert r.best_by_aic == "power"
    assert {f.model for f in r.rivals} == {"log", "exponential"}
    assert all(r.power.aic < f.aic for f in r.rivals)
    assert r.power.params["c"] == pytest.approx(0.4, abs=0.03)


def test_exponential_data_prefers_the_exponential():
    n = np.arange(1, 101)
    r = fit_power_law(list(0.9 - 0.4 * np.exp(-0.08 * n)))
    assert r.best_by_aic == "exponential"


def test_asymptote_above_the_metric_maximum_is_flagged():
    n = np.arange(1, 151)
    r = fit_power_law(list(1.031 - 0.077 * n ** -0.106))  # the reference study's own fit
    assert r.asymptote_above_max and r.a == pytest.approx(1.031, abs=1e-6)
    assert "exceeds the metric's maximum" in r.flag_text()


def test_leading_missing_values_are_skipped_and_shuffles_give_a_baseline():
    rng = np.random.default_rng(3)
    values = list(rng.uniform(0.3, 0.9, 60))
    from archsearch.analysis.best_at_n import running_best

    best = [None, None, *running_best(values)]
    r = fit_power_law(best, values=values, shuffles=5, seed=1)
    assert r.n == 60 and r.shuffles == 5 and 0.0 < r.shuffled_r2 <= 1.0
    assert r == fit_power_law(best, values=values, shuffles=5, seed=1)  # deterministic


@pytest.mark.parametrize("curve,reason", [([0.5, 0.6, 0.7], "fewer than"), ([None] * 10, "fewer than"),
                                          ([0.7] * 20, "never improved")])
def test_degenerate_curves(curve, reason):
    r = fit_power_law(curve)
    assert isinstance(r, NotEnoughData) and reason in r.reason
