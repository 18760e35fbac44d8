"""Turn the configured dataset sources into one manifest with anchors and splits, checked.

The synthetic set is written in the Nexar format and then read back through the very same
loader a user's Nexar folder goes through, so the embedded demo exercises the real path. One
ClipProber serves all sources, so a file listed by two datasets is probed and digested once.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from archsearch.config import DatasetSource, ProjectConfig
from archsearch.data.anchors import match_anchors
from archsearch.data.clip_probe import ClipProber
from archsearch.data.manifest import (
    MANIFEST_SCHEMA,
    LoadResult,
    ManifestError,
    RowProblem,
    concat_tables,
    load_generic_csv,
    load_nexar,
)
from archsearch.data.splits import assign_splits, split_hash, split_problems, split_warnings


@dataclass
class ManifestBuild:
    """The manifest and everything a user should see about how it was made."""

    manifest: pl.DataFrame
    split_hash: str
    skipped: list[RowProblem] = field(default_factory=list)  # rows rejected (skip_bad_rows: true)
    notes: list[RowProblem] = field(default_factory=list)  # kept rows that were changed (ids normalised)
    excluded: pl.DataFrame | None = None  # videos the anchor policy could not match (dataset, id, label, reason)
    problems: list[str] = field(default_factory=list)  # sources that failed, splits missing a class (strict=False)
    warnings: list[str] = field(default_factory=list)  # val/test splits too small to rank on
    shared_files: list[str] = field(default_factory=list)  # files listed by more than one dataset


def synthetic_dir(root: Path, source: DatasetSource) -> Path:
    return root / source.name


def materialize_synthetic(source: DatasetSource, root: Path, *, progress: bool = True) -> Path:
    """Generate (or resume generating) a synthetic dataset; returns its Nexar-format folder."""
    from archsearch.data.synth import DEFAULT_SPECS, SyntheticSpec, generate_dataset

    base = DEFAULT_SPECS.get(source.name)
    fields = base.to_dict() if base is not None else {}
    fields.update(source.synthetic)
    fields["name"] = source.name
    try:
        spec = SyntheticSpec(**fields)
    except TypeError as exc:
        raise ValueError(f"dataset {source.name!r}: bad synthetic settings {source.synthetic}: {exc}") from exc
    out = synthetic_dir(root, source)
    generate_dataset(out, spec, progress=progress)
    return out


def synthetic_meta(folder: Path) -> tuple[dict[str, str], dict[str, float]]:
    """Scenario per video and the generator's anchors for negatives (near misses: closest approach)."""
    meta = folder / "synthetic.json"
    if not meta.is_file():
        return {}, {}
    videos = json.loads(meta.read_text()).get("videos", [])
    scenarios = {str(v["id"]): str(v.get("scenario", "unknown")) for v in videos}
    anchors = {
        str(v["id"]): float(v["anchor_time"])
        for v in videos
        if v.get("anchor_time") is not None and not v.get("target")
    }
    return scenarios, anchors


def load_source(
    source: DatasetSource,
    datasets_root: Path,
    *,
    skip_bad_rows: bool,
    progress: bool = True,
    prober: ClipProber | None = None,
) -> tuple[LoadResult, dict[str, float]]:
    """Load one source; returns (LoadResult, known anchors for negatives by video id)."""
    if source.kind == "synthetic":
        folder = materialize_synthetic(source, datasets_root, progress=progress)
        scenarios, anchors = synthetic_meta(folder)
        result = load_nexar(
            folder, dataset=source.name, skip_bad_rows=skip_bad_rows, scenarios=scenarios, prober=prober
        )
        return result, anchors
    if source.kind == "nexar":
        return load_nexar(source.path, dataset=source.name, skip_bad_rows=skip_bad_rows, prober=prober), {}
    if source.kind == "csv":
        return load_generic_csv(source.path, dataset=source.name, skip_bad_rows=skip_bad_rows, prober=prober), {}
    raise ValueError(f"dataset {source.name!r}: unknown kind {source.kind!r}")


def shared_files(table: pl.DataFrame) -> list[str]:
    """Files (by content digest) that more than one dataset lists: decoded once, listed here."""
    multi = (
        table.group_by("video_digest")
        .agg(pl.col("dataset").n_unique().alias("n"), (pl.col("dataset") + "/" + pl.col("video_id")).alias("where"))
        .filter(pl.col("n") > 1)
        .sort("video_digest")
    )
    return [f"{d}: {', '.join(sorted(w))}" for d, _, w in multi.iter_rows()]


def build_manifest(
    config: ProjectConfig,
    datasets_root: Path,
    *,
    progress: bool = True,
    strict: bool = True,
    skip_bad_rows: bool | None = None,
) -> ManifestBuild:
    """Load every source, match anchors, assign splits and check them.

    strict=True raises ManifestError when a split of a dataset misses a class (naming the
    dataset, the split and the counts); strict=False returns those problems instead (check-data).
    skip_bad_rows defaults to the config's.
    """
    skip = config.skip_bad_rows if skip_bad_rows is None else skip_bad_rows
    prober = ClipProber(config.decode.backend)
    tables, skipped, notes, given, problems = [], [], [], {}, []
    for source in config.datasets:
        try:
            result, anchors = load_source(source, datasets_root, skip_bad_rows=skip, progress=progress, prober=prober)
        except ManifestError as e:
            if strict:
                raise
            skipped.extend(e.problems)
            problems.append(f"dataset {source.name!r}: {str(e).splitlines()[0]}")
            continue
        tables.append(result.table)
        skipped.extend(result.skipped)
        notes.extend(result.notes)
        given.update({(source.name, vid): t for vid, t in anchors.items()})
    matched = match_anchors(concat_tables(tables), seed=config.splits.seed, given=given)
    table = assign_splits(matched.table, config.splits.fractions, seed=config.splits.seed)
    table = table.select(list(MANIFEST_SCHEMA)).cast(MANIFEST_SCHEMA)
    problems += split_problems(table, config.splits.fractions)
    if problems and strict:
        raise ManifestError("splits without both classes:\n  " + "\n  ".join(problems))
    return ManifestBuild(
        manifest=table,
        split_hash=split_hash(table),
        skipped=skipped,
        notes=notes,
        excluded=matched.excluded,
        problems=problems,
        warnings=split_warnings(table),
        shared_files=shared_files(table),
    )


def write_manifest(manifest: pl.DataFrame, path: Path) -> Path:
    """Write atomically: readers never see a half-written manifest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".parquet.tmp")
    os.close(fd)
    try:
        manifest.write_parquet(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_manifest(path: Path) -> pl.DataFrame:
    """The manifest at ``path``; errors say to (re)materialize `videos` when it is missing or outdated."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest yet; materialize the `videos` asset first")
    table = pl.read_parquet(path)
    missing = [c for c in MANIFEST_SCHEMA if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: manifest lacks column(s) {missing}; rebuild it by re-materializing `videos`")
    return table
