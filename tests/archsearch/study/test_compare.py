"""Differences between agents: paired when seeds pair, Welch otherwise, checked against statsmodels, and their
coverage measured by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from archsearch.study import (
    DOES_NOT_HOLD,
    HOLDS,
    INCONCLUSIVE,
    difference,
    difference_coverage,
    difference_verdict,
    verdict,
)
from archsearch.study.compare import EXACT, PAIRED, WELCH, expected_best_of


def test_same_seeds_pair_and_match_statsmodels_paired_interval():
    rng = np.random.default_rng(1)
    a = {s: 0.7 + rng.normal(0, 0.05) for s in range(6)}
    b = {s: a[s] - 0.02 + rng.normal(0, 0.01) for s in range(6)}
    d = difference(a, b, names=("tpe", "random"))
    oracle = DescrStatsW(np.array([a[s] - b[s] for s in range(6)]))
    lo, hi = oracle.tconfint_mean(alpha=0.05)
    assert d.method == PAIRED and d.pairs == 6 and (d.a, d.b) == ("tpe", "random")
    assert d.mean == pytest.approx(oracle.mean) and (d.lo, d.hi) == (pytest.approx(lo), pytest.approx(hi))
    assert d.p == pytest.approx(oracle.ttest_mean(0)[1])
    assert "paired t, 6 pairs" in d.text()


@pytest.mark.parametrize("b_seeds", [range(10, 14), range(1, 5), range(0, 7)])
def test_seeds_that_do_not_pair_use_welch_as_statsmodels_does(b_seeds):
    rng = np.random.default_rng(2)
    a = {s: rng.normal(0.7, 0.05) for s in range(5)}
    b = {s: rng.normal(0.65, 0.1) for s in b_seeds}
    d = difference(a, b)
    xa, xb = np.array(list(a.values())), np.array(list(b.values()))
    cm = CompareMeans(DescrStatsW(xa), DescrStatsW(xb))
    lo, hi = cm.tconfint_diff(alpha=0.05, usevar="unequal")
    assert d.method == WELCH and d.pairs == 0 and (d.k_a, d.k_b) == (5, len(b_seeds))
    assert d.mean == pytest.approx(xa.mean() - xb.mean()) and (d.lo, d.hi) == (pytest.approx(lo), pytest.approx(hi))


def test_missing_values_drop_campaigns_and_break_the_pairing():
    a = {0: 0.7, 1: 0.72, 2: None, 3: 0.69}
    b = {0: 0.6, 1: 0.61, 2: 0.62, 3: float("nan")}
    d = difference(a, b)
    assert d.method == WELCH and (d.k_a, d.k_b) == (3, 3)
    assert difference(a, b, pair=False).method == WELCH


def test_degenerate_inputs_say_so():
    exact = difference({0: 1.0, 1: 2.0}, {0: 0.5, 1: 1.5})
    assert exact.method == EXACT and (exact.lo, exact.mean, exact.hi) == (0.5, 0.5, 0.5)
    flat = difference({0: 3.0, 1: 3.0}, {5: 1.0, 6: 1.0, 7: 1.0})
    assert flat.method == EXACT and flat.lo == flat.hi == 2.0
    one = difference({0: 0.7}, {1: 0.6})
    assert one.mean == pytest.approx(0.1) and not one.has_ci and "Welch needs >= 2" in one.note
    none = difference({}, {1: 0.6})
    assert none.mean is None and "no campaign" in none.text()


def test_verdicts_follow_the_interval_only():
    assert verdict(0.01, 0.2) == HOLDS
    assert verdict(-0.2, -0.01) == DOES_NOT_HOLD and verdict(-0.2, 0.0) == DOES_NOT_HOLD
    assert verdict(-0.01, 0.2) == INCONCLUSIVE and verdict(None, None) == INCONCLUSIVE
    assert verdict(0.55, 0.7, 0.5) == HOLDS and verdict(0.4, 0.6, 0.5) == INCONCLUSIVE


def test_expected_best_matches_a_monte_carlo_estimate():
    rng = np.random.default_rng(0)
    mc = rng.beta(2, 5, size=(40000, 10)).max(axis=1).mean()
    assert expected_best_of(10, (2.0, 5.0)) == pytest.approx(mc, abs=0.003)


@pytest.mark.parametrize("paired", [True, False])
@pytest.mark.parametrize("k", [3, 5])
def test_difference_intervals_cover_at_small_k(k, paired):
    """The 95 % interval holds the true difference >= 93 % of the time with 3 and 5 campaigns per agent."""
    c = difference_coverage(k, paired=paired, reps=2000, seed=k)
    assert c.reps == 2000 and c.truth > 0
    assert c.coverage >= 0.93, f"k={k} paired={paired}: coverage {c.coverage:.3f} ± {c.se:.3f}"
    assert c.coverage <= 0.98, "an interval that always covers is too wide to be the t interval"


def test_coverage_needs_two_campaigns():
    with pytest.raises(ValueError, match="k >= 2"):
        difference_coverage(1)


def test_a_spread_free_difference_needs_five_agreeing_units_for_a_verdict():
    zero = {s: 0.0 for s in range(5)}
    assert difference_verdict(difference(zero, zero)) == DOES_NOT_HOLD, "5 of 5 campaigns: no excess"
    few = {s: 0.0 for s in range(2)}
    assert difference_verdict(difference(few, few)) == INCONCLUSIVE, "two campaigns are no evidence"
    ones = {s: 1.0 for s in range(6)}
    assert difference_verdict(difference(ones, zero | {5: 0.0})) == HOLDS
    noisy = difference({s: 0.1 * s for s in range(5)}, zero)
    assert difference_verdict(noisy) == verdict(noisy.lo, noisy.hi)
    assert difference_verdict(difference({}, zero)) == INCONCLUSIVE
