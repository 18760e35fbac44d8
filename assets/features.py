"""The `features` asset: one frozen backbone's features for every video, cached in Zarr.

Partitioned by backbone; the backbone list comes from the project config, so the asset is built by
:func:`build_features` when the definitions load (never at import).
"""

import warnings
from collections.abc import Sequence

import dagster as dg
import polars as pl

from archsearch.data.datasets import read_manifest
from archsearch.data.splits import split_hash
from assets.resources import ArchsearchResource
from assets.tags import GPU_OP_TAGS


def _extract(context, archsearch: ArchsearchResource, manifest: pl.DataFrame, name: str) -> list[dict]:
    from archsearch.features import FeatureStore
    from archsearch.features.extraction import BackboneRecipe, compiled_cache_dir, default_workers, extract_dataset

    cfg = archsearch.project().features
    store = FeatureStore(archsearch.features_dir())
    recipe = BackboneRecipe(
        name, cfg.weights_dir, cfg.batch_size, cfg.device, cfg.runtime, str(compiled_cache_dir(store))
    )
    backbone = recipe.build()
    workers = cfg.workers or default_workers(backbone)
    context.log.info(
        f"{backbone!r}: weights {backbone.weights_digest()[:16]}, runtime {backbone.runtime}, {workers} worker(s)"
    )
    reports = []
    for (dataset,), part in manifest.group_by("dataset", maintain_order=True):
        before = len(store.repairs)  # what the store's integrity check found broken and repaired
        try:
            report = extract_dataset(part, backbone, store, recipe=recipe, workers=workers, log=context.log.info)
        finally:
            for repair in store.repairs[before:]:
                context.log.warning(f"{dataset}: repaired {repair}")
        context.log.info(f"{dataset}: {report.as_dict()}")
        reports.append({**report.as_dict(), "repaired": [str(r) for r in store.repairs[before:]]})
    return reports


def _import_precomputed(context, archsearch: ArchsearchResource, manifest: pl.DataFrame, name: str) -> list[dict]:
    from archsearch.features import FeatureStore, import_h5

    source = archsearch.project().precomputed[name.removeprefix("precomputed:")]
    part = manifest.filter(pl.col("dataset") == source.dataset)
    digests = dict(part.select("video_id", "video_digest").iter_rows())
    store = FeatureStore(archsearch.features_dir())
    group = import_h5(source.path, store, source.dataset, name.removeprefix("precomputed:"), list(digests), digests)
    from archsearch.features.extraction import split_order

    group.pack(split_order(part))
    context.log.info(f"imported {source.path} as {name} for {source.dataset}")
    return [
        {
            "dataset": source.dataset,
            "backbone": name,
            "key": group.key,
            "videos": len(digests),
            "cache_hits": 0,
            "cache_misses": len(digests),
            "dim": group.dim,
            "bytes_on_disk": group.nbytes(),
            "videos_per_s": 0.0,
            "seconds": 0.0,
        }
    ]


def materialize_features(context: dg.AssetExecutionContext, archsearch: ArchsearchResource) -> dg.MaterializeResult:
    """Extract (or import) one backbone's features for every manifest video; cached videos are skipped."""
    name = context.partition_key
    manifest = read_manifest(archsearch.manifest_path())
    if name.startswith("precomputed:"):
        reports = _import_precomputed(context, archsearch, manifest, name)
    else:
        reports = _extract(context, archsearch, manifest, name)
    total = lambda k: sum(r[k] for r in reports)
    seconds = total("seconds")
    misses = total("cache_misses")
    table = "\n".join(
        ["| dataset | key | videos | hits | misses | videos/s | MB |", "|---|---|---|---|---|---|---|"]
        + [
            f"| {r['dataset']} | `{r['key']}` | {r['videos']} | {r['cache_hits']} | {r['cache_misses']} | "
            f"{r['videos_per_s']:.2f} | {r['bytes_on_disk'] / 1e6:.1f} |"
            for r in reports
        ]
    )
    return dg.MaterializeResult(
        metadata={
            "backbone": name,
            "store_keys": dg.MetadataValue.json({r["dataset"]: r["key"] for r in reports}),
            "videos": total("videos"),
            "feature_dim": reports[0]["dim"],
            "cache_hits": total("cache_hits"),
            "cache_misses": misses,
            "videos_per_s": round(misses / seconds, 3) if seconds and misses else 0.0,
            "frames_per_s": round(sum(r.get("frames", 0) for r in reports) / seconds, 1) if seconds else 0.0,
            "seconds": round(seconds, 2),
            "bytes_on_disk": total("bytes_on_disk"),
            "per_dataset": dg.MetadataValue.md(table),
            "repaired": dg.MetadataValue.md(
                "\n".join(f"- {x}" for r in reports for x in r.get("repaired", [])) or "nothing"
            ),
            # Which manifest these features cover: the freshness sensor compares it with the latest `videos`.
            "manifest_split_hash": split_hash(manifest),
        }
    )


