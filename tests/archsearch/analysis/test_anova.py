"""One-way ANOVA against statsmodels' anova_lm and scipy (the oracles), from raw runs and from group summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.anova import anova_lm

from archsearch.analysis.anova import Balanced, OneWay, balanced_one_way, one_way, one_way_from_summaries
from archsearch.analysis.base import NotEnoughData
from archsearch.analysis.two_way import TwoWay, two_way


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
    assert r.omega2 == pytest.approx(max(0.0, (ss_b - table.loc["C(g)", "df"] * ms_w) / (ss_b + ss_w + ms_w)), abs=1e-9)
    assert 0.0 < r.omega2 < r.eta2 < 1.0


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


@pytest.mark.parametrize(
    "values,groups,reason",
    [
        ([0.5, 0.6], ["a", "b"], "fewer than 3"),
        ([0.5, 0.6, 0.7, 0.8], ["a"] * 4, "only one group"),
        ([0.5, 0.5, 0.5, 0.5], ["a", "a", "b", "b"], "all values are equal"),
        ([0.1, 0.2, 0.3], ["a", "b", "c"], "within-group variance"),
    ],
)
def test_degenerate_one_way_says_not_enough_data(values, groups, reason):
    r = one_way(values, groups)
    assert isinstance(r, NotEnoughData) and reason in r.reason and "not enough data" in str(r)


def test_degenerate_balanced_and_two_way():
    assert isinstance(balanced_one_way([0.1, 0.2, 0.3], ["a", "a", "b"]), NotEnoughData)
    assert isinstance(two_way([0.1, 0.2, 0.3, 0.4], ["a"] * 4, ["p", "q"] * 2), NotEnoughData)


def test_omega_squared_of_an_effect_smaller_than_its_noise_is_clipped_to_zero():
    y = [0.50, 0.70, 0.52, 0.68, 0.51, 0.69]  # three groups with nearly equal means, large spread inside
    r = one_way(y, ["a", "a", "b", "b", "c", "c"])
    raw = (r.ss_between - r.df_between * r.ss_within / r.df_within) / (
        r.ss_between + r.ss_within + r.ss_within / r.df_within
    )
    assert raw < 0 and r.omega2 == 0.0 and 0.0 <= r.eta2 <= 1.0


def summaries(y: np.ndarray, g: np.ndarray, ddof: int) -> tuple[list[int], list[float], list[float | None]]:
    labels = sorted(set(g.tolist()))
    n = [int(np.sum(g == lv)) for lv in labels]
    mean = [float(y[g == lv].mean()) for lv in labels]
    sd = [float(y[g == lv].std(ddof=ddof)) if k > ddof else None for lv, k in zip(labels, n, strict=True)]
    return n, mean, sd


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=1, max_size=6),
    ddof=st.sampled_from([0, 1]),
    ties=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_summaries_give_the_raw_data_anova_and_scipy_f_oneway(sizes, ddof, ties, seed):
    rng = np.random.default_rng(seed)
    g = np.concatenate([[f"c{i}"] * k for i, k in enumerate(sizes)])
    y = rng.integers(0, 2, g.size).astype(float) if ties else rng.normal(0, 1, g.size) + 0.3 * (g == "c0")
    raw = one_way(y, g)
    from_sums = one_way_from_summaries(*summaries(y, g, ddof), ddof=ddof, labels=sorted(set(g.tolist())))
    assert type(raw) is type(from_sums)
    if isinstance(raw, NotEnoughData):
        assert raw.reason == from_sums.reason
        return
    for field in ("n", "k", "df_between", "df_within"):
        assert getattr(raw, field) == getattr(from_sums, field)
    for field in ("ss_between", "ss_within", "f", "p", "eta2", "omega2"):
        assert getattr(from_sums, field) == pytest.approx(getattr(raw, field), rel=1e-9, abs=1e-12), field
    with np.errstate(all="ignore"):
        ref = stats.f_oneway(*[y[g == lv] for lv in sorted(set(g.tolist()))])
    # scipy can return F = -1e-32 (rounding) with p = nan when the groups' means are equal: that is F = 0, p = 1.
    ref_f, ref_p = (0.0, 1.0) if ref.statistic <= 0 else (ref.statistic, ref.pvalue)
    assert raw.f == pytest.approx(ref_f, rel=1e-9) and raw.p == pytest.approx(ref_p, rel=1e-7, abs=1e-15)


def test_summaries_reject_bad_tables_with_the_group_named():
    with pytest.raises(ValueError, match="one length"):
        one_way_from_summaries([3, 3], [0.1], [0.2, 0.2])
    with pytest.raises(ValueError, match=r"group 1 \(b\) with n = 4 needs a finite sd"):
        one_way_from_summaries([3, 4], [0.1, 0.2], [0.2, None], labels=["a", "b"])
    with pytest.raises(ValueError, match="integer >= 1"):
        one_way_from_summaries([3, 0], [0.1, 0.2], [0.2, 0.1])
    with pytest.raises(ValueError, match="sd >= 0"):
        one_way_from_summaries([3, 3], [0.1, 0.2], [0.2, -0.1])
    assert one_way_from_summaries([1, 4], [0.1, 0.3], [None, 0.05]).df_within == 3  # a singleton needs no sd
