"""Turn the configured dataset sources into one manifest with anchors and splits.

The synthetic set is written in the Nexar format and then read back through the very same
loader a user's Nexar folder goes through, so the embedded demo exercises the real path.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from archsearch.config import DatasetSource, ProjectConfig
from archsearch.data.manifest import MANIFEST_SCHEMA, RowProblem, concat_tables, load_generic_csv, load_nexar
from archsearch.data.splits import assign_anchors, assign_splits, split_hash


@dataclass
class ManifestBuild:
    manifest: pl.DataFrame
    split_hash: str
    skipped: list[RowProblem] = field(default_factory=list)


def synthetic_dir(root: Path, source: DatasetSource) -> Path:
    return root / source.name


def materialize_synthetic(source: DatasetSource, root: Path, *, progress: bool = True) -> Path:
    """Generate (or resume generating) a synthetic dataset; returns its Nexar-format folder."""
    from archsearch.data.synthetic import DEFAULT_SPECS, SyntheticSpec

    base = DEFAULT_SPECS.get(source.name)
    fields = base.to_dict() if base is not None else {}
    fields.update(source.synthetic)
    fields["name"] = source.name
    try:
        spec = SyntheticSpec(**fields)
    except TypeError as exc:
        raise ValueError(f"dataset {source.name!r}: bad synthetic settings {source.synthetic}: {exc}") from exc
    out = synthetic_dir(root, source)
    from archsearch.data.synthetic import generate_dataset

    generate_dataset(out, spec, progress=progress)
    return out


def _synthetic_meta(folder: Path) -> tuple[dict[str, str], dict[str, float]]:
    """Scenario per video and the generator's anchors for negatives (near misses: closest approach)."""
    meta = folder / "synthetic.json"
    if not meta.is_file():
        return {}, {}
    videos = json.loads(meta.read_text()).get("videos", [])
    scenarios = {str(v["id"]): str(v.get("scenario", "unknown")) for v in videos}
    anchors = {str(v["id"]): float(v["anchor_time"]) for v in videos if v.get("anchor_time") is not None and not v.get("target")}
    return scenarios, anchors


def load_source(source: DatasetSource, datasets_root: Path, *, skip_bad_rows: bool, progress: bool = True):
    """Load one source; returns (LoadResult, known anchors for negatives by video id)."""
    if source.kind == "synthetic":
        folder = materialize_synthetic(source, datasets_root, progress=progress)
        scenarios, anchors = _synthetic_meta(folder)
        result = load_nexar(folder, dataset=source.name, skip_bad_rows=skip_bad_rows, scenarios=scenarios)
        return result, anchors
    if source.kind == "nexar":
        return load_nexar(source.path, dataset=source.name, skip_bad_rows=skip_bad_rows), {}
    if source.kind == "csv":
        return load_generic_csv(source.path, dataset=source.name, skip_bad_rows=skip_bad_rows), {}
    raise ValueError(f"dataset {source.name!r}: unknown kind {source.kind!r}")


def build_manifest(config: ProjectConfig, datasets_root: Path, *, progress: bool = True) -> ManifestBuild:
    tables, skipped, given = [], [], {}
    for source in config.datasets:
        result, anchors = load_source(source, datasets_root, skip_bad_rows=config.skip_bad_rows, progress=progress)
        tables.append(result.table)
        skipped.extend(result.skipped)
        given.update({(source.name, vid): t for vid, t in anchors.items()})
    table = concat_tables(tables)
    table = assign_anchors(table, seed=config.splits.seed, given=given)
    table = assign_splits(table, config.splits.fractions, seed=config.splits.seed)
    table = table.select(list(MANIFEST_SCHEMA)).cast(MANIFEST_SCHEMA)
    return ManifestBuild(manifest=table, split_hash=split_hash(table), skipped=skipped)


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
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest yet; materialize the `videos` asset first")
    table = pl.read_parquet(path)
    missing = [c for c in MANIFEST_SCHEMA if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: manifest lacks column(s) {missing}; rebuild it by re-materializing `videos`")
    return table
