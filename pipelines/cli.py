"""Command line for things the Dagster CLI does not do: propose experiments, drive a campaign.

    python -m pipelines.cli propose --config '{"backbone": "motion", "encoder": "gru", ...}'
    python -m pipelines.cli propose --random 5 --campaign trial --seed 0
    dagster asset materialize -m pipelines.definitions --select experiments --partition <key>
    python -m pipelines.cli campaign round      # one agent round (a proposals_job run in this instance)
    python -m pipelines.cli campaign status     # proposed / finished / queued / cost / budget / breaker
    python -m pipelines.cli campaign reset-breaker   # after fixing what made experiments fail
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def propose(args: argparse.Namespace) -> int:
    import dagster as dg

    from archsearch.common import data_root
    from archsearch.config import load_config
    from archsearch.campaign.proposals import Proposal, ProposalStore
    from assets.experiments import EXPERIMENTS

    project = load_config()
    space = project.search_space()
    dataset = args.dataset or project.datasets[0].name
    project.dataset(dataset)  # clear error for an unknown dataset
    if args.config:
        configs = [space.validate_config(json.loads(args.config))]
    else:
        configs = space.sample(np.random.default_rng(args.seed), args.random)
    store = ProposalStore(data_root())
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


def _campaign_cfg(args: argparse.Namespace):
    from dataclasses import replace

    from archsearch.config import load_config

    cfg = load_config().campaign
    return replace(cfg, name=args.campaign) if args.campaign else cfg


def campaign(args: argparse.Namespace) -> int:
    import dagster as dg

    from archsearch.common import data_root
    from archsearch.campaign.status import campaign_status, reset_breaker

    cfg = _campaign_cfg(args)
    root = data_root()
    if args.action == "status":
        print(campaign_status(cfg, root).summary())
        return 0
    if args.action == "reset-breaker":
        print(f"campaign {cfg.name}: circuit breaker reset; results before {reset_breaker(cfg, root)} are ignored by it")
        return 0
    from assets.tags import CAMPAIGN_TAG, ROUND_TAG
    from pipelines.definitions import build_definitions

    defs = build_definitions()

    op_config = {k: v for k, v in (("campaign", args.campaign), ("n", args.n)) if v is not None}
    result = defs.resolve_job_def("proposals_job").execute_in_process(
        instance=dg.DagsterInstance.get(),
        run_config={"ops": {"proposals": {"config": op_config}}},
        tags={CAMPAIGN_TAG: cfg.name, ROUND_TAG: str(campaign_status(cfg, root).rounds)},
        raise_on_error=False,
    )
    if not result.success:
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        why = failure.step_failure_data.error.message.strip() if failure else "see the run's logs"
        print(f"error: round failed: {why}", file=sys.stderr)
        return 1
    meta = {k: getattr(v, "value", v) for k, v in result.asset_materializations_for_node("proposals")[0].metadata.items()}
    print(f"campaign {meta['campaign']} round {meta['round']} ({meta['agent']}): {meta['proposed']} proposed, "
          f"{meta['duplicates']} duplicate(s), {meta['rejected']} rejected, ${meta['cost_usd']:.4f}; "
          f"{meta['budget_left']} left")
    for key in meta["new_keys"]:
        print(f"  {key}")
    if "stopped" in meta:
        print(f"stopped: {meta['stopped']}")
    return 0


def analyze(args: argparse.Namespace) -> int:
    """The analysis report of any search log (CSV, TSV or Parquet), archsearch's own or another system's."""
    from archsearch.analysis import Settings, analyze_log

    columns = dict(pair.split("=", 1) for pair in args.column)
    split = lambda text: [c.strip() for c in text.split(",") if c.strip()] if text else None  # noqa: E731
    settings = Settings(seed=args.seed, interval=args.interval)
    path = analyze_log(args.file, args.out, columns=columns or None, architecture=split(args.architecture),
                       training=split(args.training), settings=settings)
    print(f"report: {path}")
    return 0


def check_data(args: argparse.Namespace) -> int:
    """Per clip: fps, duration, decoded frames, decoder and why, anchor, split, warnings; then a summary."""
    from archsearch.common import DataLayout
    from archsearch.config import load_config
    from archsearch.data.check import check_data as run_check

    check = run_check(load_config(), DataLayout.default().datasets, datasets=args.dataset or None,
                      progress=sys.stderr.isatty())
    print(check.render(), end="")
    return 0 if check.ok else 1


def role_mapping(text: str) -> str:
    """argparse type of ``--column ROLE=NAME``."""
    role, sep, name = text.partition("=")
    if not sep or not role or not name:
        raise argparse.ArgumentTypeError(f"expected ROLE=NAME (e.g. val=val_auc), got {text!r}")
    return text


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
    c = sub.add_parser("campaign", help="drive the configured campaign (see `campaign:` in the project config)")
    c.add_argument("action", choices=["round", "status", "reset-breaker"])
    c.add_argument("--campaign", default=None, help="campaign name (default: campaign.name of the project config)")
    c.add_argument("-n", type=int, default=None, help="round: proposals this round (default: campaign.round_size)")
    d = sub.add_parser("check-data", help="check the configured datasets clip by clip before extracting features")
    d.add_argument("--dataset", action="append", default=[], help="only this dataset (repeatable; default: all)")
    a = sub.add_parser("analyze", help="the analysis report (markdown + PNGs) of any search log: CSV, TSV or Parquet")
    a.add_argument("file", help="the log: one row per proposed experiment (columns: see the README, 'Any search log')")
    a.add_argument("--out", default=None, help="output folder (default: <log folder>/<log name>-analysis)")
    a.add_argument("--column", action="append", default=[], type=role_mapping, metavar="ROLE=NAME",
                   help="map a role to your column name: order, agent, campaign, val, test, status, dataset, "
                        "config_id (repeatable)")
    a.add_argument("--architecture", default=None, help="comma-separated config columns that define an architecture")
    a.add_argument("--training", default=None, help="comma-separated config columns that are training knobs")
    a.add_argument("--interval", choices=["t", "bootstrap"], default="t", help="best-at-N interval over campaigns")
    a.add_argument("--seed", type=int, default=0, help="seed of the resampling statistics")
    args = ap.parse_args(argv)
    try:
        commands = {"propose": propose, "campaign": campaign, "analyze": analyze, "check-data": check_data}
        return commands[args.command](args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
