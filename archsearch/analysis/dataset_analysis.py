"""Every analysis of one dataset's leaderboard rows, as one DatasetAnalysis (numbers only, no text).

Why a module of its own: the report renders these numbers twice (file and UI markdown) and
the plots test reads them directly, so computing them is kept apart from presenting them.
Validation mAP (METRIC) drives everything that ranks or compares; test mAP enters only as the
test score of the val-selected best config and a descriptive η² (see report.py).
The input is a leaderboard frame: archsearch's own (`table.leaderboard_frame`) or one read from
another system's search log (`search_log.read_search_log`); both have the same columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from archsearch.analysis.anova import AnovaSummary, OneWay, anova_summary, one_way
from archsearch.analysis.base import NotEnoughData
from archsearch.analysis.best_at_n import METHODS, Curve, best_at_n
from archsearch.analysis.diversity import EntropyTimeline, JsdTimeline, diversity
from archsearch.analysis.powerlaw import PowerLawResult, fit_power_law
from archsearch.analysis.table import cell_labels, ok_rows, space_dims

METRIC = "val_map"


@dataclass(frozen=True)
class Settings:
    """Knobs of the statistics; the report prints them so a reader can reproduce every number."""

    seed: int = 0
    interval: str = "t"  # best-at-N interval over campaigns: "t" (default) or "bootstrap" (see best_at_n)
    boot: int = 1000  # bootstrap resamples of campaigns (best-at-N, interval="bootstrap" only)
    draws: int = 200  # balanced ANOVA subsamples
    shuffles: int = 20  # shuffled orders for the power law's baseline R²
    level: float = 0.95
    window: int | None = None  # entropy/JSD window (None: the scaling default)
    step: int | None = None
    metric_max: float = 1.0

    def __post_init__(self) -> None:
        if self.interval not in METHODS:
            raise ValueError(f"Settings.interval must be one of {METHODS}, got {self.interval!r}")


@dataclass(frozen=True)
class DatasetAnalysis:
    """Every analysis of one dataset's results."""

    dataset: str
    n_results: int
    n_ok: int
    cell_dims: tuple[str, ...]  # the cells of entropy, JSD and the winner (backbone×encoder)
    anova: AnovaSummary
    anova_test: OneWay | NotEnoughData  # descriptive only
    curves: dict[str, Curve | NotEnoughData]
    fits: dict[str, PowerLawResult | NotEnoughData]
    entropy: dict[str, EntropyTimeline | NotEnoughData]
    jsd: dict[tuple[str, str], JsdTimeline | NotEnoughData]
    best: dict | None  # the val-selected best run, with its test mAP
    best_per_agent: dict[str, dict]
    winner: dict | None  # cell with the highest mean val mAP


def _best_row(ok: pl.DataFrame) -> dict | None:
    if ok.height == 0:
        return None
    return ok.sort([METRIC, "order_time", "config_id"], descending=[True, False, False]).row(0, named=True)


def _winner(ok: pl.DataFrame, dims: tuple[str, ...]) -> dict | None:
    """The cell with the highest mean val mAP among cells with >= 2 ok runs (else any cell), with its n."""
    if ok.height == 0 or not dims:
        return None
    agg = (
        ok.with_columns(pl.Series("cell", cell_labels(ok, dims)))
        .group_by("cell")
        .agg(pl.col(METRIC).mean().alias("mean"), pl.len().alias("n"))
    )
    pool = agg.filter(pl.col("n") >= 2)
    note = "" if pool.height else "no cell has 2 runs yet: ranked on single runs"
    r = (pool if pool.height else agg).sort(["mean", "cell"], descending=[True, False]).row(0, named=True)
    return {"cell": r["cell"], "mean": r["mean"], "n": r["n"], "note": note}


def analyse_dataset(frame: pl.DataFrame, dataset: str, space=None, settings: Settings = Settings()) -> DatasetAnalysis:
    """All analyses on one dataset's leaderboard rows."""
    s = settings
    arch, train = space_dims(space, frame.columns)
    cells = tuple(arch[:2]) if len(arch) >= 2 else tuple(arch)
    ok = ok_rows(frame)
    summary = anova_summary(frame, arch, train, metric=METRIC, draws=s.draws, seed=s.seed)
    ok_test = ok_rows(frame, "test_map")
    anova_test = (
        one_way(ok_test["test_map"].to_numpy(), cell_labels(ok_test, arch), "×".join(arch))
        if ok_test.height and arch
        else NotEnoughData("one-way ANOVA on test mAP", "no finished runs", 0)
    )
    curves = best_at_n(frame, METRIC, method=s.interval, level=s.level, boot=s.boot, seed=s.seed)
    fits: dict[str, PowerLawResult | NotEnoughData] = {}
    for agent, c in curves.items():
        if isinstance(c, Curve):
            raw = ok.filter(pl.col("agent") == agent)[METRIC].to_list() if len(c.campaigns) == 1 else None
            fits[agent] = fit_power_law(
                c.mean, metric_max=s.metric_max, values=raw, shuffles=s.shuffles if raw else 0, seed=s.seed
            )
        else:
            fits[agent] = c
    entropy, jsd = diversity(frame, cells, train, window=s.window, step=s.step)
    best = _best_row(ok)
    per_agent = {
        a: b for a in sorted(ok["agent"].unique().to_list()) if (b := _best_row(ok.filter(pl.col("agent") == a)))
    }
    return DatasetAnalysis(
        dataset=dataset,
        n_results=frame.height,
        n_ok=ok.height,
        cell_dims=cells,
        anova=summary,
        anova_test=anova_test,
        curves=curves,
        fits=fits,
        entropy=entropy,
        jsd=jsd,
        best=best,
        best_per_agent=per_agent,
        winner=_winner(ok, cells),
    )


def analyse(frame: pl.DataFrame, space=None, settings: Settings = Settings()) -> dict[str, DatasetAnalysis]:
    """One DatasetAnalysis per dataset in a leaderboard frame (sorted by dataset name)."""
    names = sorted(frame["dataset"].fill_null("").unique().to_list()) if frame.height else []
    return {d: analyse_dataset(frame.filter(pl.col("dataset").fill_null("") == d), d, space, settings) for d in names}
