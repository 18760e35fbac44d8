"""Tags the Dagster layer puts on runs and ops: queue routing, campaign and round, partition ranges.

One place for every tag key, so the sensor that launches a run, the demo driver and the executor
that routes its steps agree on the spelling.
"""

from __future__ import annotations

from collections.abc import Sequence

# The op tag dagster-celery reads to pick a step's queue (dagster_celery.tags.DAGSTER_CELERY_QUEUE_TAG).
QUEUE_TAG = "dagster-celery/queue"
GPU_QUEUE = "gpu"
CPU_QUEUE = "cpu"
# `features` (frozen backbone forward passes) goes to GPU workers, `experiments` (small heads) to CPU workers.
GPU_OP_TAGS = {QUEUE_TAG: GPU_QUEUE}
CPU_OP_TAGS = {QUEUE_TAG: CPU_QUEUE}

CAMPAIGN_TAG = "archsearch/campaign"
ROUND_TAG = "archsearch/round"
# A study's runs (make study): the study, and on a round's run the campaign's agent, seed and dataset.
STUDY_TAG = "archsearch/study"
AGENT_TAG = "archsearch/agent"
SEED_TAG = "archsearch/seed"
DATASET_TAG = "archsearch/dataset"
PARTITION_TAG = "dagster/partition"
# A run that ended because its process died, not because its code failed: set by `doctor --fix` (and the
# sensor through it); Dagster's run monitoring says the same with RUN_FAILURE_REASON_TAG.
DIED_TAG = "archsearch/died"
RUN_FAILURE_REASON_TAG = "dagster/failure_reason"
DEATH_REASONS = frozenset({"UNEXPECTED_TERMINATION", "RUN_WORKER_RESTART", "START_TIMEOUT"})
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def run_died(tags: dict[str, str]) -> bool:
    """Whether a FAILED run's tags say its process died (killed, preempted, never started)."""
    return DIED_TAG in tags or tags.get(RUN_FAILURE_REASON_TAG) in DEATH_REASONS


def partition_range_tags(keys: Sequence[str]) -> dict[str, str]:
    """Tags of one run over ``keys``, a contiguous range of the partitions (a single-run backfill)."""
    if not keys:
        raise ValueError("a partition range needs at least one key")
    return {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}
