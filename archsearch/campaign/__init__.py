"""Search campaigns: agents with shares take rounds on one leaderboard, within budgets.

``proposals`` stores what an agent asked to run (the source of truth of every experiment
partition); ``schedule`` says which agent gets round r; ``space`` is the campaign's sub-space;
``agents`` builds the round's agent; ``rounds`` runs one round under the campaign's round lock;
``commit`` publishes it all or nothing; ``status`` reports progress, budget and the circuit breaker;
``store`` keeps round records, campaign state and the lock. Plain Python, no Dagster: the
``proposals`` asset and the ``agent_sensor`` are thin wrappers.
"""

from archsearch.campaign.agents import CampaignError, active_shares, build_agent
from archsearch.campaign.proposals import (
    KEY_SEP,
    Proposal,
    ProposalError,
    ProposalStore,
    experiment_key,
    parse_experiment_key,
)
from archsearch.campaign.rounds import RoundReport, run_round
from archsearch.campaign.schedule import pick_agent
from archsearch.campaign.space import campaign_space, restrict_backbones
from archsearch.campaign.status import BreakerState, CampaignStatus, breaker_state, campaign_status, reset_breaker
from archsearch.campaign.store import CampaignFiles, RoundBusyError

__all__ = [
    "KEY_SEP",
    "BreakerState",
    "CampaignError",
    "CampaignFiles",
    "CampaignStatus",
    "Proposal",
    "ProposalError",
    "ProposalStore",
    "RoundBusyError",
    "RoundReport",
    "active_shares",
    "breaker_state",
    "build_agent",
    "campaign_space",
    "campaign_status",
    "experiment_key",
    "parse_experiment_key",
    "pick_agent",
    "reset_breaker",
    "restrict_backbones",
    "run_round",
]
