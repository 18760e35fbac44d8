"""How much of the score variance is architecture, how much is training: ANOVA done carefully.

The reference study's headline η² came from an unbalanced one-way ANOVA: cells the agents liked
had hundreds of runs, others a handful, and η² moved from 0.33 to 0.79 with the subset. So we
report, for the same cells:

* the plain one-way ANOVA (F, p, η², ω²; ω² corrects η²'s upward bias for many small cells and
  is clipped at 0: a negative estimate means the effect is smaller than its noise);
* a balanced variant that subsamples every cell with at least `min_cell` runs to the smallest
  such cell size, repeats that `draws` times with a seeded generator, and reports the mean and a
  95 % percentile interval, so cell-size imbalance cannot drive the number;
* a two-way ANOVA backbone × encoder with interaction, Type II, correct on designs with empty
  cells (`two_way`, see there).

The same one-way table can be computed from a published table of group sizes, means and
standard deviations (`one_way_from_summaries`), so another study's numbers can be checked.
Inputs that cannot support a test (one group, all-equal values, no within-group variance) give
`NotEnoughData`; "equal" means equal up to floating-point rounding (`base.is_rounding_noise`).

The architecture share is η² of the one-way ANOVA over full architecture cells (every
architecture dimension); the within-architecture share 1 − η² is what training knobs, seeds and
noise explain together (this design cannot split those apart).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from archsearch.analysis.base import NotEnoughData, is_rounding_noise
from archsearch.analysis.table import cell_labels, ok_rows
from archsearch.analysis.two_way import TwoWay, two_way


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


def one_way(values: Sequence[float], groups: Sequence[Hashable], factor: str = "cell") -> OneWay | NotEnoughData:
    """F, p, η² and ω² of `values` grouped by `groups` (same formulas as statsmodels' anova_lm)."""
    y = np.asarray(values, dtype=float)
    g = list(groups)
    if y.ndim != 1 or len(g) != y.size:
        raise ValueError(f"one_way({factor}): expected equal-length 1-d values and groups, got {y.shape} and {len(g)}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"one_way({factor}): values must be finite (filter failed runs first)")
    labels, inv = np.unique(np.array([str(x) for x in g]), return_inverse=True)
    counts = np.bincount(inv, minlength=len(labels))
    means = np.bincount(inv, weights=y, minlength=len(labels)) / np.maximum(counts, 1)
    ss_w = float(np.sum((y - means[inv]) ** 2)) if y.size else 0.0
    scale = float(np.max(np.abs(y))) if y.size else 0.0
    return _from_sums(counts, means, ss_w, scale, factor, [str(x) for x in labels])


def one_way_from_summaries(
    n: Sequence[int],
    mean: Sequence[float],
    sd: Sequence[float | None],
    *,
    ddof: int = 1,
    factor: str = "group",
    labels: Sequence[str] | None = None,
) -> OneWay | NotEnoughData:
    """One-way ANOVA from per-group summaries: sizes `n`, means `mean`, standard deviations `sd`.

    `sd` is the group's standard deviation computed with `ddof` (1: the sample sd most papers print;
    0: the population sd); the within-group sum of squares is sd² · (n − ddof). A group whose
    n − ddof is 0 contributes no within-group variance and its sd may be None or NaN. This is what
    a published table gives, so a study's ANOVA can be checked without its raw runs.
    """
    ns, ms = np.asarray(n), np.asarray(mean, dtype=float)
    sds = np.array([np.nan if s is None else s for s in sd], dtype=float)
    where = f"one_way_from_summaries({factor})"
    if not (ns.ndim == ms.ndim == sds.ndim == 1 and ns.size == ms.size == sds.size):
        raise ValueError(f"{where}: expected n, mean and sd of one length, got {ns.size}, {ms.size}, {sds.size}")
    if ddof not in (0, 1):
        raise ValueError(f"{where}: ddof must be 0 or 1, got {ddof}")
    if ns.size and (not np.issubdtype(ns.dtype, np.integer) or ns.min() < 1):
        raise ValueError(f"{where}: every n must be an integer >= 1, got {list(n)}")
    names = [str(x) for x in labels] if labels is not None else [f"g{i + 1}" for i in range(ns.size)]
    if len(names) != ns.size:
        raise ValueError(f"{where}: {len(names)} labels for {ns.size} groups")
    dof = ns - ddof
    for i, (name, m, s, d) in enumerate(zip(names, ms, sds, dof, strict=True)):
        if not np.isfinite(m):
            raise ValueError(f"{where}: group {i} ({name}) has a non-finite mean {m}")
        if d > 0 and not (np.isfinite(s) and s >= 0):
            raise ValueError(f"{where}: group {i} ({name}) with n = {ns[i]} needs a finite sd >= 0, got {s}")
    ss_w = float(np.sum(np.where(dof > 0, np.nan_to_num(sds) ** 2 * dof, 0.0)))
    scale = float(np.max(np.abs(ms))) if ms.size else 0.0
    return _from_sums(ns.astype(int), ms, ss_w, scale, factor, names)


def _from_sums(
    counts: np.ndarray, means: np.ndarray, ss_w: float, scale: float, factor: str, labels: list[str]
) -> OneWay | NotEnoughData:
    """The one-way table from group sizes, group means and the within-group sum of squares."""
    from scipy import stats

    what = f"one-way ANOVA over {factor}"
    n, k = int(counts.sum()), len(counts)
    if n < 3:
        return NotEnoughData(what, "fewer than 3 runs", n)
    if k < 2:
        return NotEnoughData(what, f"only one group ({labels[0]})", n)
    if n - k < 1:
        return NotEnoughData(what, f"{k} groups need more than {k} runs to estimate within-group variance", n)
    grand = float(np.sum(counts * means) / n)
    ss_b = float(np.sum(counts * (means - grand) ** 2))
    if is_rounding_noise(ss_b + ss_w, n, scale):
        return NotEnoughData(what, "all values are equal", n)
    if is_rounding_noise(ss_w, n, scale):
        return NotEnoughData(what, "no variance within groups (every group holds one value)", n)
    df_b, df_w = k - 1, n - k
    ms_w = ss_w / df_w
    f = (ss_b / df_b) / ms_w
    return OneWay(
        factor=factor,
        n=n,
        k=k,
        df_between=df_b,
        df_within=df_w,
        ss_between=ss_b,
        ss_within=ss_w,
        f=float(f),
        p=float(stats.f.sf(f, df_b, df_w)),
        eta2=ss_b / (ss_b + ss_w),
        omega2=max(0.0, (ss_b - df_b * ms_w) / (ss_b + ss_w + ms_w)),
    )


def balanced_one_way(
    values: Sequence[float],
    groups: Sequence[Hashable],
    factor: str = "cell",
    *,
    draws: int = 200,
    seed: int = 0,
    min_cell: int = 2,
    level: float = 0.95,
) -> Balanced | NotEnoughData:
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

    return Balanced(
        factor=factor,
        n_per_cell=m,
        cells=len(kept),
        dropped_cells=int(len(labels) - len(kept)),
        draws=len(rows),
        level=level,
        eta2=interval(0),
        omega2=interval(1),
        f=interval(2),
        p=interval(3),
    )


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
        """ω² over the full architecture cells: η² is biased up by about (cells - 1) / (n - 1) when cells
        hold few runs (one run per cell gives η² = 1 whatever the data), ω² corrects that bias."""
        r = self.one_way.get(self.architecture_cells)
        return r.omega2 if isinstance(r, OneWay) else None

    @property
    def training_share(self) -> float | None:
        s = self.architecture_share
        return None if s is None else 1.0 - s


def anova_summary(
    frame: pl.DataFrame,
    arch_dims: Sequence[str],
    training_dims: Sequence[str] = (),
    *,
    metric: str = "val_map",
    draws: int = 200,
    seed: int = 0,
) -> AnovaSummary:
    """Every ANOVA of the issue on the ok runs of `frame` (a leaderboard frame of one dataset)."""
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
        bal[name] = (
            balanced_one_way(y, labels, name, draws=draws, seed=seed)
            if ok.height
            else NotEnoughData(f"balanced one-way ANOVA over {name}", "no finished runs", 0)
        )
    if len(arch) >= 2 and ok.height:
        two = two_way(y, ok[arch[0]].to_list(), ok[arch[1]].to_list(), (arch[0], arch[1]))
    else:
        two = NotEnoughData("two-way ANOVA", f"needs two architecture dimensions and runs; have {arch}", ok.height)
    per_dim = {
        d: one_way(y, cell_labels(ok, [d]) if ok.height else [], d) for d in [*arch, *training_dims] if d in ok.columns
    }
    arch_name = "×".join(cell_defs[-1]) if cell_defs else ""
    return AnovaSummary(
        metric=metric,
        n=ok.height,
        one_way=one,
        balanced=bal,
        two_way=two,
        per_dimension=per_dim,
        architecture_cells=arch_name,
    )
