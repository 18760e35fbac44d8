"""Command line for things the Dagster CLI does not do: propose experiments (adds partitions).

    python -m pipelines.cli propose --config '{"backbone": "motion", "encoder": "gru", ...}'
    python -m pipelines.cli propose --random 5 --campaign trial --seed 0
    dagster asset materialize -m pipelines.definitions --select experiments --partition <key>
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def propose(args: argparse.Namespace) -> int:
    import dagster as dg

    from archsearch import paths
    from archsearch.config import load_config
    from archsearch.proposals import Proposal, ProposalStore
    from assets.experiments import EXPERIMENTS

    project = load_config()
    space = project.search_space()
    dataset = args.dataset or project.datasets[0].name
    project.dataset(dataset)  # clear error for an unknown dataset
    if args.config:
        configs = [space.validate_config(json.loads(args.config))]
    else:
        configs = space.sample(np.random.default_rng(args.seed), args.random)
    store = ProposalStore(paths.data_root())
    keys = []
    for config in configs:
        proposal = Proposal(
            campaign=args.campaign, config_id=space.config_id(config), config=config, dataset=dataset,
            seed=args.seed, agent=args.agent, rationale=args.rationale, space=space.name,
        )
        added = store.add(proposal)
        keys.append(proposal.key)
        print(f"{proposal.key}  {'added' if added else 'already proposed'}  {json.dumps(config)}")
    instance = dg.DagsterInstance.get()
    instance.add_dynamic_partitions(EXPERIMENTS.name, keys)
    print("materialize with:\n  dagster asset materialize -m pipelines.definitions --select experiments --partition "
          + (keys[0] if len(keys) == 1 else "<key>"))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipelines.cli", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("propose", help="propose experiment configs and add their `experiments` partitions")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", help="one config as JSON (every dimension of the space)")
    src.add_argument("--random", type=int, help="N configs drawn uniformly from the space")
    p.add_argument("--campaign", default="manual", help="campaign name (default: manual)")
    p.add_argument("--dataset", default=None, help="dataset name (default: the first configured)")
    p.add_argument("--seed", type=int, default=0, help="training seed (and the sampling seed for --random)")
    p.add_argument("--agent", default="manual")
    p.add_argument("--rationale", default="")
    args = ap.parse_args(argv)
    try:
        return {"propose": propose}[args.command](args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
