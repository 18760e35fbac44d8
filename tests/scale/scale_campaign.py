"""A tiny campaign for the scale-out tests and bench: nexar-format videos, `pixels` features, a small space,
proposals with their partitions, and experiment runs launched from several orchestrator processes."""

from __future__ import annotations

import os
from pathlib import Path

SPACE = """
name: scale
groups:
  architecture:
    backbone: [pixels]
    encoder: [gru, retention]
    pooling: [mean, attention, last, max]
  training:
    loss: [bce]
    lr: [1.0e-3, 3.0e-3]
    weight_decay: [0.0]
    window_length: [8]
    epochs: [EPOCHS]
"""


def make_project(base: Path, *, videos: int = 12, epochs: int = 3) -> dict[str, str]:
    """Write the project files under `base`; returns the ARCHSEARCH_* variables that select it."""
    from tests.projects import nexar_project

    cfg = nexar_project(base, n=videos)
    (base / "space.yaml").write_text(SPACE.replace("EPOCHS", str(epochs)))
    cfg.write_text(
        cfg.read_text().replace("backbones: [pixels, motion]", "backbones: [pixels]")
        + f"space: {base / 'space.yaml'}\n"
    )
    return {"ARCHSEARCH_CONFIG": str(cfg), "ARCHSEARCH_HOME": str(base / "home")}


def propose(instance, campaign: str, n: int, seed: int = 0) -> list[str]:
    """The first `n` configs of the space as proposals of `campaign`, with their dynamic partitions."""
    from archsearch.campaign.proposals import Proposal, ProposalStore
    from archsearch.config import load_config
    from assets.experiments import EXPERIMENTS

    project = load_config()
    space = project.search_space()
    store = ProposalStore(Path(os.environ["ARCHSEARCH_HOME"]))
    keys = []
    for i in range(n):
        config = space.config_at(i)
        p = Proposal(
            campaign=campaign,
            config_id=space.config_id(config),
            config=config,
            dataset=project.datasets[0].name,
            seed=seed,
            agent="scale-test",
            space=space.name,
        )
        store.add(p)
        keys.append(p.key)
    instance.add_dynamic_partitions(EXPERIMENTS.name, keys)
    return keys


def materialize_inputs(instance) -> None:
    """Videos and `pixels` features, in this process, recorded in `instance` (experiments read the key there)."""
    import dagster as dg

    from tests.projects import default_features

    features, _features_complete = default_features()
    from assets.resources import ArchsearchResource
    from assets.videos import videos

    res = {"archsearch": ArchsearchResource()}
    assert dg.materialize([videos], resources=res, instance=instance).success
    assert dg.materialize(
        [videos.to_source_asset(), features], resources=res, instance=instance, partition_key="pixels"
    ).success


def run_partition(key: str) -> bool:
    """One Dagster run of tests.scale.celery_defs' job for one partition; True when it succeeded."""
    import dagster as dg

    from tests.scale import celery_defs

    with (
        dg.DagsterInstance.get() as instance,
        dg.execute_job(
            dg.reconstructable(celery_defs.experiments_job),
            instance=instance,
            tags={"dagster/partition": key},
            raise_on_error=False,
        ) as result,
    ):
        return result.success


def run_partitions(keys: list[str], *, parallel: int) -> dict[str, bool]:
    """One run per partition, `parallel` orchestrator processes pulling the next key when one finishes.

    Processes, not threads: Dagster's log handlers deadlock when two runs log from threads of one
    process. The orchestrator only waits on its step's Celery task, so it costs little CPU.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(parallel, mp_context=mp.get_context("spawn")) as pool:
        return dict(zip(keys, pool.map(run_partition, keys)))
