"""The baseline every other agent must beat: uniform draws, without replacement, over unrun cells.

"From-scratch random" is the study's N = 50 reference (AP 0.965); drawing without replacement
over the cells not yet in history (failed ones included) makes it the strongest honest random.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from archsearch.agents.base import Agent, AgentProposal, RoundContext, sample_new, seen_ids
from archsearch.results import AgentView
from archsearch.space import SearchSpace


class RandomAgent(Agent):
    """Uniform without replacement over the cells not yet run."""

    name = "random"

    def propose(
        self,
        history: Sequence[AgentView],
        space: SearchSpace,
        n: int,
        rng: np.random.Generator,
        context: RoundContext | None = None,
    ) -> list[AgentProposal]:
        seen = seen_ids(history, space)
        configs = sample_new(space, rng, n, seen)
        why = f"random: uniform draw without replacement over the cells not yet run ({len(history)} in history)"
        return [AgentProposal(config=c, rationale=why) for c in configs]
