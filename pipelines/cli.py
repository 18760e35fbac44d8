"""Command line for what the Dagster CLI does not do: propose, drive a campaign, repair runs, check data, analyze logs.

    python -m pipelines.cli propose --config '{"backbone": "motion", "encoder": "gru", ...}'
    python -m pipelines.cli propose --random 5 --campaign trial --seed 0
    dagster asset materialize -m pipelines.definitions --select experiments --partition <key>
    python -m pipelines.cli campaign round      # one agent round (a proposals_job run in this instance)
    python -m pipelines.cli campaign status     # proposed / finished / queued / cost / budget / breaker
    python -m pipelines.cli campaign reset-breaker   # after fixing what made experiments fail
    python -m pipelines.cli doctor [--fix]      # runs whose process died, and the pool slots they hold
    python -m pipelines.cli check-data [--dataset NAME]   # every clip: decoder, frames, anchor, split, warnings
    python -m pipelines.cli analyze LOG.parquet [--column ROLE=NAME ...]   # the report of any search log

Errors print one line, the root cause (``error: ...``), and exit non-zero: 2 for bad arguments or
configuration, 1 for anything else (``--traceback`` shows the whole stack).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

# The run's console log would repeat every event and a failure's whole stack; the CLI prints its own
# summary and the root cause instead (the run's event log keeps everything: `make ui` -> Runs).
SILENT_CONSOLE = {"console": {"config": {"log_level": "CRITICAL"}}}


def at_least(lo: int):
    """An argparse type: an integer >= ``lo`` (argparse then names the option and exits 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {lo}, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"expected an integer >= {lo}, got {value}")
        return value

    return parse


def propose(args: argparse.Namespace) -> int:
    from archsearch.campaign.proposals import Proposal, ProposalStore
    from archsearch.common import data_root
    from archsearch.config import load_config
    from assets.experiments import EXPERIMENTS
    from pipelines.instance import local_instance

    project = load_config()
    space = project.search_space()
    dataset = args.dataset or project.datasets[0].name
    project.dataset(dataset)  # clear error for an unknown dataset
    if args.config:
        try:
            raw = json.loads(args.config)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--config: not valid JSON ({exc})") from exc
        configs = [space.validate_config(raw)]
    else:
        configs = space.sample(np.random.default_rng(args.seed), args.random)
    store = ProposalStore(data_root())
    keys = []
    for config in configs:
        proposal = Proposal(
            campaign=args.campaign,
            config_id=space.config_id(config),
            config=config,
            dataset=dataset,
            seed=args.seed,
            agent=args.agent,
            rationale=args.rationale,
            space=space.name,
        )
        added = store.add(proposal)
        keys.append(proposal.key)
        print(f"{proposal.key}  {'added' if added else 'already proposed'}  {json.dumps(config)}")
    instance = local_instance()
    instance.add_dynamic_partitions(EXPERIMENTS.name, keys)
    print(
        "materialize with:\n  dagster asset materialize -m pipelines.definitions --select experiments --partition "
        + (keys[0] if len(keys) == 1 else "<key>")
    )
    return 0


def _campaign_cfg(args: argparse.Namespace):
    """The campaign ``--campaign`` names: a study campaign gets its own agent, seed, dataset and budget."""
    from archsearch.config import load_config
    from archsearch.study import named_campaign_config

    return named_campaign_config(load_config(), args.campaign)


def root_cause(error) -> str:
    """The innermost error of a Dagster ``SerializableErrorInfo`` chain, as one line.

    Dagster wraps what an asset raised ("Error occurred while executing op ..."); the user needs the
    cause. ``pkg.module.ConfigError: msg`` becomes ``ConfigError: msg``; a ``Failure`` is its description.
    """
    while getattr(error, "cause", None) is not None:
        error = error.cause
    lines = [line.strip() for line in (error.message or "").strip().splitlines() if line.strip()]
    text = lines[0] if lines else (error.cls_name or "unknown error")
    head, sep, rest = text.partition(": ")
    if sep and "." in head and " " not in head:  # a qualified exception class name
        name = head.rsplit(".", 1)[-1]
        text = rest if name == "Failure" else f"{name}: {rest}"
    return text


