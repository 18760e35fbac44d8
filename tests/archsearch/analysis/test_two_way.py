"""Two-way ANOVA on the designs campaigns produce: a nested least-squares oracle written here, statsmodels'
Type II table on complete designs, and property tests over random designs (empty cells, singletons, ties)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.anova import anova_lm

from archsearch.analysis.base import NotEnoughData
from archsearch.analysis.two_way import TwoWay, two_way


def indicators(labels: np.ndarray) -> np.ndarray:
    """Treatment-coded columns of a factor, first level dropped (built independently of the module)."""
    levels = sorted(set(labels.tolist()))
    return (
        np.column_stack([(labels == lv).astype(float) for lv in levels[1:]])
        if len(levels) > 1
        else np.zeros((labels.size, 0))
    )


def fit(design: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """(RSS, rank) of the least-squares fit of y on `design`."""
    beta = np.linalg.pinv(design) @ y
    return float(np.sum((y - design @ beta) ** 2)), int(np.linalg.matrix_rank(design))


def nested_oracle(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict[str, tuple[float, int]]:
    """{term: (SS, df)} for Type II by nested fits; the full model is 1 + A + B + every product A_i·B_j."""
    one = np.ones((y.size, 1))
    xa, xb = indicators(a), indicators(b)
    prods = np.column_stack([xa[:, i] * xb[:, j] for i in range(xa.shape[1]) for j in range(xb.shape[1])])
    rss_a, r_a = fit(np.hstack([one, xa]), y)
    rss_b, r_b = fit(np.hstack([one, xb]), y)
    rss_ab, r_ab = fit(np.hstack([one, xa, xb]), y)
    rss_f, r_f = fit(np.hstack([one, xa, xb, prods]), y)
    return {
        "A": (rss_b - rss_ab, r_ab - r_b),
        "B": (rss_a - rss_ab, r_ab - r_a),
        "A:B": (rss_ab - rss_f, r_f - r_ab),
        "Residual": (rss_f, y.size - r_f),
    }


def design(counts: list[int], na: int, nb: int, seed: int, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of an na × nb design with `counts[i*nb + j]` runs in cell (i, j); values by `mode`."""
    rng = np.random.default_rng(seed)
    a, b = [], []
    for i in range(na):
        for j in range(nb):
            a += [f"a{i}"] * counts[i * nb + j]
            b += [f"b{j}"] * counts[i * nb + j]
    a, b = np.array(a, dtype=object), np.array(b, dtype=object)
    n = len(a)
    effect = rng.normal(0, 1, (na, nb))
    ia = np.array([int(x[1:]) for x in a], dtype=int)
    ib = np.array([int(x[1:]) for x in b], dtype=int)
    if mode == "normal":
        y = effect[ia, ib] + rng.normal(0, 0.5, n) if n else np.zeros(0)
    elif mode == "ties":  # few distinct values: identical runs within cells happen
        y = rng.integers(0, 3, n).astype(float)
    elif mode == "cell_constant":  # every cell holds identical values: zero residual
        y = effect[ia, ib]
    else:
        y = np.full(n, 0.7)
    return y, a.astype(str), b.astype(str)


def check_against_oracle(r: TwoWay, y, a, b):
    oracle = nested_oracle(y, a, b)
    tss = float(np.sum((y - y.mean()) ** 2))
    ss_res, df_res = oracle["Residual"]
    terms = dict(zip(("A", "B", "A:B", "Residual"), r.terms, strict=True))
    for key, (ss, df) in oracle.items():
        t = terms[key]
        assert t.df == df, (key, t, df)
        if df == 0:
            assert not t.estimable and t.f is None and t.p is None and t.note, (key, t)
            continue
        assert t.ss == pytest.approx(max(ss, 0.0), abs=1e-9 * max(tss, 1.0)), key
        if key == "Residual":
            continue
        f = (max(ss, 0.0) / df) / (ss_res / df_res)
        assert t.f == pytest.approx(f, rel=1e-6, abs=1e-9), key
        assert t.p == pytest.approx(stats.f.sf(f, df, df_res), rel=1e-6, abs=1e-12), key
        for share in (t.eta2, t.partial_eta2, t.omega2):
            assert 0.0 <= share <= 1.0, (key, t)


