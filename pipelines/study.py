"""`make study`: replicated campaigns per agent and dataset, every step a run in the persistent instance.

The project's ``study:`` section expands into one campaign per seed x agent x dataset (LLM agents
only when their key is set), each of N experiments, searching from scratch. This driver runs the
stage jobs the sensors would run under ``make ui``:

1. ``refresh_videos_job`` and one ``features_job`` per backbone the campaigns search (shared by
   every campaign and dataset; cache hits when the demo already extracted them);
2. waves until every campaign has spent its budget: one ``proposals_job`` run per unfinished
   campaign (its next round, tagged with study, campaign, agent, seed and dataset), then
   ``experiments_job`` runs over the wave's new partitions, several campaigns per run so every core
   trains (``study.run_batch_size`` partitions a run, contiguous in the partition order);
3. ``study_report_job``: the study report with its replication table (also in the UI).

Interrupted, it resumes: finished experiments are kept (one result file each), proposals without a
result are trained first, and campaigns that spent their budget propose nothing more.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import dagster as dg

from assets.tags import AGENT_TAG, CAMPAIGN_TAG, DATASET_TAG, ROUND_TAG, SEED_TAG, STUDY_TAG
from pipelines.driver import (
    QUIET_LOGS,
    DriverError,
    Eta,
    contiguous_chunks,
    cpu_seconds,
    record_unreported,
    run_job,
    train,
)
from pipelines.instance import local_instance


def study_backbones(project, plan) -> list[str]:
    """Every backbone some campaign of the study searches, in space order."""
    from archsearch.campaign import campaign_space

    out: list[str] = []
    for spec in plan.campaigns:
        for b in campaign_space(replace(project, campaign=spec.config(project))).values("backbone"):
            if b not in out:
                out.append(b)
    return out


def propose_round(defs: dg.Definitions, instance: dg.DagsterInstance, spec, round_index: int) -> list[str]:
    """One round of one campaign as a proposals_job run; returns the new experiment keys."""
    tags = {
        STUDY_TAG: spec.study,
        CAMPAIGN_TAG: spec.name,
        ROUND_TAG: str(round_index),
        AGENT_TAG: spec.agent,
        SEED_TAG: str(spec.seed),
        DATASET_TAG: spec.dataset,
    }
    result = run_job(
        defs,
        "proposals_job",
        instance,
        f"round {round_index} of {spec.name}",
        driver="study",
        run_config={**QUIET_LOGS, "ops": {"proposals": {"config": spec.overrides()}}},
        tags=tags,
    )
    return list(result.asset_materializations_for_node("proposals")[0].metadata["new_keys"].value)


def queued_in_order(instance: dg.DagsterInstance, statuses: dict) -> tuple[list[str], list[str]]:
    """(queued keys of every campaign, the partition order), adding partitions a crashed round left unadded."""
    from assets.experiments import EXPERIMENTS

    queued = [k for s in statuses.values() for k in s.queued]
    order = instance.get_dynamic_partitions(EXPERIMENTS.name)
    missing = [k for k in queued if k not in set(order)]
    if missing:
        instance.add_dynamic_partitions(EXPERIMENTS.name, missing)
        order = instance.get_dynamic_partitions(EXPERIMENTS.name)
    return queued, order


def run_study(
    defs: dg.Definitions, instance: dg.DagsterInstance, project, root: Path, plan, *, progress: bool = True, log=print
) -> dict:
    """Waves of rounds and batched experiment runs until every campaign has spent its budget; returns counts."""
    from tqdm import tqdm

    from archsearch.campaign import campaign_status

    configs = {spec.name: spec.config(project) for spec in plan.campaigns}
    recorded = record_unreported(instance, root, list(configs))
    if recorded:
        log(f"recorded {len(recorded)} finished experiment(s) whose run ended before reporting them")
    status_all = lambda: {name: campaign_status(cfg, root) for name, cfg in configs.items()}
    finished = lambda st: sum(s.finished_ok + s.finished_failed for s in st.values())
    statuses = status_all()
    eta = Eta(plan.experiments, finished(statuses))
    bar = tqdm(
        total=plan.experiments,
        initial=eta.done,
        unit="exp",
        desc=f"study {plan.study.name}",
        disable=None if progress else True,
        dynamic_ncols=True,
    )
    say = bar.write if progress else log
    waves = trained = 0
    while True:
        statuses = status_all()
        tripped = [f"{n}: {s.breaker.reason}" for n, s in statuses.items() if s.breaker.tripped]
        if tripped:
            raise DriverError(
                "study: " + "; ".join(tripped) + " (reset one with `python -m pipelines.cli campaign "
                "reset-breaker --campaign <name>`)"
            )
        queued, order = queued_in_order(instance, statuses)
        if not queued:
            active = [spec for spec in plan.campaigns if not statuses[spec.name].stop_reason]
            if not active:
                break
            new = [k for spec in active for k in propose_round(defs, instance, spec, statuses[spec.name].rounds)]
            waves += 1
            if not new and all(not campaign_status(configs[s.name], root).stop_reason for s in active):
                raise DriverError(
                    f"study: wave {waves}: no campaign proposed a new config and none stopped; "
                    "see the proposals runs in `make ui`"
                )
            say(f"wave {waves}: {len(active)} rounds, {len(new)} new proposals")
            continue
        for chunk in contiguous_chunks(queued, order, plan.study.run_batch_size):
            train(defs, instance, chunk, {STUDY_TAG: plan.study.name}, driver="study")
            trained += len(chunk)
            bar.update(len(chunk))
            eta.update(eta.done + len(chunk))
        say(eta.text())
    bar.close()
    return {
        "waves_this_run": waves,
        "trained_this_run": trained,
        "ok": sum(s.finished_ok for s in statuses.values()),
        "failed": sum(s.finished_failed for s in statuses.values()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipelines.study", description=__doc__.splitlines()[0])
    ap.add_argument("--no-progress", action="store_true", help="no progress bar (one line per wave)")
    args = ap.parse_args(argv)

    from archsearch.config import ConfigError
    from archsearch.study import study_plan, study_report_dir
    from assets.resources import ArchsearchResource
    from pipelines.definitions import build_definitions

    started = time.perf_counter()
    stamp = lambda: f"[{time.perf_counter() - started:5.0f} s]"
    archsearch = ArchsearchResource()
    try:
        project = archsearch.project()
        plan = study_plan(project, os.environ)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    instance = local_instance()
    defs = build_definitions(archsearch)
    root = archsearch.root()
    print(f"{stamp()} study {plan.study.name}: {plan.scale()}", flush=True)
    for line in plan.skipped:
        print(f"{stamp()} agent skipped: {line}", flush=True)
    run_job(defs, "refresh_videos_job", instance, "videos", driver="study")
    for b in study_backbones(project, plan):
        print(f"{stamp()} features: {b}", flush=True)
        run_job(defs, "features_job", instance, f"features[{b}]", partition_key=b, driver="study")
    before, cpu_before = time.perf_counter(), cpu_seconds()
    counts = run_study(
        defs,
        instance,
        project,
        root,
        plan,
        progress=not args.no_progress,
        log=lambda m: print(f"{stamp()} {m}", flush=True),
    )
    spent, cpu = time.perf_counter() - before, cpu_seconds() - cpu_before
    n = counts["trained_this_run"]
    per = f" ({spent / n:.2f} s wall, {cpu / n:.2f} CPU-s per experiment, rounds included)" if n else ""
    print(
        f"{stamp()} campaigns done: {counts['ok']} ok and {counts['failed']} failed experiments; this run trained "
        f"{n} in {spent:.0f} s, {cpu:.0f} CPU-s{per}",
        flush=True,
    )
    print(f"{stamp()} report: the study report", flush=True)
    result = run_job(defs, "study_report_job", instance, "the study report", driver="study")
    meta = result.asset_materializations_for_node("study_report")[0].metadata
    print(f"\n{stamp()} study finished.\n{meta['replication'].value}\n")
    print(
        f"report: {study_report_dir(root, plan.study.name) / 'report.md'}\nUI:     make ui  ->  http://127.0.0.1:3000"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
