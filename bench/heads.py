"""Benchmark: experiments per hour per temporal encoder, end to end at Nexar scale (without Dagster).

Why: a campaign is thousands of head trainings over cached features, so the cost of one experiment
sets how much search a machine buys. This writes a synthetic feature group shaped like the study's
V-JEPA 2 features (default 1,500 clips x 50 steps x 1024 dims at 5 Hz, 70/15/15 split, a weak learnable
signal, as real data has), then times `run_experiment` (store read, windows,
training with per-epoch validation, the one test evaluation) for each encoder over several poolings
at window length 20 and 20 epochs. One JSON line per encoder:

* seconds_per_experiment: median wall time of one experiment (its own latency);
* experiments_per_hour: parallel x 3600 / seconds_per_experiment, the steady-state throughput of
  `--parallel` single-threaded experiments side by side (target >= 300/h, i.e. ~12 s at parallel 1);
* seconds_if_all_epochs: the median experiment with every epoch run: the same as seconds_per_experiment
  under the default selection ("final": the whole schedule runs); smaller only with best_val's early stopping.

Load average is reported because the machine may be shared: numbers taken under a load above the core
count are pessimistic.

    python bench/heads.py [--encoders gru retention ...] [--poolings attention mean last max] [--parallel 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archsearch.experiments import ExperimentSpec, RunOptions, run_experiment
from archsearch.features.synthetic import synthetic_feature_group

ENCODERS = ("zipformer", "retention", "bimamba", "hybrid", "gru")
POOLINGS = ("attention", "mean", "last", "max")
TARGET_PER_HOUR = 300
DAGSTER_NOTE = (
    "with --dagster: the same configs as `experiments` partitions through Dagster in this process (real "
    "runs in a sqlite instance: event log, metadata, loss-curve plot, result write). dagster_overhead_pct: "
    "all poolings as one run over a partition range (how campaigns run); "
    "dagster_single_run_overhead_pct: one run per config"
)

_STATE: dict = {}


def _init(store_root: str, dataset: str, key: str, manifest, common: dict, warm: dict) -> None:
    """Per process: open the feature group and run one untimed 1-epoch experiment (imports, caches)."""
    from archsearch.features import FeatureStore

    group = FeatureStore(store_root).group(dataset, key)
    _STATE.update(common=common, manifest=manifest, group=group, warm=warm)
    _experiment(warm)


def _experiment(config: dict):
    c = _STATE["common"]
    spec = ExperimentSpec(config, seed=c["seed"], agent=c["agent"], round=c["round"], campaign=c["campaign"])
    return run_experiment(
        spec, _STATE["manifest"], _STATE["group"], RunOptions(device=c["device"], threads=c["threads"])
    )


def _ready(_: int) -> int:
    time.sleep(0.2)  # long enough that every worker takes one, i.e. has finished _init
    return os.getpid()


def _run(task: tuple[str, str, int]) -> dict:
    encoder, pooling, epochs = task
    config = {**_STATE["warm"], "encoder": encoder, "pooling": pooling, "epochs": epochs}
    t0 = time.perf_counter()
    r = _experiment(config)
    seconds = time.perf_counter() - t0
    if r.status != "ok":
        raise RuntimeError(f"{encoder}/{pooling} failed: {r.error_type}: {r.error_message}")
    return {
        "pooling": pooling,
        "seconds": round(seconds, 2),
        "epochs_run": r.epochs_run,
        "best_epoch": r.best_epoch,
        "seconds_per_epoch": round(r.timings["train_s"] / r.epochs_run, 3),
        "load_s": round(r.timings["load_s"], 3),
        "windows_s": round(r.timings["windows_s"], 3),
        "eval_s": round(r.timings["eval_s"], 3),
        "val_map": round(r.val.map, 4),
        "test_map": round(r.test.map, 4),
    }


class _DagsterPath:
    """Runs configs as `experiments` partitions in a real (temporary, sqlite) Dagster instance."""

    def __init__(self, work: Path, manifest, group) -> None:
        import dagster as dg

        from archsearch.data.datasets import write_manifest

        self.dg, self.work = dg, work
        write_manifest(manifest, work / "manifests" / "manifest.parquet")
        (work / "dagster_home").mkdir()
        self.instance = dg.DagsterInstance.from_config(str(work / "dagster_home"))
        # Stand in for a `features` materialization of the synthetic backbone: the lineage the asset follows.
        self.instance.report_runless_asset_event(
            dg.AssetMaterialization(
                "features",
                partition="synthetic",
                metadata={"store_keys": dg.MetadataValue.json({group.dataset: group.key})},
            )
        )
        from assets.experiments import experiments
        from assets.features import build_features

        features, _ = build_features(["synthetic"])
        from assets.resources import ArchsearchResource
        from pipelines.jobs import experiments_job

        # Resolved once, as a long-lived campaign driver does; each config is then one run of this job.
        defs = dg.Definitions(
            assets=[features, experiments],
            jobs=[experiments_job],
            resources={"archsearch": ArchsearchResource(data_root=str(work), experiment_workers=1)},
        )
        self.job = defs.resolve_job_def("experiments_job")

    def _propose(self, configs: list[dict], seed: int, campaign: str) -> list[str]:
        from archsearch.campaign.proposals import Proposal, ProposalStore
        from archsearch.space import stable_id
        from assets.experiments import EXPERIMENTS

        keys = []
        for config in configs:
            proposal = Proposal(
                campaign=campaign, config_id=stable_id(config), config=config, dataset="bench", seed=seed, agent="bench"
            )
            ProposalStore(self.work).add(proposal)
            keys.append(proposal.key)
        self.instance.add_dynamic_partitions(EXPERIMENTS.name, keys)
        return keys

    def run(self, config: dict, seed: int) -> tuple[float, float]:
        """One config as its own run (what a sensor launching one run per config pays)."""
        (key,) = self._propose([config], seed, "bench")
        t0 = time.perf_counter()
        result = self.job.execute_in_process(instance=self.instance, partition_key=key)
        seconds = time.perf_counter() - t0
        meta = result.asset_materializations_for_node("experiments")[0].metadata
        return seconds, float(meta["val_map"].value)

    def run_batch(self, configs: list[dict], seed: int, campaign: str) -> tuple[float, dict[str, float]]:
        """All configs as one run over a partition range (one worker, to compare with the serial loop)."""
        keys = self._propose(configs, seed, campaign)
        t0 = time.perf_counter()
        result = self.job.execute_in_process(
            instance=self.instance,
            tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
        )
        seconds = time.perf_counter() - t0
        return seconds, {
            m.partition: float(m.metadata["val_map"].value)
            for m in result.asset_materializations_for_node("experiments")
        }


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoders", nargs="+", default=list(ENCODERS), choices=ENCODERS)
    ap.add_argument("--poolings", nargs="+", default=list(POOLINGS), choices=POOLINGS)
    ap.add_argument("--videos", type=int, default=1500)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--loss", default="focal")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--signal", type=float, default=0.07, help="synthetic signal strength (val mAP ~0.7 at 0.07)")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per experiment; with one experiment per core, 1 (2 threads gained 10-25 %% "
        "on an idle 2-core box and lost 3-20x when the cores were busy)",
    )
    ap.add_argument("--parallel", type=int, default=1, help="experiments run side by side (worker processes)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--dagster",
        action="store_true",
        help="also run each config through Dagster (in process, --parallel 1) and report the overhead",
    )
    args = ap.parse_args(argv)
    if args.dagster and args.parallel != 1:
        ap.error("--dagster compares one experiment at a time: use it with --parallel 1")

    work = Path(tempfile.mkdtemp(prefix="bench_heads_"))
    lines = []
    pool = None
    try:
        t0 = time.perf_counter()
        manifest, group = synthetic_feature_group(
            str(work / "features"),
            dataset="bench",
            n_videos=args.videos,
            steps=args.steps,
            dim=args.dim,
            signal=args.signal,
            seed=args.seed,
        )
        setup_s = time.perf_counter() - t0
        common = dict(agent="bench", round=0, campaign="bench", device="cpu", seed=args.seed, threads=args.threads)
        warm = {
            "backbone": "synthetic",
            "encoder": "gru",
            "pooling": "mean",
            "loss": args.loss,
            "lr": args.lr,
            "weight_decay": 1e-4,
            "window_length": args.window,
            "epochs": 1,
        }
        init_args = (str(group.store.root), group.dataset, group.key, manifest, common, warm)
        if args.parallel > 1:
            pool = multiprocessing.get_context("spawn").Pool(args.parallel, initializer=_init, initargs=init_args)
            while len(set(pool.map(_ready, range(2 * args.parallel), chunksize=1))) < args.parallel:
                pass  # not timed: spawning, imports and the warm-up run
            run_all = lambda tasks: pool.map(_run, tasks, chunksize=1)
        else:
            _init(*init_args)
            run_all = lambda tasks: [_run(t) for t in tasks]
        dagster_path = _DagsterPath(work, manifest, group) if args.dagster else None
        if dagster_path is not None:
            dagster_path.run({**warm, "pooling": "last"}, args.seed)  # untimed: first-run imports and caches
        for encoder in args.encoders:
            load_before = os.getloadavg()[0]
            t1 = time.perf_counter()
            runs = run_all([(encoder, p, args.epochs) for p in args.poolings])
            wall = time.perf_counter() - t1
            median = statistics.median(x["seconds"] for x in runs)
            overhead = single_overhead = None
            if dagster_path is not None:
                configs = [{**warm, "encoder": encoder, "pooling": p, "epochs": args.epochs} for p in args.poolings]
                through = [dagster_path.run(c, args.seed) for c in configs]
                for run, (_, val_map) in zip(runs, through):
                    assert round(val_map, 4) == run["val_map"], "Dagster and in-process runs must give the same val mAP"
                single_overhead = round(100.0 * (statistics.median(t for t, _ in through) / median - 1.0), 1)
                batch_s, batch_maps = dagster_path.run_batch(configs, args.seed, f"batch_{encoder}")
                assert sorted(round(v, 4) for v in batch_maps.values()) == sorted(r["val_map"] for r in runs)
                overhead = round(100.0 * (batch_s / sum(r["seconds"] for r in runs) - 1.0), 1)
            line = {
                "bench": "heads",
                "encoder": encoder,
                "seconds_per_experiment": round(median, 2),
                "experiments_per_hour": round(args.parallel * 3600.0 / median, 1),
                "target_experiments_per_hour": TARGET_PER_HOUR,
                "meets_target": args.parallel * 3600.0 / median >= TARGET_PER_HOUR,
                "parallel": args.parallel,
                "threads": args.threads,
                "wall_experiments_per_hour": round(3600.0 * len(runs) / wall, 1),
                "median_epochs_run": statistics.median(x["epochs_run"] for x in runs),
                "median_seconds_per_epoch": round(statistics.median(x["seconds_per_epoch"] for x in runs), 3),
                # what one experiment costs with every epoch run (best_val's early stopping may cut it)
                "seconds_if_all_epochs": round(
                    statistics.median(
                        x["seconds"] + (args.epochs - x["epochs_run"]) * x["seconds_per_epoch"] for x in runs
                    ),
                    2,
                ),
                "runs": runs,
                "dagster_overhead_pct": overhead,
                "dagster_single_run_overhead_pct": single_overhead,
                "dagster_overhead_pct_note": DAGSTER_NOTE,
                "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                "cpus": os.cpu_count(),
                "setup": {
                    "videos": args.videos,
                    "steps": args.steps,
                    "dim": args.dim,
                    "window_length": args.window,
                    "epochs": args.epochs,
                    "loss": args.loss,
                    "lr": args.lr,
                    "signal": args.signal,
                    "write_features_s": round(setup_s, 1),
                },
            }
            print(json.dumps(line), flush=True)
            lines.append(line)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        shutil.rmtree(work, ignore_errors=True)
    return lines


if __name__ == "__main__":
    main()
