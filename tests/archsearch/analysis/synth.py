"""Synthetic campaigns for the analysis tests: known architecture effects, fixed times, no training."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from archsearch.campaign.proposals import Proposal, ProposalStore
from archsearch.results import ExperimentResult, ResultsStore, SplitMetrics
from archsearch.space import load_space

BACKBONE_EFFECT = {
    "efficientnet_lite0": 0.10,
    "efficientnet_lite1": 0.15,
    "efficientnet_lite2": 0.20,
    "motion": 0.0,
    "pixels": -0.10,
    "vjepa2_tiny_random": -0.20,
}
ENCODER_EFFECT = {"zipformer": 0.08, "retention": 0.04, "bimamba": 0.0, "hybrid": 0.02, "gru": -0.04}
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def metrics(m: float) -> SplitMetrics:
    m = float(np.clip(m, 0.0, 1.0))
    return SplitMetrics(m, m, m, m, 100, 20)


def fill(
    root: Path,
    *,
    agents=("random", "architecture_first"),
    campaigns_per_agent: int = 1,
    n: int = 30,
    datasets=("synth_front",),
    seed: int = 0,
    failed_every: int = 0,
    finish_shuffled: bool = True,
) -> int:
    """Write results (and their proposals) for each agent x campaign x dataset; returns how many results."""
    space = load_space("demo")
    rng = np.random.default_rng(seed)
    results, proposals = ResultsStore(root), ProposalStore(root)
    count = 0
    for d_i, dataset in enumerate(datasets):
        for agent in agents:
            for c in range(campaigns_per_agent):
                campaign = f"{dataset}-{agent}-{c}"
                configs = space.sample(rng, n)
                finish = rng.permutation(n) if finish_shuffled else np.arange(n)
                for i, cfg in enumerate(configs):
                    cid = space.config_id(cfg)
                    shift = 0.1 * d_i * (1 if cfg["backbone"] == "pixels" else 0)  # a different winner on dataset 2
                    score = (
                        0.55
                        + BACKBONE_EFFECT[cfg["backbone"]]
                        + ENCODER_EFFECT[cfg["encoder"]]
                        + 2 * shift
                        + 0.02 * (cfg["lr"] == 1e-3)
                        + rng.normal(0, 0.03)
                    )
                    proposed = T0 + dt.timedelta(minutes=i)
                    proposals.add(
                        Proposal(
                            campaign=campaign,
                            config_id=cid,
                            config=cfg,
                            dataset=dataset,
                            seed=c,
                            agent=agent,
                            round=i // 5,
                            created_at=proposed.isoformat(),
                        )
                    )
                    finished = (T0 + dt.timedelta(hours=1, minutes=int(finish[i]))).isoformat()
                    if failed_every and i % failed_every == failed_every - 1:
                        r = ExperimentResult(
                            config_id=cid,
                            config=cfg,
                            agent=agent,
                            round=i // 5,
                            campaign=campaign,
                            seed=c,
                            dataset=dataset,
                            status="failed",
                            error_type="RuntimeError",
                            error_message="boom",
                            created_at=finished,
                        )
                    else:
                        r = ExperimentResult(
                            config_id=cid,
                            config=cfg,
                            agent=agent,
                            round=i // 5,
                            campaign=campaign,
                            seed=c,
                            dataset=dataset,
                            val=metrics(score),
                            test=metrics(score - 0.02 + rng.normal(0, 0.01)),
                            created_at=finished,
                        )
                    results.write(r)
                    count += 1
    return count