def campaign(args: argparse.Namespace) -> int:
    from archsearch.campaign.status import campaign_status, reset_breaker
    from archsearch.common import data_root
    from pipelines.instance import local_instance
    from pipelines.sensors import add_missing_partitions

    cfg = _campaign_cfg(args)
    root = data_root()
    if args.action == "status":
        print(campaign_status(cfg, root).summary())
        return 0
    if args.action == "reset-breaker":
        print(
            f"campaign {cfg.name}: circuit breaker reset; results before {reset_breaker(cfg, root)} are ignored by it"
        )
        return 0
    from assets.tags import CAMPAIGN_TAG, ROUND_TAG
    from pipelines.definitions import build_definitions

    defs = build_definitions()
    instance = local_instance()
    from archsearch.config import load_config
    from archsearch.study import study_campaign_spec

    spec = study_campaign_spec(load_config(), args.campaign)  # a study campaign: its agent, seed, dataset, N
    op_config = spec.overrides() if spec is not None else {"campaign": args.campaign} if args.campaign else {}
    if args.n is not None:
        op_config["n"] = args.n
    result = defs.resolve_job_def("proposals_job").execute_in_process(
        instance=instance,
        run_config={"ops": {"proposals": {"config": op_config}}, "loggers": SILENT_CONSOLE},
        tags={CAMPAIGN_TAG: cfg.name, ROUND_TAG: str(campaign_status(cfg, root).rounds)},
        raise_on_error=False,
    )
    if not result.success:
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        why = root_cause(failure.step_failure_data.error) if failure else f"see the logs of run {result.run_id}"
        print(f"error: round failed: {why} (run {result.run_id})", file=sys.stderr)
        return 1
    meta = {
        k: getattr(v, "value", v) for k, v in result.asset_materializations_for_node("proposals")[0].metadata.items()
    }
    for line in str(meta.get("warnings", "")).splitlines():
        print(f"warning: {line.removeprefix('- ')}", file=sys.stderr)
    print(
        f"campaign {meta['campaign']} round {meta['round']} ({meta['agent']}): {meta['proposed']} proposed, "
        f"{meta['duplicates']} duplicate(s), {meta['rejected']} rejected, ${meta['cost_usd']:.4f}; "
        f"{meta['budget_left']} left"
    )
    for key in meta["new_keys"]:
        print(f"  {key}")
    if "stopped" in meta:
        print(f"stopped: {meta['stopped']}")
    for key in add_missing_partitions(instance, list(campaign_status(cfg, root).queued)):
        print(f"  {key}  (left by an interrupted round; its partition is added now)")
    return 0


def analyze(args: argparse.Namespace) -> int:
    """The analysis report of any search log (CSV, TSV or Parquet), archsearch's own or another system's."""
    from archsearch.analysis import Settings, analyze_log

    columns = dict(pair.split("=", 1) for pair in args.column)
    split = lambda text: [c.strip() for c in text.split(",") if c.strip()] if text else None
    settings = Settings(seed=args.seed, interval=args.interval)
    path = analyze_log(
        args.file,
        args.out,
        columns=columns or None,
        architecture=split(args.architecture),
        training=split(args.training),
        settings=settings,
    )
    print(f"report: {path}")
    return 0


def check_data(args: argparse.Namespace) -> int:
    """Per clip: fps, duration, decoded frames, decoder and why, anchor, split, warnings; then a summary."""
    from archsearch.common import DataLayout
    from archsearch.config import load_config
    from archsearch.data.check import check_data as run_check

    check = run_check(
        load_config(), DataLayout.default().datasets, datasets=args.dataset or None, progress=sys.stderr.isatty()
    )
    print(check.render(), end="")
    return 0 if check.ok else 1


def role_mapping(text: str) -> str:
    """argparse type of ``--column ROLE=NAME``."""
    role, sep, name = text.partition("=")
    if not sep or not role or not name:
        raise argparse.ArgumentTypeError(f"expected ROLE=NAME (e.g. val=val_auc), got {text!r}")
    return text


