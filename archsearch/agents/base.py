"""What every search agent is: history (validation metrics only) in, new configs with reasons out.

Agents are plain functions of (history, space, n, rng), so a campaign can be replayed offline and
two agents can be compared on the same simulated objective. The shared rules live here, once:

* an agent never proposes a config already in ``history`` (by config id, failed runs included:
  a failure is an answer, re-running it wastes budget) nor the same config twice in one round;
* when fewer than ``n`` new cells exist, it returns what exists (possibly nothing);
* scores come from ``AgentView.val_map`` of ``status == "ok"`` entries; several seeds of one
  config are averaged; failed entries are never scored.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from archsearch.results import AgentView
from archsearch.space import InvalidConfigError, SearchSpace, Value


@dataclass(frozen=True)
class AgentProposal:
    """One config an agent wants run (canonical for the space) and why, in one sentence.

    ``proposed_by`` names the agent that actually chose the config when it is not the agent asked
    (an LLM agent topping a short round up from its fallback); the campaign attributes the
    experiment to it, so every result is credited to the strategy that picked it.
    """

    config: dict
    rationale: str
    proposed_by: str | None = None


@dataclass(frozen=True)
class PastProposal:
    """A proposal of this campaign as an LLM prompt shows it: who asked for what, why, and when."""

    config_id: str
    config: dict
    agent: str
    round: int
    rationale: str = ""


@dataclass(frozen=True)
class RoundContext:
    """What a round knows beyond the results: the campaign, the budget and every proposal so far.

    Offline agents need only the history (proposals still queued arrive there as ``pending``
    AgentViews, so nobody proposes them twice); LLM agents also show the budget and the agents'
    recent proposals in their prompt and stop calling when ``cost_left_usd`` is spent.
    """

    campaign: str = ""
    round: int = 0
    budget_left: int | None = None  # experiments the campaign may still propose
    cost_left_usd: float | None = None  # None: no cost budget
    proposals: tuple[PastProposal, ...] = ()  # every proposal of the campaign, oldest first


class Agent(abc.ABC):
    """A search strategy; subclasses set ``name`` and implement :meth:`propose`."""

    name: str = "agent"

    @abc.abstractmethod
    def propose(
        self,
        history: Sequence[AgentView],
        space: SearchSpace,
        n: int,
        rng: np.random.Generator,
        context: RoundContext | None = None,
    ) -> list[AgentProposal]:
        """Up to ``n`` new, distinct, canonical configs (fewer only when the space runs out)."""

    def drain_calls(self) -> list:
        """Log entries (``archsearch.agents.log.AgentCall``) of the calls made since the last drain.

        Offline agents make no calls; LLM agents return one entry per API call (and per skipped call).
        """
        return []


# ----------------------------------------------------------------------------------------- history


@dataclass(frozen=True)
class Scored:
    """One distinct config of the history with its mean validation mAP over ok seeds."""

    config_id: str
    config: dict[str, Value]
    val_map: float
    n_seeds: int


def canonical_or_none(space: SearchSpace, config: Mapping[str, Any]) -> dict[str, Value] | None:
    """The canonical config, or None when it is not a cell of ``space`` (e.g. from another space)."""
    try:
        return space.canonical(config)
    except InvalidConfigError:
        return None


def seen_ids(history: Sequence[AgentView], space: SearchSpace) -> set[str]:
    """Every config id in the history, ok or failed (the stored id and the recomputed one)."""
    ids = {v.config_id for v in history}
    for v in history:
        c = canonical_or_none(space, v.config)
        if c is not None:
            ids.add(space.config_id(c))
    return ids


def scored(history: Sequence[AgentView], space: SearchSpace) -> list[Scored]:
    """Distinct ok configs with a finite val_map, best first (ties: config id, so order is stable)."""
    sums: dict[str, list] = {}
    for v in history:
        if v.status != "ok" or v.val_map is None or not math.isfinite(v.val_map):
            continue
        c = canonical_or_none(space, v.config)
        if c is None:
            continue
        cid = space.config_id(c)
        entry = sums.setdefault(cid, [c, 0.0, 0])
        entry[1] += float(v.val_map)
        entry[2] += 1
    out = [Scored(cid, c, s / k, k) for cid, (c, s, k) in sums.items()]
    return sorted(out, key=lambda s: (-s.val_map, s.config_id))


# ----------------------------------------------------------------------------------------- sampling


def restrict(space: SearchSpace, fixed: Mapping[str, Value]) -> SearchSpace:
    """The sub-space where each dimension in ``fixed`` has its one given value.

    Config ids do not depend on the space's name, so ids in the sub-space equal ids in ``space``
    and ``sub.sample(rng, k, exclude=seen)`` draws new cells of ``space`` inside the cell.
    """
    raw = space.to_dict()
    for group in raw["groups"].values():
        for dim in group:
            if dim in fixed:
                group[dim] = [fixed[dim]]
    raw["defaults"] = {d: fixed.get(d, v) for d, v in raw["defaults"].items()}
    raw["name"] = f"{space.name}-sub"
    return SearchSpace.from_dict(raw, f"{space.source} (restricted to {dict(fixed)})")


def sample_new(space: SearchSpace, rng: np.random.Generator, n: int, exclude: Iterable[str]) -> list[dict[str, Value]]:
    """Up to ``n`` uniform new cells of ``space`` whose ids are not in ``exclude``; fewer if it runs out."""
    exclude = set(exclude)
    if n <= 0:
        return []
    try:
        return space.sample(rng, n, exclude=exclude)
    except ValueError:  # fewer than n free cells: space.sample enumerated them; so do we, and take all
        free = [i for i in range(space.size) if space.config_id(space.config_at(i)) not in exclude]
        order = rng.permutation(len(free))[:n]
        return [space.config_at(free[int(i)]) for i in order]
