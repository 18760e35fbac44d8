"""The study's analyses on the results store: leaderboard, ANOVA, best-at-N, power law, entropy, JSD, report.

Pure functions over polars frames and plain sequences; no Dagster. Each module does one analysis
and returns a result object or a `NotEnoughData` (never NaN, never a crash on a young campaign).
scipy, statsmodels and matplotlib are imported inside the functions that use them.
"""

from archsearch.analysis.base import NotEnoughData
from archsearch.analysis.report import Report, Settings, analyse, build_report, write_report
from archsearch.analysis.table import leaderboard_frame, space_dims, status_counts, top_markdown

__all__ = ["NotEnoughData", "Report", "Settings", "analyse", "build_report", "leaderboard_frame", "space_dims",
           "status_counts", "top_markdown", "write_report"]
