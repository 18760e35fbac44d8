"""A filled results store shaped like a study, with planted effects whose verdicts are known.

Scores: 0.55 + backbone effect + encoder effect + N(0, 0.02) (architecture dominates), and on the
second dataset `pixels` gains 0.4 (a different winner). Agents: random, tpe and architecture_first
propose uniformly at random (labels only); `claude`, when asked for, alternates 10 uniform
proposals with 10 in the dataset's best cell (it cycles, specialises and beats random).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from archsearch.campaign.proposals import Proposal, ProposalStore
from archsearch.config import campaign_name
from archsearch.results import ExperimentResult, ResultsStore
from archsearch.space import load_space
from tests.archsearch.analysis.synth import BACKBONE_EFFECT, ENCODER_EFFECT, T0, metrics

DATASETS = ("synth_front", "synth_side")
BEST = ({"backbone": "efficientnet_lite2", "encoder": "zipformer"}, {"backbone": "pixels", "encoder": "zipformer"})


def score(cfg: dict, dataset_index: int, rng: np.random.Generator) -> float:
    shift = 0.4 if dataset_index == 1 and cfg["backbone"] == "pixels" else 0.0
    return 0.55 + BACKBONE_EFFECT[cfg["backbone"]] + ENCODER_EFFECT[cfg["encoder"]] + shift + rng.normal(0, 0.02)


def configs_of(agent: str, space, rng: np.random.Generator, n: int, dataset_index: int) -> list[dict]:
    out = space.sample(rng, n)
    if agent == "claude":
        for i, cfg in enumerate(out):
            if (i // 10) % 2 == 1:  # proposals 11-20, 31-40, ...: exploit the dataset's best cell
                cfg.update(BEST[dataset_index])
    return out


def fill_study(
    root: Path,
    *,
    study: str = "study",
    agents=("random", "tpe", "architecture_first"),
    seeds=range(5),
    n: int = 30,
    datasets=DATASETS,
    seed: int = 0,
) -> int:
    """Write a study's results and proposals under `root`; returns how many results."""
    space = load_space("demo")
    rng = np.random.default_rng(seed)
    results, proposals = ResultsStore(root), ProposalStore(root)
    count = 0
    for d_i, dataset in enumerate(datasets):
        for agent in agents:
            for s in seeds:
                campaign = campaign_name(study, dataset, agent, s)
                for i, cfg in enumerate(configs_of(agent, space, rng, n, d_i)):
                    cid = space.config_id(cfg)
                    when = (T0 + dt.timedelta(minutes=i)).isoformat()
                    proposals.add(
                        Proposal(
                            campaign=campaign,
                            config_id=cid,
                            config=cfg,
                            dataset=dataset,
                            seed=s,
                            agent=agent,
                            round=i // 5,
                            created_at=when,
                        )
                    )
                    m = score(cfg, d_i, rng)
                    results.write(
                        ExperimentResult(
                            config_id=cid,
                            config=cfg,
                            agent=agent,
                            round=i // 5,
                            campaign=campaign,
                            seed=s,
                            dataset=dataset,
                            val=metrics(m),
                            test=metrics(m - 0.02),
                            created_at=when,
                        )
                    )
                    count += 1
    return count
