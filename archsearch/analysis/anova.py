"""How much of the score variance is architecture, how much is training: ANOVA done carefully.

The reference study's headline η² came from an unbalanced one-way ANOVA: cells the agents liked
had hundreds of runs, others a handful, and η² moved from 0.33 to 0.79 with the subset. So we
report, for the same cells:

* the plain one-way ANOVA (F, p, η², ω²; ω² corrects η²'s upward bias for many small cells);
* a balanced variant that subsamples every cell with at least `min_cell` runs to the smallest
  such cell size, repeats that `draws` times with a seeded generator, and reports the mean and a
  95 % percentile interval, so cell-size imbalance cannot drive the number;
* a two-way ANOVA backbone × encoder with interaction through statsmodels, with **Type II** sums
  of squares: with treatment coding (statsmodels' default) Type III main effects are not the
  effects one means, and Type II main effects are the usual choice when the interaction is
  tested too. Unbalanced Type II sums do not add up to the total, so shares are given as η²
  (term / total) and partial η² (term / (term + residual)).

The architecture share is η² of the one-way ANOVA over full architecture cells (every
architecture dimension); the within-architecture share 1 − η² is what training knobs, seeds and
noise explain together (this design cannot split those apart).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from archsearch.analysis.base import NotEnoughData, finite


@dataclass(frozen=True)
class OneWay:
    """A one-way ANOVA of a metric over groups (cells)."""

    factor: str
    n: int
    k: int  # number of groups
    df_between: int
    df_within: int
    ss_between: float
    ss_within: float
    f: float
    p: float
    eta2: float
    omega2: float


@dataclass(frozen=True)
class Interval:
    """A mean over repeated draws and its percentile interval."""

    mean: float
    lo: float
    hi: float


@dataclass(frozen=True)
class Balanced:
    """One-way ANOVA on equal-n subsamples of each cell, repeated; mean and interval of each statistic."""

    factor: str
    n_per_cell: int
    cells: int
    dropped_cells: int  # cells with fewer than min_cell runs, left out
    draws: int
    level: float
    eta2: Interval
    omega2: Interval
    f: Interval
    p: Interval


@dataclass(frozen=True)
class Term:
    name: str
    df: float
    ss: float
    f: float | None
    p: float | None
    eta2: float
    partial_eta2: float | None


@dataclass(frozen=True)
class TwoWay:
    """A two-way ANOVA with interaction from statsmodels' anova_lm (Type II sums of squares)."""

    factors: tuple[str, str]
    n: int
    typ: int
    terms: tuple[Term, ...]  # a, b, a:b, Residual


def one_way(values: Sequence[float], groups: Sequence[Hashable], factor: str = "cell") -> OneWay | NotEnoughData:
    """F, p, η² and ω² of `values` grouped by `groups` (same formulas as statsmodels' anova_lm)."""
    from scipy import stats

    y = np.asarray(values, dtype=float)
    g = list(groups)
    if y.ndim != 1 or len(g) != y.size:
        raise ValueError(f"one_way({factor}): expected equal-length 1-d values and groups, got {y.shape} and {len(g)}")
    what = f"one-way ANOVA over {factor}"
    if y.size < 3:
        return NotEnoughData(what, "fewer than 3 runs", int(y.size))
    if not np.all(np.isfinite(y)):
        raise ValueError(f"one_way({factor}): values must be finite (filter failed runs first)")
    labels, inv = np.unique(np.array([str(x) for x in g]), return_inverse=True)
    k, n = len(labels), y.size
    if k < 2:
        return NotEnoughData(what, f"only one group ({labels[0]})", n)
    if n - k < 1:
        return NotEnoughData(what, f"{k} groups need more than {k} runs to estimate within-group variance", n)
    counts = np.bincount(inv, minlength=k)
    means = np.bincount(inv, weights=y, minlength=k) / counts
    grand = y.mean()
    ss_t = float(np.sum((y - grand) ** 2))
    ss_b = float(np.sum(counts * (means - grand) ** 2))
    ss_w = float(np.sum((y - means[inv]) ** 2))
    if ss_t <= 1e-15 * max(1.0, float(np.sum(y**2))):
        return NotEnoughData(what, "all values are equal", n)
    if ss_w <= 1e-15 * ss_t:
        return NotEnoughData(what, "no variance within groups (every group holds one value)", n)
    df_b, df_w = k - 1, n - k
    ms_w = ss_w / df_w
    f = (ss_b / df_b) / ms_w
    return OneWay(factor=factor, n=n, k=k, df_between=df_b, df_within=df_w, ss_between=ss_b, ss_within=ss_w,
                  f=float(f), p=float(stats.f.sf(f, df_b, df_w)), eta2=ss_b / (ss_b + ss_w),
                  omega2=(ss_b - df_b * ms_w) / (ss_b + ss_w + ms_w))