def check_features(
    context: dg.AssetCheckExecutionContext, archsearch: ArchsearchResource, backbones: Sequence[str]
) -> dg.AssetCheckResult:
    """Every manifest video has finite features of the right width, for one backbone or all of them."""
    from archsearch.features import FeatureStore, FeatureStoreError

    keys = [context.partition_key] if context.has_partition_key else list(backbones)
    manifest = read_manifest(archsearch.manifest_path())
    store = FeatureStore(archsearch.features_dir())
    problems, checked = [], 0
    for name in keys:
        for (dataset,), part in manifest.group_by("dataset", maintain_order=True):
            expected = dict(part.select("video_id", "video_digest").iter_rows())
            try:
                group = store.group(dataset, features_key_for(context.instance, name, dataset))
            except dg.Failure as exc:
                problems.append(f"{name}/{dataset}: {exc.description}")
                continue
            except FeatureStoreError as exc:  # e.g. an unreadable group zarr.json: a verdict, not a crash
                problems.append(f"{name}/{dataset}: {exc}")
                continue
            report = group.verify(expected)
            checked += report.n_checked
            for kind, ids in report.problems().items():
                problems.append(f"{name}/{dataset}: {len(ids)} {kind} (e.g. {ids[:5]})")
    metadata = {
        "videos_checked": checked,
        "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none"),
    }
    if problems:
        commands = "; ".join(f"`{features_command(name)}`" for name in keys)
        metadata["repair"] = dg.MetadataValue.md(f"recomputes or repacks only what fails: {commands}")
    return dg.AssetCheckResult(passed=not problems, metadata=metadata)


def build_features(backbones: Sequence[str]) -> tuple[dg.AssetsDefinition, dg.AssetChecksDefinition]:
    """The `features` asset, one partition per configured backbone, and its `features_complete` check."""
    partitions = dg.StaticPartitionsDefinition(list(backbones))
    features = dg.asset(
        name="features",
        partitions_def=partitions,
        deps=["videos"],
        pool="gpu",
        op_tags=GPU_OP_TAGS,  # routed to the `gpu` Celery queue when ARCHSEARCH_EXECUTOR=celery
        group_name="features",
        kinds={"zarr", "pytorch"},
        description="Frozen-backbone features per video (time-indexed float16 sequences), content-addressed in Zarr.",
    )(materialize_features)

    def features_complete(context: dg.AssetCheckExecutionContext, archsearch: ArchsearchResource):
        return check_features(context, archsearch, partitions.get_partition_keys())

    # Partitioned asset checks are a Dagster preview feature; the warning would print on every load.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        check = dg.asset_check(
            asset=features,
            name="features_complete",
            partitions_def=partitions,
            description="Every manifest video has finite features of the right width.",
        )(features_complete)
    return features, check


def features_key_for(instance: dg.DagsterInstance, backbone: str, dataset: str) -> str:
    """The store key of the latest `features` materialization for this backbone (lineage, not a guess)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("features"), asset_partitions=[backbone]), limit=1
    ).records
    if not records:
        raise dg.Failure(
            f"no features for backbone {backbone!r} yet: materialize them first with `{features_command(backbone)}`"
        )
    keys = records[0].asset_materialization.metadata["store_keys"].value
    if dataset not in keys:
        raise dg.Failure(f"features[{backbone}] has no dataset {dataset!r} (it has {sorted(keys)}); re-materialize it")
    return keys[dataset]


def features_command(backbone: str) -> str:
    """The command that (re)materializes one backbone's features: computes what is missing, repairs what fails."""
    return f"dagster asset materialize -m pipelines.definitions --select features --partition {backbone}"
