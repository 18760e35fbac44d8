"""Two-way ANOVA (backbone × encoder with interaction) that stays correct when cells are empty.

Agents almost never fill every backbone × encoder cell, and statsmodels' `anova_lm(typ=2)` then
counts degrees of freedom from the columns of the design instead of its rank: with one empty
cell the interaction gets one degree of freedom too many and the F tests are wrong. So the
sums of squares here are differences of residual sums of squares of nested least-squares fits
(Type II: each main effect adjusted for the other, the interaction for both), and every degree
of freedom is a difference of model ranks:

    model            rank
    1 + B            b (observed levels of B)
    1 + A            a
    1 + A + B        a + b − c, c = connected components of the graph whose edges are the observed cells
    1 + A + B + A:B  the number of observed cells (the cell-means model)

    SS(A | B)     = RSS(1 + B) − RSS(1 + A + B),      df = rank difference (0: A is confounded with B)
    SS(B | A)     = RSS(1 + A) − RSS(1 + A + B)
    SS(A:B | A,B) = RSS(1 + A + B) − RSS(cells),       df = cells − (a + b − c)
    Residual      = RSS(cells),                        df = n − cells

Each F is (SS / df) / (Residual / df_residual). A term whose df is 0 is not estimable on this
design: it is reported as such with no F, never with a made-up one. On a complete design this
equals statsmodels' Type II table (tested).

Shares: η² = SS / total SS and partial η² = SS / (SS + residual) lie in [0, 1] by construction
(a nested RSS difference is never above the total); ω² = (SS − df·MS_res) / (total + MS_res) is
clipped at 0 (a negative estimate means the effect is smaller than its noise; 0 is the usual
report). Designs with no residual degree of freedom (every observed cell holds one run) or no
residual spread (every cell's runs are identical) give `NotEnoughData` with that reason: an F
against a zero or undefined error term is not a test.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from archsearch.analysis.base import NotEnoughData, is_rounding_noise


@dataclass(frozen=True)
class Term:
    """One row of the ANOVA table; `f`/`p` are None for the residual and for terms that are not estimable."""

    name: str
    df: int
    ss: float | None  # None: not estimable on this design
    f: float | None
    p: float | None
    eta2: float | None
    partial_eta2: float | None
    omega2: float | None = None
    note: str = ""  # why a term is not estimable

    @property
    def estimable(self) -> bool:
        return self.ss is not None


@dataclass(frozen=True)
class TwoWay:
    """A two-way ANOVA with interaction: Type II sums of squares from nested least-squares fits."""

    factors: tuple[str, str]
    n: int
    typ: int
    terms: tuple[Term, ...]  # a, b, a:b, Residual
    cells_observed: int
    cells_possible: int  # levels(a) × levels(b)

    @property
    def empty_cells(self) -> int:
        return self.cells_possible - self.cells_observed


def _rss(design: np.ndarray, y: np.ndarray) -> float:
    """Residual sum of squares of the least-squares fit of y on `design` (rank-deficient designs are fine)."""
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    r = y - design @ beta
    return float(r @ r)


def _components(ia: np.ndarray, ib: np.ndarray, na: int, nb: int) -> int:
    """Connected components of the bipartite graph levels(a) ∪ levels(b) with an edge per observed cell."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = coo_matrix((np.ones(ia.size), (ia, na + ib)), shape=(na + nb, na + nb))
    k, _ = connected_components(edges, directed=False)
    return int(k)


def _dummies(codes: np.ndarray, levels: int) -> np.ndarray:
    """Treatment-coded indicator columns (first level dropped): (n, levels − 1)."""
    return (codes[:, None] == np.arange(1, levels)[None, :]).astype(float)


def _codes(labels: Sequence[Hashable]) -> tuple[np.ndarray, int]:
    names, inv = np.unique(np.array([str(x) for x in labels]), return_inverse=True)
    return inv.astype(int), len(names)


