"""What the demo and study drivers share: running a stage job in the instance, training queued experiments
in as few runs as the partition order allows, and progress with an ETA.

A driver runs the same jobs the sensors and schedules would launch under ``make ui``, each one a run
in ``$DAGSTER_HOME``, so every step is in the UI afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import dagster as dg

from assets.tags import partition_range_tags

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # the event log keeps everything


class DriverError(SystemExit):
    """A stage run failed; the message names it and where its log is."""


def run_job(
    defs: dg.Definitions, job: str, instance: dg.DagsterInstance, what: str, *, driver: str = "demo", **kw
) -> dg.ExecuteInProcessResult:
    """Execute one job in this process, in the persistent instance; a failure stops the driver with a pointer."""
    kw.setdefault("run_config", QUIET_LOGS)
    result = defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False, **kw)
    if not result.success:
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        why = (
            f": {failure.step_failure_data.error.message.strip()}"
            if failure and failure.step_failure_data.error
            else ""
        )
        raise DriverError(f"{driver}: {what} failed (run {result.run_id}){why}; its log is in `make ui` -> Runs")
    return result


def contiguous_chunks(keys: Sequence[str], order: Sequence[str], size: int) -> list[list[str]]:
    """``keys`` sorted by partition order and cut into runs of at most ``size`` keys, each contiguous in ``order``.

    One experiments run covers a contiguous range of the dynamic partitions (a single-run backfill),
    so keys with finished partitions between them (an interrupted run, resumed) start a new chunk.
    """
    if size < 1:
        raise ValueError(f"contiguous_chunks: size must be >= 1, got {size}")
    pos = {k: i for i, k in enumerate(order)}
    missing = [k for k in keys if k not in pos]
    if missing:
        raise ValueError(f"contiguous_chunks: keys without a partition: {missing[:5]}")
    out: list[list[str]] = []
    for key in sorted(set(keys), key=pos.__getitem__):
        last = out[-1] if out else None
        if last is not None and len(last) < size and pos[key] == pos[last[-1]] + 1:
            last.append(key)
        else:
            out.append([key])
    return out


def train(
    defs: dg.Definitions, instance: dg.DagsterInstance, keys: list[str], tags: dict[str, str], *, driver: str = "demo"
) -> None:
    """One experiments run over ``keys`` (contiguous in the partition order): one partition, or a range."""
    if len(keys) == 1:
        run_job(
            defs, "experiments_job", instance, f"experiment {keys[0]}", driver=driver, tags=tags, partition_key=keys[0]
        )
    else:
        run_job(
            defs,
            "experiments_job",
            instance,
            f"experiments {keys[0]}..{keys[-1]}",
            driver=driver,
            tags={**tags, **partition_range_tags(keys)},
        )


UNREPORTED = (
    "recorded by the driver: this result was written by an experiments run that ended (killed or "
    "interrupted) before it could report the materialization"
)


def record_unreported(instance: dg.DagsterInstance, root, campaigns: Sequence[str]) -> list[str]:
    """Report the materialization of every finished experiment of ``campaigns`` that has a result but none in Dagster.

    A run killed between a worker writing a result and the run emitting its event leaves the result
    (the truth: it is never trained again) without a partition materialization in the UI; this
    records it, from the stored result, with a note saying so. Returns the keys recorded.
    """
    from archsearch.campaign.proposals import ProposalStore
    from archsearch.results import ResultsStore
    from assets.experiments import result_metadata

    key = dg.AssetKey("experiments")
    done = instance.get_materialized_partitions(key)
    results, recorded = ResultsStore(root), []
    for campaign in campaigns:
        for p in ProposalStore(root).list(campaign):
            if p.key in done or (result := results.get(p.campaign, p.config_id, p.seed)) is None:
                continue
            meta = {**result_metadata(result), "recorded": dg.MetadataValue.text(UNREPORTED)}
            instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=p.key, metadata=meta))
            recorded.append(p.key)
    return recorded


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the experiment workers)."""
    import resource

    return sum(
        resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )


class Eta:
    """Remaining time from this session's pace: experiments done since start over the time they took."""

    def __init__(self, total: int, done: int):
        self.total, self.start_done, self.done = total, done, done
        self.started = time.perf_counter()

    def update(self, done: int) -> None:
        self.done = done

    def text(self) -> str:
        """'412 of 900 experiments, 8.1 min elapsed, ETA 9.6 min' (no ETA before the first finishes)."""
        elapsed = time.perf_counter() - self.started
        ran = self.done - self.start_done
        left = max(0, self.total - self.done)
        eta = f", ETA {left * elapsed / ran / 60:.1f} min" if ran > 0 and left else ""
        return f"{self.done} of {self.total} experiments, {elapsed / 60:.1f} min elapsed{eta}"
