"""The `experiments` asset: train and score one proposed temporal-head config per partition."""

import warnings

import dagster as dg

from assets.features import features_command, features_key_for
from assets.resources import ArchsearchResource
from assets.tags import CPU_OP_TAGS

EXPERIMENTS = dg.DynamicPartitionsDefinition(name="experiments")


def _curve_png(history: list[dict]) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(5.5, 2.8), dpi=100)
    ax.plot(epochs, [h["train_loss"] for h in history], color="tab:red", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("train loss", color="tab:red")
    ax2 = ax.twinx()
    ax2.plot(epochs, [h["val_map"] for h in history], color="tab:blue", label="val mAP")
    ax2.set_ylabel("val mAP", color="tab:blue")
    ax2.set_ylim(0, 1)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def result_metadata(result) -> dict:
    """What the UI shows for one experiment: validation scores and run facts (test scores live in the report)."""
    from archsearch.data.thumbnails import png_markdown

    meta = {
        "status": result.status,
        "config_id": result.config_id,
        "config": dg.MetadataValue.json(result.config),
        "agent": result.agent,
        "round": result.round,
        "campaign": result.campaign,
        "dataset": result.dataset,
        "seed": result.seed,
        "seconds": round(result.timings.get("total_s", 0.0), 2),
        "epochs_run": result.epochs_run,
        "param_count": result.param_count,
        "device": result.device,
        "split_hash": result.split_hash,
        "feature_key": result.feature_key,
    }
    if result.ok:
        meta.update(
            {
                "val_map": dg.MetadataValue.float(result.val.map),
                "val_ap_500": dg.MetadataValue.float(result.val.ap_500),
                "val_ap_1000": dg.MetadataValue.float(result.val.ap_1000),
                "val_ap_1500": dg.MetadataValue.float(result.val.ap_1500),
                "best_epoch": result.best_epoch,
            }
        )
    else:
        meta["error"] = dg.MetadataValue.text(f"{result.error_type}: {result.error_message}")
    if result.history:
        meta["curves"] = dg.MetadataValue.md(
            png_markdown(_curve_png(list(result.history)), "loss and val mAP per epoch")
        )
    return meta


def failing_on_refused_features(results):
    """``results`` of ``run_tasks``, turning refused features into a run failure that says how to repair them."""
    from archsearch.experiments.batch import FeaturesRefusedError

    try:
        yield from results
    except FeaturesRefusedError as exc:
        raise dg.Failure(
            f"{exc}\nRepair: `{features_command(exc.backbone)}` (recomputes or repacks only what "
            "fails its check), then rerun these experiments."
        ) from exc


def experiments(context: dg.AssetExecutionContext, archsearch: ArchsearchResource):
    """Train every partition of this run; a batch (a backfill range) shares one pool of workers.

    Each partition gets its own materialization with its own metadata, emitted the moment its
    result is written, so a batch of 50 configs is still 50 partitions in the UI.
    """
    import os

    from archsearch.campaign.proposals import ProposalStore
    from archsearch.experiments.batch import Task, run_tasks

    store = ProposalStore(archsearch.root())
    proposals = [store.get(key) for key in context.partition_keys]
    feature_keys = {}
    for p in proposals:
        pair = (p.config["backbone"], p.dataset)
        if pair not in feature_keys:
            feature_keys[pair] = features_key_for(context.instance, *pair)
    tasks = [Task(p, feature_keys[(p.config["backbone"], p.dataset)]) for p in proposals]
    workers = archsearch.experiment_workers or len(os.sched_getaffinity(0))
    context.log.info(f"{len(tasks)} experiment(s) on {min(workers, len(tasks))} worker(s)")
    for done, (task, result) in enumerate(
        failing_on_refused_features(
            run_tasks(
                tasks,
                root=archsearch.root(),
                manifest_path=archsearch.manifest_path(),
                workers=workers,
                threads=archsearch.experiment_threads,
            )
        ),
        start=1,
    ):
        if result.ok:
            context.log.info(
                f"[{done}/{len(tasks)}] {task.proposal.key}: val mAP {result.val.map:.4f} after "
                f"{result.epochs_run} epochs (best {result.best_epoch}), {result.timings.get('total_s', 0):.1f} s"
            )
        else:
            context.log.warning(
                f"[{done}/{len(tasks)}] {task.proposal.key} failed: {result.error_type}: {result.error_message}"
            )
        yield dg.AssetMaterialization(
            asset_key=context.asset_key, partition=task.proposal.key, metadata=result_metadata(result)
        )


# Single-run backfills are a Dagster beta parameter; the warning would print on every load.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    experiments = dg.asset(
        name="experiments",
        partitions_def=EXPERIMENTS,
        # Lineage at asset level; the exact feature group each result used is its `feature_key`.
        deps=[dg.AssetDep("features", partition_mapping=dg.AllPartitionMapping()), dg.AssetDep("proposals")],
        backfill_policy=dg.BackfillPolicy.single_run(),
        op_tags=CPU_OP_TAGS,  # routed to the `cpu` Celery queue when ARCHSEARCH_EXECUTOR=celery
        output_required=False,
        group_name="experiments",
        kinds={"pytorch"},
        description="One trained temporal head per proposed config; writes one result row (val and test apart).",
    )(experiments)