def _term(name: str, ss: float, df: int, tss: float, rss: float, df_res: int, note: str) -> Term:
    from scipy import stats

    if df == 0:
        return Term(name=name, df=0, ss=None, f=None, p=None, eta2=None, partial_eta2=None, note=note)
    ss = max(0.0, ss)  # a nested RSS difference; a negative value is rounding
    ms_res = rss / df_res
    f = (ss / df) / ms_res
    return Term(
        name=name,
        df=df,
        ss=ss,
        f=float(f),
        p=float(stats.f.sf(f, df, df_res)),
        eta2=min(1.0, ss / tss),
        partial_eta2=ss / (ss + rss),
        omega2=max(0.0, (ss - df * ms_res) / (tss + ms_res)),
    )


def two_way(
    values: Sequence[float],
    a: Sequence[Hashable],
    b: Sequence[Hashable],
    names: tuple[str, str] = ("backbone", "encoder"),
) -> TwoWay | NotEnoughData:
    """Two-way ANOVA `y ~ a * b` with Type II sums of squares on any design (see the module docstring)."""
    y = np.asarray(values, dtype=float)
    if y.ndim != 1 or len(a) != y.size or len(b) != y.size:
        raise ValueError(
            f"two_way({names}): expected equal-length 1-d values and factors, got {y.shape}, {len(a)}, {len(b)}"
        )
    if not np.all(np.isfinite(y)):
        raise ValueError(f"two_way({names}): values must be finite (filter failed runs first)")
    what = f"two-way ANOVA {names[0]} × {names[1]}"
    ia, na = _codes(a)
    ib, nb = _codes(b)
    n = int(y.size)
    if na < 2 or nb < 2:
        return NotEnoughData(what, f"needs >= 2 levels of each factor, got {na} {names[0]} and {nb} {names[1]}", n)
    cell_codes, ic = np.unique(ia * nb + ib, return_inverse=True)
    cells = len(cell_codes)
    df_res = n - cells
    if df_res < 1:
        return NotEnoughData(
            what,
            f"saturated design: {n} runs in {cells} observed cells leave no residual degree "
            "of freedom (no cell has a repeated run)",
            n,
        )
    tss = float(np.sum((y - y.mean()) ** 2))
    scale = float(np.max(np.abs(y)))
    if is_rounding_noise(tss, n, scale):
        return NotEnoughData(what, "all values are equal", n)
    cell_means = np.bincount(ic, weights=y) / np.bincount(ic)
    rss_full = float(np.sum((y - cell_means[ic]) ** 2))
    if is_rounding_noise(rss_full, n, scale):
        return NotEnoughData(
            what, "zero residual: every observed cell holds identical values, so F has no error term", n
        )
    one = np.ones((n, 1))
    xa, xb = _dummies(ia, na), _dummies(ib, nb)
    rss_a, rss_b = _rss(np.hstack([one, xa]), y), _rss(np.hstack([one, xb]), y)
    rss_ab = _rss(np.hstack([one, xa, xb]), y)
    rank_ab = na + nb - _components(ia, ib, na, nb)
    inter = f"{names[0]}:{names[1]}"
    terms = (
        _term(
            names[0],
            rss_b - rss_ab,
            rank_ab - nb,
            tss,
            rss_full,
            df_res,
            f"confounded with {names[1]}: the observed cells leave no {names[0]} contrast within {names[1]} levels",
        ),
        _term(
            names[1],
            rss_a - rss_ab,
            rank_ab - na,
            tss,
            rss_full,
            df_res,
            f"confounded with {names[0]}: the observed cells leave no {names[1]} contrast within {names[0]} levels",
        ),
        _term(
            inter,
            rss_ab - rss_full,
            cells - rank_ab,
            tss,
            rss_full,
            df_res,
            "not estimable: the observed cells contain no closed loop of (a, b) pairs, so the additive model already "
            "fits every cell mean",
        ),
        Term(name="Residual", df=df_res, ss=rss_full, f=None, p=None, eta2=rss_full / tss, partial_eta2=None),
    )
    return TwoWay(factors=names, n=n, typ=2, terms=terms, cells_observed=cells, cells_possible=na * nb)
