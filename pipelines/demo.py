"""`make demo`: a whole campaign on the embedded default, every step a run in the persistent instance.

A campaign cannot be one Dagster run (features are partitioned by backbone, experiments by proposal,
and each round adds partitions), so this driver runs the stage jobs in order, exactly as the
sensors and schedules would under ``make ui``:

1. ``refresh_videos_job`` -- generate the embedded clips, build the manifest and splits;
2. ``features_job`` for each backbone the campaign searches (cache hits on a second demo);
3. rounds until the budget is spent: ``proposals_job`` (the next agent proposes ``round_size``
   configs), then ``experiments_job`` over that round's partitions (one run, one worker per core);
4. ``report_job`` -- the leaderboard and the analysis report;

then prints the best config chosen on validation, its val and test mAP, and the report's path.
Runs go to ``$DAGSTER_HOME`` (the instance ``make ui`` opens). Re-running resumes: finished rounds
and cached features are kept, queued proposals are trained first, a finished campaign is reported.
After a crash (``kill -9``, a reboot) it first repairs what the crash left: runs that show as running
although their process is gone are marked failed and their pool slots freed (``pipelines.doctor``),
a round interrupted after its commit is finished by the next round, and proposals whose partitions
were never added get them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import dagster as dg

from archsearch.config import KEY_ENV
from assets.tags import CAMPAIGN_TAG
from pipelines.driver import contiguous_chunks, record_unreported, run_job, train
from pipelines.instance import local_instance


def run_campaign(defs, instance, project, root: Path, *, progress: bool = True) -> dict:
    """Rounds of proposals + experiments until the campaign stops; returns counts."""
    from tqdm import tqdm

    from archsearch.campaign import campaign_status
    from assets.experiments import EXPERIMENTS
    from pipelines.sensors import add_missing_partitions

    cfg = project.campaign
    record_unreported(instance, root, [cfg.name])
    status = campaign_status(cfg, root)
    bar = tqdm(
        total=cfg.max_experiments,
        initial=status.finished_ok + status.finished_failed,
        unit="exp",
        desc=f"campaign {cfg.name}",
        disable=None if progress else True,
        dynamic_ncols=True,
    )
    rounds = 0
    while True:
        status = campaign_status(cfg, root)
        if status.breaker.tripped:
            raise SystemExit(
                f"demo: {status.breaker.reason}; fix the cause, then `python -m pipelines.cli campaign reset-breaker`"
            )
        keys = list(status.queued)
        if not keys:
            if status.stop_reason:
                break
            result = run_job(defs, "proposals_job", instance, f"round {status.rounds}")
            meta = result.asset_materializations_for_node("proposals")[0].metadata
            keys = list(meta["new_keys"].value)
            rounds += 1
            bar.write(
                f"round {meta['round'].value}: {meta['agent'].value} proposed {len(keys)} "
                f"(budget left {meta['budget_left'].value})"
            )
            if not keys:
                continue  # the status now carries the stop reason (budget spent or space exhausted)
        add_missing_partitions(instance, keys)  # a round that crashed before adding them
        order = instance.get_dynamic_partitions(EXPERIMENTS.name)
        for chunk in contiguous_chunks(keys, order, cfg.run_batch_size):
            train(defs, instance, chunk, {CAMPAIGN_TAG: cfg.name})
            bar.update(len(chunk))
    bar.close()
    return {
        "rounds_this_run": rounds,
        **{k: getattr(status, k) for k in ("proposed", "finished_ok", "finished_failed")},
        "stop_reason": status.stop_reason,
    }


def repair_crashed_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail runs an earlier, killed demo left showing as running, and free their pool slots (else the
    `gpu` slot of a killed features run blocks this demo's features for ever); what was done."""
    from pipelines.doctor import diagnose, fix

    found = diagnose(instance)
    if found.healthy:
        return []
    return [f"repairing what a crash left: {line}" for line in [*found.lines(), *fix(instance, found).lines()]]


def best_by_validation(root: Path, campaign: str) -> dict | None:
    """The campaign's best ok result by val mAP (ties: earliest), with its test mAP (reported, never used)."""
    import polars as pl

    from archsearch.results import ResultsStore

    rows = ResultsStore(root).read(campaign).filter(pl.col("status") == "ok")
    if rows.height == 0:
        return None
    best = rows.sort(["val_map", "created_at"], descending=[True, False]).row(0, named=True)
    rec = ResultsStore(root).get(campaign, best["config_id"], best["seed"])
    return {
        "config_id": best["config_id"],
        "agent": best["agent"],
        "config": rec.config,
        "val_map": best["val_map"],
        "test_map": best["test_map"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipelines.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    args = ap.parse_args(argv)

    from archsearch.campaign import campaign_space
    from assets.resources import ArchsearchResource
    from pipelines.definitions import build_definitions

    started = time.perf_counter()
    instance = local_instance()
    archsearch = ArchsearchResource()
    project = archsearch.project()
    defs = build_definitions(archsearch)
    root = archsearch.root()
    stamp = lambda: f"[{time.perf_counter() - started:5.0f} s]"
    for line in repair_crashed_runs(instance):
        print(f"{stamp()} {line}", flush=True)

    print(f"{stamp()} videos: generating / loading {', '.join(d.name for d in project.datasets)}", flush=True)
    run_job(defs, "refresh_videos_job", instance, "videos")
    backbones = list(campaign_space(project).values("backbone"))
    for b in backbones:
        print(f"{stamp()} features: {b}", flush=True)
        run_job(defs, "features_job", instance, f"features[{b}]", partition_key=b)
    cfg = project.campaign
    agents = ", ".join(
        f"{a}:{s:g}" + (f" (skipped: no {KEY_ENV[a]})" if a in KEY_ENV and not os.environ.get(KEY_ENV[a]) else "")
        for a, s in cfg.shares.items()
        if s
    )
    print(
        f"{stamp()} campaign {cfg.name}: up to {cfg.max_experiments} experiments on {cfg.dataset}, "
        f"rounds of {cfg.round_size}, agents {agents}",
        flush=True,
    )
    counts = run_campaign(defs, instance, project, root, progress=not args.no_progress)
    print(f"{stamp()} report: leaderboard and analysis", flush=True)
    run_job(defs, "report_job", instance, "the report")

    best = best_by_validation(root, cfg.name)
    report = root / "reports" / "latest" / "report.md"
    print(
        f"\n{stamp()} demo finished: {counts['finished_ok']} ok and {counts['finished_failed']} failed "
        f"experiments ({counts['stop_reason'] or 'budget left'})"
    )
    if best is None:
        print("no experiment succeeded: see the runs in `make ui`")
        return 1
    print(
        f"best config by validation ({best['config_id']}, proposed by {best['agent']}):\n  {json.dumps(best['config'])}"
    )
    print(
        f"  val mAP {best['val_map']:.4f}   test mAP {best['test_map']:.4f}  (test is reported, never used to select)"
    )
    print(f"report: {report}\nUI:     make ui  ->  http://127.0.0.1:3000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
