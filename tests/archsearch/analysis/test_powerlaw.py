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
    r = fit_power_law(list(0.9 - 0.3 * n**-0.4 + rng.normal(0, 0.002, n.size)))
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
    r = fit_power_law(list(1.031 - 0.077 * n**-0.106))  # the reference study's own fit
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


@pytest.mark.parametrize(
    "curve,reason", [([0.5, 0.6, 0.7], "fewer than"), ([None] * 10, "fewer than"), ([0.7] * 20, "never improved")]
)
def test_degenerate_curves(curve, reason):
    r = fit_power_law(curve)
    assert isinstance(r, NotEnoughData) and reason in r.reason


def test_aic_and_bic_equal_statsmodels_ols_on_the_log_rival():
    """The log rival α + β·ln N is a linear model: statsmodels' OLS .aic/.bic/.llf are the oracle."""
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    n = np.arange(1, 81)
    y = 0.5 + 0.05 * np.log(n) + rng.normal(0, 0.01, n.size)
    r = fit_power_law(list(y))
    (log,) = [f for f in r.rivals if f.model == "log"]
    ols = sm.OLS(y, sm.add_constant(np.log(n))).fit()
    assert log.loglik == pytest.approx(ols.llf, rel=1e-9)
    assert log.aic == pytest.approx(ols.aic, rel=1e-9) and log.bic == pytest.approx(ols.bic, rel=1e-9)


def test_gaussian_loglik_is_the_sum_of_normal_log_densities_at_the_mle_variance():
    from scipy import stats

    from archsearch.analysis.information import aic, bic, gaussian_loglik

    resid = np.random.default_rng(2).normal(0, 0.3, 40)
    rss = float(np.sum(resid**2))
    expected = float(np.sum(stats.norm.logpdf(resid, scale=np.sqrt(rss / resid.size))))
    assert gaussian_loglik(rss, resid.size) == pytest.approx(expected, rel=1e-12)
    assert aic(rss, 40, 3) == pytest.approx(-2 * expected + 6) and bic(rss, 40, 3) == pytest.approx(
        -2 * expected + 3 * np.log(40)
    )


def test_a_fit_on_a_parameter_bound_is_flagged():
    """A best-so-far that climbs steadily pushes a to its upper bound (the demo printed a = 10.8 silently)."""
    n = np.arange(1, 61)
    r = fit_power_law(list(np.minimum(0.5 + 0.01 * n, 0.8)))
    assert r.on_bound and r.power.at_bound == ("a",)
    assert r.a == pytest.approx(0.8 + 10.0, abs=1e-3)
    assert "on its upper bound" in r.power.bound_text() and "ended on a parameter bound" in r.flag_text()


def test_scoring_given_parameters_on_a_curve():
    from archsearch.analysis.powerlaw import score_power_law

    rng = np.random.default_rng(4)
    n = np.arange(1, 121)
    curve = list(0.9 - 0.3 * n**-0.4 + rng.normal(0, 0.003, n.size))
    fitted = fit_power_law(curve).power
    given = score_power_law(curve, fitted.params["a"], fitted.params["b"], fitted.params["c"])
    for field in ("rss", "r2", "aic", "bic", "loglik", "n", "k"):
        assert getattr(given, field) == pytest.approx(getattr(fitted, field), rel=1e-9), field
    worse = score_power_law(curve, 1.031, 0.077, 0.106)  # the reference study's published parameters
    assert worse.rss > fitted.rss and worse.aic > fitted.aic and worse.r2 < fitted.r2
    at = score_power_law([0.5, None, 0.7], 0.8, 0.3, 1.0, ns=[1, 5, 10])  # arbitrary N; missing points skipped
    assert at.n == 2 and at.rss == pytest.approx((0.5 - 0.5) ** 2 + (0.7 - (0.8 - 0.3 * 10**-1.0)) ** 2)
    assert isinstance(score_power_law([None], 1, 1, 1), NotEnoughData)
    with pytest.raises(ValueError, match="N values"):
        score_power_law([0.5, 0.6], 1, 1, 1, ns=[1])
