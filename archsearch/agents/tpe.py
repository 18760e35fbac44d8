"""A real TPE baseline: optuna's multivariate TPE over the whole categorical space, fed our history.

The study's "TPE" only re-ranked configs from the LLM's own pool, so it could never find what the
LLM missed. Here TPE sees every dimension as a categorical over the space's values and every
completed run (any agent's) as a trial, and proposes freely.

The study is rebuilt from ``history`` on every call (no optuna storage to keep in sync): ok runs
become COMPLETE trials valued by mean val_map, failed runs FAIL trials (TPE ignores them for the
density estimates; the no-repeat rule keeps them from being proposed again). Then ``ask()`` runs
``n`` times; ``constant_liar`` makes the sampler treat the still-running asks as bad, which spreads
a batch out. The sampler seed comes from ``rng``, so the same history and rng state give the same
proposals.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from archsearch.agents.base import Agent, AgentProposal, RoundContext, canonical_or_none, sample_new, scored, seen_ids
from archsearch.results import AgentView
from archsearch.space import SearchSpace


class TPEAgent(Agent):
    """Optuna TPE (multivariate, grouped, constant liar) maximising val_map over the categorical space."""

    name = "tpe"

    def __init__(self, n_startup_trials: int = 10, n_ei_candidates: int = 24, max_asks_per_config: int = 10):
        if n_startup_trials < 0 or n_ei_candidates < 1 or max_asks_per_config < 1:
            raise ValueError(
                f"TPEAgent: expected n_startup_trials >= 0, n_ei_candidates >= 1, "
                f"max_asks_per_config >= 1; got {n_startup_trials}, {n_ei_candidates}, "
                f"{max_asks_per_config}"
            )
        self.n_startup_trials = n_startup_trials
        self.n_ei_candidates = n_ei_candidates
        self.max_asks_per_config = max_asks_per_config

    def propose(
        self,
        history: Sequence[AgentView],
        space: SearchSpace,
        n: int,
        rng: np.random.Generator,
        context: RoundContext | None = None,
    ) -> list[AgentProposal]:
        import optuna  # optional-weight import: only this agent needs it

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        seen = seen_ids(history, space)
        seed = int(rng.integers(2**31))
        dists = {d.name: optuna.distributions.CategoricalDistribution(list(d.values)) for d in space.dimensions}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning for multivariate/group/constant_liar
            sampler = optuna.samplers.TPESampler(
                multivariate=True,
                group=True,
                constant_liar=True,
                seed=seed,
                n_startup_trials=self.n_startup_trials,
                n_ei_candidates=self.n_ei_candidates,
            )
            study = optuna.create_study(direction="maximize", sampler=sampler)
            n_complete = self._replay(study, history, space, dists)
            out: list[AgentProposal] = []
            asks, budget = 0, self.max_asks_per_config * max(n, 0)
            while len(out) < n and asks < budget:
                trial = study.ask(dists)
                asks += 1
                config = space.canonical(trial.params)
                cid = space.config_id(config)
                if cid in seen:  # leave the model unchanged, advance the sampler's rng, ask again
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    continue
                seen.add(cid)  # stays RUNNING: the constant liar pushes later asks away from it
                phase = "random startup" if n_complete < self.n_startup_trials else "TPE model"
                out.append(
                    AgentProposal(
                        config,
                        f"tpe: {phase} sample after {n_complete} completed trials "
                        f"(maximising val_map; batch member {len(out) + 1} of {n})",
                    )
                )
        if len(out) < n:
            rest = sample_new(space, rng, n - len(out), seen)
            why = (
                f"tpe: fallback to uniform random over unrun cells; {asks} TPE asks (the bound) kept "
                "returning cells already run or already in this batch"
            )
            out += [AgentProposal(c, why) for c in rest]
        return out

    @staticmethod
    def _replay(study, history: Sequence[AgentView], space: SearchSpace, dists: dict) -> int:
        """Add the history as finished trials in first-seen order; returns how many are COMPLETE."""
        import optuna

        score = {s.config_id: s.val_map for s in scored(history, space)}
        done: set[str] = set()
        n_complete = 0
        for v in history:
            c = canonical_or_none(space, v.config)
            if c is None:
                continue
            cid = space.config_id(c)
            if cid in done:
                continue
            done.add(cid)
            if cid in score:
                study.add_trial(optuna.trial.create_trial(params=c, distributions=dists, value=score[cid]))
                n_complete += 1
            else:  # only failed (or ok without a score): a FAIL trial, ignored by the model
                study.add_trial(
                    optuna.trial.create_trial(params=c, distributions=dists, state=optuna.trial.TrialState.FAIL)
                )
        return n_complete
