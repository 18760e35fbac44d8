"""Build the replay table for bench/search.py: train every cell of bench/replay_space.yaml once.

Why: comparing search agents needs many campaigns (agents x seeds x budgets); training each proposal
for real would take days, so every cell of a fixed subspace is trained once, for real, on the
embedded demo features, and replays look the scores up. Resumable: results go to the results store
under campaign ``replay`` in the data root, and cells already there are not retrained.

    export ARCHSEARCH_CONFIG=bench/replay_config.yaml ARCHSEARCH_HOME=/data/replay
    dagster asset materialize -m pipelines.definitions --select videos      # 1,200 synthetic clips
  dagster asset materialize -m pipelines.definitions --select features --partition motion  # +pixels, vjepa2_tiny_random
    python bench/build_replay_table.py [--workers 2] [--out bench/data/replay_table.csv]

Why a 1,200-clip set and not the demo's 240: with 36 validation clips the demo's val mAP ranks
configs barely better than noise (val/test correlation across the cells was 0.22), so "best val mAP
after N" would reward whoever chased noise longest.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from archsearch.campaign.proposals import Proposal, ProposalStore  # noqa: E402
from archsearch.common import DataLayout  # noqa: E402
from archsearch.experiments.batch import Task, run_tasks  # noqa: E402
from archsearch.features import FeatureStore  # noqa: E402
from archsearch.results import ResultsStore  # noqa: E402
from archsearch.space import load_space  # noqa: E402

CAMPAIGN = "replay"


def feature_keys(root: Path, dataset: str) -> dict[str, str]:
    """backbone -> newest feature group key on ``dataset`` in the store under ``root``."""
    store = FeatureStore(root / "features")
    found: dict[str, tuple[str, str]] = {}
    for ds, key in store.groups():
        if ds != dataset:
            continue
        attrs = store.group(ds, key).attrs
        created = str(attrs.get("created_at", ""))
        if attrs["backbone"] not in found or created > found[attrs["backbone"]][1]:
            found[attrs["backbone"]] = (key, created)
    return {b: k for b, (k, _) in found.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default=str(HERE / "replay_space.yaml"))
    ap.add_argument("--dataset", default="synth_replay")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "data" / "replay_table.csv"))
    args = ap.parse_args(argv)

    root = DataLayout.default().root
    space = load_space(args.space)
    keys = feature_keys(root, args.dataset)
    missing = sorted(set(space.values("backbone")) - set(keys))
    if missing:
        print(f"error: no features for {missing} on {args.dataset} under {root / 'features'}", file=sys.stderr)
        return 2
    proposals, results = ProposalStore(root), ResultsStore(root)
    done = {r["config_id"] for r in results.records(CAMPAIGN) if r.get("status") == "ok"}
    tasks = []
    for i in range(space.size):
        config = space.config_at(i)
        p = Proposal(
            campaign=CAMPAIGN,
            config_id=space.config_id(config),
            config=config,
            dataset=args.dataset,
            seed=args.seed,
            agent="grid",
            space=space.name,
        )
        proposals.add(p)
        if p.config_id not in done:
            tasks.append(Task(p, keys[config["backbone"]]))
    print(f"{space.size} cells, {space.size - len(tasks)} already trained, {len(tasks)} to train", flush=True)
    t0 = time.perf_counter()
    for k, (task, r) in enumerate(
        run_tasks(tasks, root=root, manifest_path=root / "manifests" / "manifest.parquet", workers=args.workers),
        start=1,
    ):
        score = f"val {r.val.map:.4f}" if r.ok else f"FAILED {r.error_type}"
        print(f"[{k}/{len(tasks)}] {task.proposal.config_id} {score} ({time.perf_counter() - t0:.0f} s)", flush=True)

    import polars as pl

    df = results.read(CAMPAIGN).filter(pl.col("status") == "ok")
    dims = list(space.dims)
    table = df.select("config_id", *dims, "val_map", "test_map", "epochs_run", "total_seconds").sort("config_id")
    if table.height != space.size:
        print(f"error: {table.height} of {space.size} cells have an ok result", file=sys.stderr)
        return 1
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.write_csv(args.out)
    meta = {
        "space": args.space,
        "dataset": args.dataset,
        "seed": args.seed,
        "feature_keys": keys,
        "cells": table.height,
        "val_map_max": table["val_map"].max(),
        "val_map_median": table["val_map"].median(),
    }
    print(json.dumps(meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