def check_against_statsmodels_type2(r: TwoWay, y, a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = anova_lm(smf.ols("y ~ C(a) * C(b)", data=pd.DataFrame({"y": y, "a": a, "b": b})).fit(), typ=2)
    for t, row in zip(r.terms, ("C(a)", "C(b)", "C(a):C(b)", "Residual"), strict=True):
        assert t.df == table.loc[row, "df"]
        assert t.ss == pytest.approx(table.loc[row, "sum_sq"], rel=1e-6, abs=1e-10)
        if row != "Residual":
            assert t.f == pytest.approx(table.loc[row, "F"], rel=1e-6)
            assert t.p == pytest.approx(table.loc[row, "PR(>F)"], rel=1e-6, abs=1e-12)


@st.composite
def designs(draw):
    na, nb = draw(st.integers(2, 4)), draw(st.integers(2, 4))
    counts = draw(st.lists(st.integers(0, 3), min_size=na * nb, max_size=na * nb))
    mode = draw(st.sampled_from(["normal", "normal", "ties", "cell_constant", "equal"]))
    return design(counts, na, nb, draw(st.integers(0, 2**31 - 1)), mode)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(designs())
def test_random_designs_equal_the_nested_oracle_or_say_why_not(data):
    y, a, b = data
    r = two_way(y, a, b, ("A", "B"))
    n, cells = y.size, len(set(zip(a.tolist(), b.tolist(), strict=True)))
    if isinstance(r, NotEnoughData):
        reason = r.reason
        event(f"not enough data: {reason.split(':')[0].split(',')[0]}")
        if len(set(a.tolist())) < 2 or len(set(b.tolist())) < 2:
            assert "levels" in reason
        elif n - cells < 1:
            assert "saturated" in reason and "no residual degree of freedom" in reason
        elif np.ptp(y) == 0:
            assert "all values are equal" in reason
        else:
            assert "zero residual" in reason and nested_oracle(y, a, b)["Residual"][0] < 1e-20
        return
    assert n - cells >= 1 and r.cells_observed == cells
    event(
        f"tested: {'complete' if r.empty_cells == 0 else 'empty cells'}, "
        f"{sum(not t.estimable for t in r.terms)} term(s) not estimable"
    )
    check_against_oracle(r, y, a, b)
    if cells == len(set(a.tolist())) * len(set(b.tolist())):  # complete design: statsmodels' Type II is right there
        check_against_statsmodels_type2(r, y, a, b)


def test_one_empty_cell_costs_the_interaction_one_degree_of_freedom():
    """statsmodels counts (a−1)(b−1) interaction df from columns; the rank of the design has one fewer."""
    counts = [4, 4, 4, 4, 4, 0]  # 3 backbones × 2 encoders, cell (a2, b1) empty
    y, a, b = design(counts, 3, 2, seed=11, mode="normal")
    r = two_way(y, a, b, ("backbone", "encoder"))
    assert isinstance(r, TwoWay) and r.empty_cells == 1 and r.cells_possible == 6
    inter = r.terms[2]
    assert inter.name == "backbone:encoder" and inter.df == 1
    check_against_oracle(r, y, a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = pd.DataFrame({"y": y, "a": a, "b": b})
        wrong = anova_lm(smf.ols("y ~ C(a) * C(b)", data=data).fit(), typ=2)
        # statsmodels' nested comparison uses the rank (df_resid = n − rank): it agrees with us on the interaction.
        nested = anova_lm(smf.ols("y ~ C(a) + C(b)", data=data).fit(), smf.ols("y ~ C(a) * C(b)", data=data).fit())
    assert wrong.loc["C(a):C(b)", "df"] == 2
    assert nested.loc[1, "df_diff"] == 1
    assert inter.f == pytest.approx(nested.loc[1, "F"], rel=1e-9)
    assert inter.p == pytest.approx(nested.loc[1, "Pr(>F)"], rel=1e-9)


def test_a_tree_of_cells_has_no_estimable_interaction_and_disconnected_cells_confound_a_factor():
    # cells (a0,b0) (a0,b1) (a1,b1): no closed loop, so the additive model fits every cell mean
    y, a, b = design([3, 3, 0, 3], 2, 2, seed=3, mode="normal")
    r = two_way(y, a, b, ("A", "B"))
    assert isinstance(r, TwoWay) and not r.terms[2].estimable and "closed loop" in r.terms[2].note
    assert r.terms[0].estimable and r.terms[1].estimable
    check_against_oracle(r, y, a, b)
    # cells (a0,b0) and (a1,b1) only: A and B are the same split of the runs
    y, a, b = design([3, 0, 0, 3], 2, 2, seed=4, mode="normal")
    r = two_way(y, a, b, ("A", "B"))
    assert [t.estimable for t in r.terms] == [False, False, False, True]
    assert "confounded with B" in r.terms[0].note
    check_against_oracle(r, y, a, b)


@pytest.mark.parametrize(
    "counts,mode,reason",
    [
        ([1, 1, 1, 1, 1, 1], "normal", "saturated"),  # every cell one run
        ([1, 1, 1, 1, 1, 0], "normal", "saturated"),  # 5 runs, 5 cells
        ([2, 2, 2, 2, 2, 2], "cell_constant", "zero residual"),
        ([2, 1, 3, 2, 2, 1], "equal", "all values are equal"),
    ],
)
def test_saturated_and_zero_residual_designs_say_not_enough_data(counts, mode, reason):
    y, a, b = design(counts, 3, 2, seed=5, mode=mode)
    r = two_way(y, a, b)
    assert isinstance(r, NotEnoughData) and reason in r.reason and "not enough data" in str(r)


def test_bad_input_is_an_error_not_a_result():
    with pytest.raises(ValueError, match="finite"):
        two_way([0.1, float("nan"), 0.3, 0.4], list("aabb"), list("pqpq"))
    with pytest.raises(ValueError, match="equal-length"):
        two_way([0.1, 0.2], list("aab"), list("pqp"))
