"""Search campaigns: agents with shares take rounds on one leaderboard, within budgets.

``config`` (the ``campaign:`` section), ``schedule`` (which agent gets round r), ``space`` (the
campaign's sub-space), ``rounds`` (run one round), ``status`` (progress, budget, circuit breaker).
Plain Python, no Dagster: the ``proposals`` asset and the ``agent_sensor`` are thin wrappers.
Only ``config`` is imported eagerly (the project config needs it); the rest on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from archsearch.campaign.config import CampaignConfig, parse_campaign

_LAZY = {
    "run_round": "rounds", "RoundReport": "rounds", "CampaignError": "agents",
    "campaign_status": "status", "CampaignStatus": "status", "BreakerState": "status", "reset_breaker": "status",
    "pick_agent": "schedule", "campaign_space": "space",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"archsearch.campaign.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'archsearch.campaign' has no attribute {name!r}")


__all__ = ["CampaignConfig", "parse_campaign", *_LAZY]
