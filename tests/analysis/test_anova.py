"""ANOVA against statsmodels' anova_lm (the oracle), and degenerate inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.anova import anova_lm

from archsearch.analysis.anova import Balanced, OneWay, TwoWay, balanced_one_way, one_way, two_way
from archsearch.analysis.base import NotEnoughData


def _data(sizes, seed=0):
    rng = np.random.default_rng(seed)
    g = np.concatenate([[f"c{i}"] * n for i, n in enumerate(sizes)])
    effects = {f"c{i}": 0.1 * i for i in range(len(sizes))}
    y = np.array([effects[x] for x in g]) + rng.normal(0, 0.2, len(g))
    return y, g


@pytest.mark.parametrize("sizes", [(8, 8, 8, 8), (3, 40, 7, 2, 15)], ids=["balanced", "unbalanced"])
def test_one_way_equals_statsmodels(sizes):
    y, g = _data(sizes)
    table = anova_lm(smf.ols("y ~ C(g)", data=pd.DataFrame({"y": y, "g": g})).fit(), typ=1)
    ss_b, ss_w = table.loc["C(g)", "sum_sq"], table.loc["Residual", "sum_sq"]
    r = one_way(y, g)
    assert isinstance(r, OneWay) and r.k == len(sizes) and r.n == sum(sizes)
    assert r.f == pytest.approx(table.loc["C(g)", "F"], abs=1e-9)
    assert r.p == pytest.approx(table.loc["C(g)", "PR(>F)"], abs=1e-9)
    assert r.eta2 == pytest.approx(ss_b / (ss_b + ss_w), abs=1e-9)
    ms_w = ss_w / table.loc["Residual", "df"]
    assert r.omega2 == pytest.approx((ss_b - table.loc["C(g)", "df"] * ms_w) / (ss_b + ss_w + ms_w), abs=1e-9)


def test_two_way_equals_statsmodels_type2_on_unbalanced_data():
    rng = np.random.default_rng(1)
    a = rng.choice(["x", "y", "z"], 90)
    b = rng.choice(["p", "q"], 90)
    y = (a == "x") * 0.3 + (b == "q") * 0.1 + ((a == "z") & (b == "p")) * 0.2 + rng.normal(0, 0.1, 90)
    table = anova_lm(smf.ols("y ~ C(a) * C(b)", data=pd.DataFrame({"y": y, "a": a, "b": b})).fit(), typ=2)
    r = two_way(y, a, b, ("backbone", "encoder"))
    assert isinstance(r, TwoWay) and r.typ == 2
    terms = {t.name: t for t in r.terms}
    total = float(np.sum((y - y.mean()) ** 2))
    for ours, theirs in (("backbone", "C(a)"), ("encoder", "C(b)"), ("backbone:encoder", "C(a):C(b)")):
        assert terms[ours].f == pytest.approx(table.loc[theirs, "F"], abs=1e-9)
        assert terms[ours].p == pytest.approx(table.loc[theirs, "PR(>F)"], abs=1e-9)
        assert terms[ours].eta2 == pytest.approx(table.loc[theirs, "sum_sq"] / total, abs=1e-9)
    assert terms["Residual"].f is None


def test_balanced_variant_removes_the_imbalance_and_is_seeded():
    y, g = _data((3, 60, 5, 2, 30), seed=2)
    r1 = balanced_one_way(y, g, draws=50, seed=7)
    r2 = balanced_one_way(y, g, draws=50, seed=7)
    assert isinstance(r1, Balanced) and r1 == r2
    assert r1.n_per_cell == 2 and r1.cells == 5 and r1.dropped_cells == 0
    assert r1.eta2.lo <= r1.eta2.mean <= r1.eta2.hi
    r3 = balanced_one_way(y, g, draws=50, seed=7, min_cell=3)
    assert r3.n_per_cell == 3 and r3.cells == 4 and r3.dropped_cells == 1


@pytest.mark.parametrize("values,groups,reason", [
    ([0.5, 0.6], ["a", "b"], "fewer than 3"),
    ([0.5, 0.6, 0.7, 0.8], ["a"] * 4, "only one group"),
    ([0.5, 0.5, 0.5, 0.5], ["a", "a", "b", "b"], "all values are equal"),
    ([0.1, 0.2, 0.3], ["a", "b", "c"], "within-group variance"),
])
def test_degenerate_one_way_says_not_enough_data(values, groups, reason):
    r = one_way(values, groups)
    assert isinstance(r, NotEnoughData) and reason in r.reason and "not enough data" in str(r)


def test_degenerate_balanced_and_two_way():
    assert isinstance(balanced_one_way([0.1, 0.2, 0.3], ["a", "a", "b"]), NotEnoughData)
    assert isinstance(two_way([0.1, 0.2, 0.3, 0.4], ["a"] * 4, ["p", "q"] * 2), NotEnoughData)