def doctor(args: argparse.Namespace) -> int:
    """List stuck runs and held pool slots; with --fix, repair them. Exit 1 when problems are left."""
    from pipelines.doctor import diagnose, fix
    from pipelines.instance import local_instance

    instance = local_instance()
    found = diagnose(instance, assume_local=True if args.assume_local else None)
    for line in found.lines():
        print(line)
    if not args.fix:
        if not found.healthy:
            print("fix with: python -m pipelines.cli doctor --fix")
        return 0 if found.healthy else 1
    for line in fix(instance, found).lines():
        print(line)
    left = diagnose(instance, assume_local=True if args.assume_local else None)
    return 0 if left.healthy else 1


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m pipelines.cli", description=__doc__.splitlines()[0])
    ap.add_argument("--traceback", action="store_true", help="on an error, show the whole stack, not one line")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("propose", help="propose experiment configs and add their `experiments` partitions")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", help="one config as JSON (every dimension of the space)")
    src.add_argument("--random", type=at_least(1), metavar="N", help="N configs drawn uniformly from the space")
    p.add_argument("--campaign", default="manual", help="campaign name (default: manual)")
    p.add_argument("--dataset", default=None, help="dataset name (default: the first configured)")
    p.add_argument("--seed", type=at_least(0), default=0, help="training seed (and the sampling seed for --random)")
    p.add_argument("--agent", default="manual")
    p.add_argument("--rationale", default="")
    c = sub.add_parser("campaign", help="drive the configured campaign (see `campaign:` in the project config)")
    c.add_argument("action", choices=["round", "status", "reset-breaker"])
    c.add_argument("--campaign", default=None, help="campaign name (default: campaign.name of the project config)")
    c.add_argument(
        "-n", type=at_least(1), default=None, help="round: proposals this round (default: campaign.round_size)"
    )
    d = sub.add_parser(
        "doctor",
        help="list runs whose process died while they show as running, and the pool "
        "slots they hold; --fix marks them failed and frees the slots",
    )
    d.add_argument("--fix", action="store_true", help="mark stuck runs failed and free the slots they hold")
    d.add_argument(
        "--assume-local",
        action="store_true",
        help="judge runs by their process ids even on a shared (PostgreSQL) instance: only when every "
        "run of this instance runs on this machine",
    )
    k = sub.add_parser("check-data", help="check the configured datasets clip by clip before extracting features")
    k.add_argument("--dataset", action="append", default=[], help="only this dataset (repeatable; default: all)")
    a = sub.add_parser("analyze", help="the analysis report (markdown + PNGs) of any search log: CSV, TSV or Parquet")
    a.add_argument("file", help="the log: one row per proposed experiment (columns: see the README, 'Any search log')")
    a.add_argument("--out", default=None, help="output folder (default: <log folder>/<log name>-analysis)")
    a.add_argument(
        "--column",
        action="append",
        default=[],
        type=role_mapping,
        metavar="ROLE=NAME",
        help="map a role to your column name: order, agent, campaign, val, test, status, dataset, "
        "config_id (repeatable)",
    )
    a.add_argument("--architecture", default=None, help="comma-separated config columns that define an architecture")
    a.add_argument("--training", default=None, help="comma-separated config columns that are training knobs")
    a.add_argument("--interval", choices=["t", "bootstrap"], default="t", help="best-at-N interval over campaigns")
    a.add_argument("--seed", type=at_least(0), default=0, help="seed of the resampling statistics")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        commands = {
            "propose": propose,
            "campaign": campaign,
            "doctor": doctor,
            "check-data": check_data,
            "analyze": analyze,
        }
        return commands[args.command](args)
    except Exception as exc:  # one line naming the cause; --traceback for the stack
        if args.traceback:
            raise
        if isinstance(exc, OSError) and exc.filename is not None:
            print(f"error: {exc.strerror}: {exc.filename}", file=sys.stderr)
            return 1
        name = "" if isinstance(exc, ValueError) else f"{type(exc).__name__}: "
        print(f"error: {name}{exc}".splitlines()[0], file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1


if __name__ == "__main__":
    sys.exit(main())
