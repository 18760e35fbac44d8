"""The `videos` asset: generate or load every configured dataset into one manifest."""

import dagster as dg
import polars as pl

from archsearch.data.datasets import build_manifest, read_manifest, write_manifest
from archsearch.data.splits import check_disjoint, split_hash, split_warnings
from assets.resources import ArchsearchResource


def _counts_markdown(manifest: pl.DataFrame) -> str:
    table = (
        manifest.group_by("dataset", "split", "scenario")
        .len()
        .pivot(on="split", index=["dataset", "scenario"], values="len")
        .fill_null(0)
        .sort("dataset", "scenario")
    )
    cols = ["dataset", "scenario"] + [s for s in ("train", "val", "test") if s in table.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.select(cols).iter_rows()]
    return "\n".join(lines)


def _thumbnail(manifest: pl.DataFrame) -> str | None:
    from archsearch.data.thumbnails import png_markdown, thumbnail_strip

    positives = manifest.filter(pl.col("label") == 1).sort("dataset", "video_id")
    if positives.height == 0:
        return None
    row = positives.row(0, named=True)
    event = row["event_time"]
    times = [max(0.0, event - d) for d in (3.0, 2.0, 1.5, 1.0, 0.5, 0.0)]
    png = thumbnail_strip(row["path"], times)
    caption = f"{row['dataset']}/{row['video_id']}: t = event - 3, 2, 1.5, 1, 0.5, 0 s"
    return png_markdown(png, caption) + f"\n\n*{caption}*"


@dg.asset(
    group_name="data",
    description="Manifest of every configured video source, with anchors and a fixed stratified split.",
    kinds={"polars", "video"},
)
def videos(context: dg.AssetExecutionContext, archsearch: ArchsearchResource) -> dg.MaterializeResult:
    project = archsearch.project()
    build = build_manifest(project, archsearch.datasets_dir())
    path = write_manifest(build.manifest, archsearch.manifest_path())
    m = build.manifest
    for problem in build.skipped:
        context.log.warning(f"skipped: {problem}")
    for warning in build.warnings:
        context.log.warning(warning)
    durations = m["duration"]
    metadata = {
        "path": dg.MetadataValue.path(str(path)),
        "num_videos": dg.MetadataValue.int(m.height),
        "num_positive": dg.MetadataValue.int(int((m["label"] == 1).sum())),
        "datasets": dg.MetadataValue.text(", ".join(sorted(m["dataset"].unique().to_list()))),
        "split_hash": dg.MetadataValue.text(build.split_hash),
        "counts": dg.MetadataValue.md(_counts_markdown(m)),
        "duration_s": dg.MetadataValue.json(
            {
                "min": round(float(durations.min()), 3),
                "mean": round(float(durations.mean()), 3),
                "max": round(float(durations.max()), 3),
            }
        ),
        "skipped_rows": dg.MetadataValue.int(len(build.skipped)),
        "excluded_videos": dg.MetadataValue.int(build.excluded.height),
        "decode_backends": dg.MetadataValue.json(dict(m.group_by("decode_backend").len().iter_rows())),
        "split_warnings": dg.MetadataValue.md("\n".join(f"- {w}" for w in build.warnings) or "none"),
    }
    if build.skipped:
        metadata["skipped"] = dg.MetadataValue.md("\n".join(f"- {p}" for p in build.skipped))
    if build.excluded.height:
        metadata["excluded"] = dg.MetadataValue.md(
            "\n".join(f"- {d}/{v} (label {y}): {why}" for d, v, y, why in build.excluded.iter_rows())
        )
    thumb = _thumbnail(m)
    if thumb:
        metadata["collision_preview"] = dg.MetadataValue.md(thumb)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=videos, description="Every video decodes to its end, and no id is in two splits.")
def videos_decode_and_disjoint(archsearch: ArchsearchResource) -> dg.AssetCheckResult:
    from archsearch.data.decode import probe_video

    manifest = read_manifest(archsearch.manifest_path())
    broken = []
    for dataset, vid, path in manifest.select("dataset", "video_id", "path").iter_rows():
        try:
            probe_video(path, full=True)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none aborts the check
            broken.append(f"{dataset}/{vid}: {exc}")
    overlap = check_disjoint(manifest)
    small = split_warnings(manifest)
    return dg.AssetCheckResult(
        passed=not broken and not overlap,
        metadata={
            "videos_checked": manifest.height,
            "undecodable": dg.MetadataValue.md("\n".join(f"- {b}" for b in broken[:50]) or "none"),
            "ids_in_several_splits": len(overlap),
            "split_hash": split_hash(manifest),
            "split_warnings": dg.MetadataValue.md("\n".join(f"- {w}" for w in small) or "none"),
        },
    )
