"""Does the winning architecture change with the dataset? Chosen on half of the campaigns, tested on the other half.

The winner of a variant is its backbone x encoder cell with the highest mean validation mAP among
cells with at least two ok runs. Comparing the winner with another cell on the runs that chose it
flatters the winner (it won partly by luck), so the winner is chosen on the campaigns with even
seeds and compared on those with odd seeds (Welch interval over runs of the two cells).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from archsearch.analysis.table import cell_labels, ok_rows
from archsearch.study.compare import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, Difference, difference, difference_verdict
from archsearch.study.measures import METRIC, cell_values
from archsearch.study.variants import VariantAnalysis

MIN_RUNS = 2


def ranked_cells(frame: pl.DataFrame, dims: tuple[str, ...]) -> list[str]:
    """Cells with >= MIN_RUNS ok runs, best mean validation mAP first (ties by name)."""
    ok = ok_rows(frame, METRIC)
    if ok.height == 0 or not dims:
        return []
    agg = (
        ok.with_columns(pl.Series("cell", cell_labels(ok, dims)))
        .group_by("cell")
        .agg(pl.col(METRIC).mean().alias("mean"), pl.len().alias("n"))
        .filter(pl.col("n") >= MIN_RUNS)
    )
    return agg.sort(["mean", "cell"], descending=[True, False])["cell"].to_list()


def halves(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows of even-seed campaigns, rows of odd-seed campaigns)."""
    even = pl.col("seed") % 2 == 0
    return frame.filter(even), frame.filter(~even)


@dataclass(frozen=True)
class WinnerTest:
    """The winners chosen on even seeds, their comparisons on odd seeds, and the verdict."""

    winners: dict[str, str]
    comparisons: dict[str, Difference]  # variant -> (its winner) - (the other cell) on its odd-seed runs
    verdict: str
    text: str


def _compare(frame: pl.DataFrame, dims: tuple[str, ...], a: str, b: str, level: float) -> Difference:
    return difference(cell_values(frame, a, dims), cell_values(frame, b, dims), names=(a, b), level=level, pair=False)


def winner_test(x: VariantAnalysis, y: VariantAnalysis, level: float = 0.95) -> WinnerTest:
    """Whether x and y crown different backbone x encoder cells, with held-out intervals."""
    dims = x.base.cell_dims
    (x_even, x_odd), (y_even, y_odd) = halves(x.frame), halves(y.frame)
    rx, ry = ranked_cells(x_even, dims), ranked_cells(y_even, dims)
    if not rx or not ry or x_odd.height == 0 or y_odd.height == 0:
        return WinnerTest(
            {},
            {},
            f"not testable here: needs campaigns with even and odd seeds and a cell with "
            f">= {MIN_RUNS} runs on each variant",
            "-",
        )
    wx, wy = rx[0], ry[0]
    if wx != wy:
        cx, cy = _compare(x_odd, dims, wx, wy, level), _compare(y_odd, dims, wy, wx, level)
        both = [difference_verdict(c) for c in (cx, cy)]
        result = HOLDS if both == [HOLDS, HOLDS] else DOES_NOT_HOLD if DOES_NOT_HOLD in both else INCONCLUSIVE
    else:  # the same cell wins both: does it clearly beat each variant's runner-up?
        cx = _compare(x_odd, dims, wx, rx[1], level) if len(rx) > 1 else _missing(wx, level)
        cy = _compare(y_odd, dims, wy, ry[1], level) if len(ry) > 1 else _missing(wy, level)
        result = DOES_NOT_HOLD if [difference_verdict(cx), difference_verdict(cy)] == [HOLDS, HOLDS] else INCONCLUSIVE
    all_runs = {v.dataset: (v.base.winner or {}).get("cell", "-") for v in (x, y)}
    text = (
        f"winner chosen on even seeds: {x.dataset} {wx}, {y.dataset} {wy} (on all runs: "
        f"{x.dataset} {all_runs[x.dataset]}, {y.dataset} {all_runs[y.dataset]}); on odd-seed runs: "
        f"{x.dataset} {cx.a} − {cx.b} {cx.text(3)}; {y.dataset} {cy.a} − {cy.b} {cy.text(3)}"
    )
    return WinnerTest({x.dataset: wx, y.dataset: wy}, {x.dataset: cx, y.dataset: cy}, result, text)


def _missing(cell: str, level: float) -> Difference:
    return Difference(cell, "-", None, None, None, 0, 0, 0, "", level, note="no runner-up cell with enough runs")