def balanced_one_way(values: Sequence[float], groups: Sequence[Hashable], factor: str = "cell", *, draws: int = 200,
                     seed: int = 0, min_cell: int = 2, level: float = 0.95) -> Balanced | NotEnoughData:
    """One-way ANOVA on `draws` balanced subsamples: each cell with >= `min_cell` runs cut to the smallest one."""
    if min_cell < 2:
        raise ValueError(f"balanced_one_way: min_cell must be >= 2 (within-cell variance needs 2 runs), got {min_cell}")
    y = np.asarray(values, dtype=float)
    g = np.array([str(x) for x in groups])
    what = f"balanced one-way ANOVA over {factor}"
    labels, counts = np.unique(g, return_counts=True)
    kept = labels[counts >= min_cell]
    if len(kept) < 2:
        return NotEnoughData(what, f"fewer than 2 cells with >= {min_cell} runs", int(y.size))
    m = int(counts[counts >= min_cell].min())
    members = [np.flatnonzero(g == c) for c in kept]
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(draws):
        idx = np.concatenate([rng.choice(ix, size=m, replace=False) for ix in members])
        r = one_way(y[idx], g[idx], factor)
        if isinstance(r, OneWay):
            rows.append((r.eta2, r.omega2, r.f, r.p))
    if not rows:
        return NotEnoughData(what, "every balanced draw was degenerate (no within-cell variance)", int(m * len(kept)))
    a = np.array(rows)
    q = (100 * (1 - level) / 2, 100 * (1 + level) / 2)

    def interval(col: int) -> Interval:
        lo, hi = np.percentile(a[:, col], q)
        return Interval(float(a[:, col].mean()), float(lo), float(hi))

    return Balanced(factor=factor, n_per_cell=m, cells=len(kept), dropped_cells=int(len(labels) - len(kept)),
                    draws=len(rows), level=level, eta2=interval(0), omega2=interval(1), f=interval(2), p=interval(3))


