"""Benchmark: experiments per hour through Celery with 1 and with 2 workers, and their ratio (one JSON line).

Why: scale-out is only worth its moving parts if adding a worker adds throughput. This starts a real
PostgreSQL instance and Redis broker on loopback (tests/scale/harness.py), a tiny nexar-format
project (`pixels` features, small GRU/RetNet heads), then for each worker count runs one Dagster run
per experiment with the Celery executor, as many orchestrators as workers, after one untimed warm-up
experiment per worker (the first step in a worker process imports torch).

Each experiment here is small (seconds), so Dagster's per-run and per-step overhead is a large share
and the ratio is a lower bound for real campaigns; on a machine with fewer cores than workers plus
orchestrators, the ratio measures the box, not Celery. Needs `pip install -e '.[scale]'`, redis-server
and PostgreSQL binaries.

    python bench/scale.py [--experiments 8] [--videos 12] [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.scale import harness, scale_campaign


def measure(cluster: harness.Cluster, workers: int, experiments: int) -> dict:
    import dagster as dg

    names = [f"bench{workers}-{i}" for i in range(workers)]
    for name in names:
        cluster.start_worker(name)
    cluster.wait_ready(names)
    with dg.DagsterInstance.get() as instance:
        warm = scale_campaign.propose(instance, f"warm{workers}", workers)
        keys = scale_campaign.propose(instance, f"bench{workers}", experiments)
    assert all(scale_campaign.run_partitions(warm, parallel=workers).values()), "warm-up runs failed"
    t0 = time.monotonic()
    outcome = scale_campaign.run_partitions(keys, parallel=workers)
    seconds = time.monotonic() - t0
    failed = [k for k, ok in outcome.items() if not ok]
    if failed:
        raise SystemExit(f"bench/scale.py: runs failed for {failed}; worker logs in {cluster.logdir}")
    for name in names:
        cluster.workers.pop(name).stop()
    return {"seconds": round(seconds, 2), "experiments_per_hour": round(experiments * 3600 / seconds, 1)}


def _run(base: Path, args: argparse.Namespace) -> tuple[dict, dict]:
    import dagster as dg

    with harness.postgres() as pg, harness.redis_server() as broker:
        os.environ.update(
            {
                **pg.env(),
                **scale_campaign.make_project(base, videos=args.videos, epochs=args.epochs),
                "DAGSTER_HOME": str(base / "dh"),
                "ARCHSEARCH_EXECUTOR": "celery",
                "ARCHSEARCH_CELERY_BROKER": broker,
                "ARCHSEARCH_CELERY_VISIBILITY_TIMEOUT": "600",
            }
        )
        harness.write_instance(base / "dh")
        with dg.DagsterInstance.get() as instance:
            scale_campaign.materialize_inputs(instance)
        with harness.celery_cluster(dict(os.environ), base / "workers") as cluster:
            return measure(cluster, 1, args.experiments), measure(cluster, 2, args.experiments)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiments", type=int, default=8, help="timed experiments per worker count")
    ap.add_argument("--videos", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    missing = harness.missing_prerequisites()
    if missing:
        print("bench/scale.py needs: " + "; ".join(missing), file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="archsearch-bench-scale-"))
    try:
        one, two = _run(base, args)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(
        json.dumps(
            {
                "bench": "scale",
                "experiments": args.experiments,
                "workers_1_experiments_per_hour": one["experiments_per_hour"],
                "workers_2_experiments_per_hour": two["experiments_per_hour"],
                "ratio_2_over_1": round(two["experiments_per_hour"] / one["experiments_per_hour"], 3),
                "seconds_1": one["seconds"],
                "seconds_2": two["seconds"],
                "cpu_count": len(os.sched_getaffinity(0)),
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
