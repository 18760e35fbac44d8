"""The data the calibration measures: the project's manifest and cached features, made if missing.

It goes through the same library calls as the ``videos`` and ``features`` assets (generate and
load every configured dataset, match anchors, assign splits, extract each backbone with the
configured runtime), so running it after ``make demo`` reuses everything the demo made, and
running it first leaves a cache the demo reuses.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from archsearch.common import DataLayout
from archsearch.config import ProjectConfig
from archsearch.data.datasets import build_manifest, synthetic_dir, write_manifest
from archsearch.features import FeatureGroup, FeatureStore
from archsearch.features.extraction import (
    BackboneRecipe,
    compiled_cache_dir,
    default_workers,
    extract_dataset,
    load_split_features,
    open_group,
)


@dataclass
class Prepared:
    """The manifest (and where it was written), each synthetic dataset's folder and variant, and the
    feature groups per (dataset, backbone)."""

    manifest: pl.DataFrame
    manifest_path: Path
    folders: dict[str, Path]  # synthetic dataset -> its generated folder
    variants: dict[str, str]  # synthetic dataset -> front | side
    groups: dict[tuple[str, str], FeatureGroup]
    seconds: dict[str, float]


def with_difficulty(config: ProjectConfig, difficulty: float) -> ProjectConfig:
    """The config with every synthetic dataset at ``difficulty``, renamed ``<name>_d<difficulty>`` so its
    videos never mix with the default ones (the other generator settings are the dataset's own)."""
    from archsearch.data.synth import DEFAULT_SPECS

    sources = []
    for d in config.datasets:
        if d.kind == "synthetic":
            base = DEFAULT_SPECS[d.name].to_dict() if d.name in DEFAULT_SPECS else {}
            base.pop("name", None)
            d = replace(
                d, name=f"{d.name}_d{difficulty:g}", synthetic={**base, **d.synthetic, "difficulty": difficulty}
            )
        sources.append(d)
    return replace(config, datasets=tuple(sources), campaign=replace(config.campaign, dataset=sources[0].name))


def prepare(
    config: ProjectConfig,
    layout: DataLayout,
    backbones: list[str],
    datasets: list[str],
    log: Callable[[str], None] = print,
    tag: str = "default",
) -> Prepared:
    """Generate, load and extract what is missing; returns where everything is.

    The manifest goes to ``<data root>/calibration/manifest-<tag>.parquet``, never over the one the
    ``videos`` asset owns (same videos, anchors and splits: it is built by the same call).
    """
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    build = build_manifest(config, layout.datasets, progress=False)
    manifest_path = write_manifest(build.manifest, layout.root / "calibration" / f"manifest-{tag}.parquet")
    seconds["videos"] = round(time.perf_counter() - t0, 1)
    manifest = build.manifest.filter(pl.col("dataset").is_in(datasets))
    sources = {s.name: s for s in config.datasets}
    folders = {d: synthetic_dir(layout.datasets, sources[d]) for d in datasets}
    variants = {d: json.loads((folders[d] / "synthetic.json").read_text())["spec"]["variant"] for d in datasets}
    store = FeatureStore(layout.features)
    groups = {}
    for name in backbones:
        t0 = time.perf_counter()
        cfg = config.features
        recipe = BackboneRecipe(
            name, cfg.weights_dir, cfg.batch_size, cfg.device, cfg.runtime, str(compiled_cache_dir(store))
        )
        backbone = recipe.build()
        for (dataset,), part in manifest.group_by("dataset", maintain_order=True):
            report = extract_dataset(
                part, backbone, store, recipe=recipe, progress=False, workers=cfg.workers or default_workers(backbone)
            )
            groups[(str(dataset), name)] = open_group(store, str(dataset), backbone)
            log(f"features {name}/{dataset}: {report.misses} extracted, {report.hits} cached")
        seconds[f"features_{name}"] = round(time.perf_counter() - t0, 1)
    return Prepared(manifest, manifest_path, folders, variants, groups, seconds)


def split_features(group: FeatureGroup, rows: pl.DataFrame) -> dict[str, dict]:
    """{split: {video id: ((T, D) features, (T,) times)}} for one dataset's manifest rows."""
    return {s: load_split_features(group, rows, s) for s in ("train", "val", "test")}
