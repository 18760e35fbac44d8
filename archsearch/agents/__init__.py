"""Search agents: offline ones (random, TPE, architecture-first) by name here, LLM agents in ``llm``.

Every agent maps (history of AgentViews -- validation metrics only --, space, n, rng) to up to ``n``
new, distinct configs with a rationale; see :mod:`archsearch.agents.base` for the shared rules.
``log`` is the agent log: one JSON file per LLM call, written by the LLM agents, read by the campaign.
"""

from __future__ import annotations

from typing import Any

from archsearch.agents.architecture_first import ArchitectureFirstAgent
from archsearch.agents.base import Agent, AgentProposal, PastProposal, RoundContext
from archsearch.agents.log import AgentCall, AgentLog, AgentLogError, redact
from archsearch.agents.random_agent import RandomAgent
from archsearch.agents.tpe import TPEAgent

AGENTS: dict[str, type[Agent]] = {
    RandomAgent.name: RandomAgent,
    TPEAgent.name: TPEAgent,
    ArchitectureFirstAgent.name: ArchitectureFirstAgent,
}


def make_agent(name: str, **options: Any) -> Agent:
    """An agent by registry name with its options, e.g. ``make_agent("architecture_first", budget=50)``."""
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; known agents: {sorted(AGENTS)}")
    try:
        return AGENTS[name](**options)
    except TypeError as exc:
        raise ValueError(f"agent {name!r}: bad options {sorted(options)}: {exc}") from exc


__all__ = [
    "AGENTS",
    "Agent",
    "AgentCall",
    "AgentLog",
    "AgentLogError",
    "AgentProposal",
    "ArchitectureFirstAgent",
    "PastProposal",
    "RandomAgent",
    "RoundContext",
    "TPEAgent",
    "make_agent",
    "redact",
]
