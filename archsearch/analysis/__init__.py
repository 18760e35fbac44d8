"""The study's analyses: leaderboard, ANOVA, best-at-N, power law, entropy, JSD, and the report built from them.

Pure functions over polars frames and plain sequences; no Dagster. Each module does one analysis
and returns a result object or a `NotEnoughData` (never NaN, never a crash on a young campaign).
scipy and matplotlib are imported inside the functions that use them; statsmodels serves the tests
as an oracle.

Entry points that take plain data, so studies archsearch did not run can be checked too:
`one_way_from_summaries` (a published table of n, mean, sd), `two_way`, `best_so_far` (scores
in proposal order, at any N), `fit_power_law` / `score_power_law`, and `analyze_log` (a CSV or
Parquet search log of another system -> the same report as archsearch's own results).
"""

from archsearch.analysis.anova import one_way, one_way_from_summaries
from archsearch.analysis.base import NotEnoughData
from archsearch.analysis.best_at_n import CurvePoint, best_so_far
from archsearch.analysis.interval_coverage import interval_coverage
from archsearch.analysis.powerlaw import fit_power_law, score_power_law
from archsearch.analysis.report import Report, Settings, analyse, build_report, write_report
from archsearch.analysis.search_log import SearchLog, analyze_log, log_report, read_search_log
from archsearch.analysis.table import leaderboard_frame, space_dims, status_counts, top_markdown
from archsearch.analysis.two_way import two_way

__all__ = [
    "CurvePoint",
    "NotEnoughData",
    "Report",
    "SearchLog",
    "Settings",
    "analyse",
    "analyze_log",
    "best_so_far",
    "build_report",
    "fit_power_law",
    "interval_coverage",
    "leaderboard_frame",
    "log_report",
    "one_way",
    "one_way_from_summaries",
    "read_search_log",
    "score_power_law",
    "space_dims",
    "status_counts",
    "top_markdown",
    "two_way",
    "write_report",
]