def two_way(values: Sequence[float], a: Sequence[Hashable], b: Sequence[Hashable],
            names: tuple[str, str] = ("backbone", "encoder")) -> TwoWay | NotEnoughData:
    """Two-way ANOVA `y ~ C(a) * C(b)` with Type II sums of squares (see the module docstring for why)."""
    import warnings

    import pandas as pd
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    y = np.asarray(values, dtype=float)
    what = f"two-way ANOVA {names[0]} × {names[1]}"
    data = pd.DataFrame({"y": y, "a": [str(x) for x in a], "b": [str(x) for x in b]})
    na, nb = data["a"].nunique(), data["b"].nunique()
    if na < 2 or nb < 2:
        return NotEnoughData(what, f"needs >= 2 levels of each factor, got {na} {names[0]} and {nb} {names[1]}", len(y))
    n_cells = data.groupby(["a", "b"]).ngroups
    if len(y) - n_cells < 1:
        return NotEnoughData(what, f"{n_cells} observed cells need more runs than that", len(y))
    if float(np.var(y)) == 0.0:
        return NotEnoughData(what, "all values are equal", len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rank-deficient designs (empty cells) warn; NaN terms are handled below
        model = smf.ols("y ~ C(a) * C(b)", data=data).fit()
        table = anova_lm(model, typ=2)
    ss_total = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(table.loc["Residual", "sum_sq"])
    label = {"C(a)": names[0], "C(b)": names[1], "C(a):C(b)": f"{names[0]}:{names[1]}", "Residual": "Residual"}
    terms = []
    for idx, row in table.iterrows():
        ss = finite(row["sum_sq"])
        if ss is None:
            continue  # statsmodels could not estimate this term (an all-empty interaction); say nothing false
        resid = idx == "Residual"
        terms.append(Term(name=label.get(idx, str(idx)), df=float(row["df"]), ss=ss,
                          f=None if resid else finite(row["F"]),
                          p=None if resid else finite(row["PR(>F)"]), eta2=ss / ss_total,
                          partial_eta2=None if resid else ss / (ss + ss_res) if ss + ss_res > 0 else None))
    return TwoWay(factors=names, n=len(y), typ=2, terms=tuple(terms))


@dataclass(frozen=True)
class AnovaSummary:
    """All ANOVAs of one metric on one dataset, and the architecture / training split."""

    metric: str
    n: int
    one_way: dict[str, OneWay | NotEnoughData]  # cells name (e.g. "backbone×encoder") -> result
    balanced: dict[str, Balanced | NotEnoughData]
    two_way: TwoWay | NotEnoughData
    per_dimension: dict[str, OneWay | NotEnoughData]  # each dimension alone
    architecture_cells: str  # which one_way entry is the architecture share

    @property
    def architecture_share(self) -> float | None:
        r = self.one_way.get(self.architecture_cells)
        return r.eta2 if isinstance(r, OneWay) else None

    @property
    def training_share(self) -> float | None:
        s = self.architecture_share
        return None if s is None else 1.0 - s


def anova_summary(frame, arch_dims: Sequence[str], training_dims: Sequence[str] = (), *, metric: str = "val_map",
                  draws: int = 200, seed: int = 0) -> AnovaSummary:
    """Every ANOVA of the issue on the ok runs of `frame` (a leaderboard frame of one dataset)."""
    from archsearch.analysis.table import cell_labels, ok_rows

    ok = ok_rows(frame, metric)
    y = ok[metric].to_numpy()
    arch = [d for d in arch_dims if d in ok.columns]
    cell_defs: list[tuple[str, ...]] = []
    if len(arch) >= 2:
        cell_defs.append(tuple(arch[:2]))
    if len(arch) >= 3:
        cell_defs.append(tuple(arch))
    if not cell_defs and arch:
        cell_defs.append(tuple(arch))
    one, bal = {}, {}
    for dims in cell_defs:
        name = "×".join(dims)
        labels = cell_labels(ok, dims) if ok.height else []
        one[name] = one_way(y, labels, name)
        bal[name] = balanced_one_way(y, labels, name, draws=draws, seed=seed) if ok.height else \
            NotEnoughData(f"balanced one-way ANOVA over {name}", "no finished runs", 0)
    if len(arch) >= 2 and ok.height:
        two = two_way(y, ok[arch[0]].to_list(), ok[arch[1]].to_list(), (arch[0], arch[1]))
    else:
        two = NotEnoughData("two-way ANOVA", f"needs two architecture dimensions and runs; have {arch}", ok.height)
    per_dim = {d: one_way(y, cell_labels(ok, [d]) if ok.height else [], d)
               for d in [*arch, *training_dims] if d in ok.columns}
    arch_name = "×".join(cell_defs[-1]) if cell_defs else ""
    return AnovaSummary(metric=metric, n=ok.height, one_way=one, balanced=bal, two_way=two, per_dimension=per_dim,
                        architecture_cells=arch_name)
