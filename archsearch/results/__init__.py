"""Experiment results: one immutable record per (campaign, config, seed), a store of them, and the agents' view.

Leakage is impossible by construction, not by discipline: test metrics live only in
``ExperimentResult.test``, and what agents receive is a different type, ``AgentView``, which has no
test field at all. ``records`` holds the record type and its checks, ``view`` the agents' view, and
``store`` the atomic one-file-per-result JSON store, read as a polars table.
"""

from __future__ import annotations

from archsearch.results.records import (
    HISTORY_KEYS,
    MAX_ERROR_CHARS,
    SCHEMA_VERSION,
    STATUSES,
    ExperimentResult,
    ResultsStoreError,
    SplitMetrics,
    check_name,
    history_entry,
    utc_now,
)
from archsearch.results.store import ResultsStore, flat_row
from archsearch.results.view import AGENT_ERROR_CHARS, AgentView, HistoryEntry, format_agent_history, to_agent_view

__all__ = [
    "AGENT_ERROR_CHARS",
    "HISTORY_KEYS",
    "MAX_ERROR_CHARS",
    "SCHEMA_VERSION",
    "STATUSES",
    "AgentView",
    "ExperimentResult",
    "HistoryEntry",
    "ResultsStore",
    "ResultsStoreError",
    "SplitMetrics",
    "check_name",
    "flat_row",
    "format_agent_history",
    "history_entry",
    "to_agent_view",
    "utc_now",
]
