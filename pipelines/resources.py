"""Resources: where the data lives and which project configuration is in force."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from archsearch import paths
from archsearch.config import ProjectConfig, load_config


class ArchsearchResource(dg.ConfigurableResource):
    """The project's data root and configuration file (defaults: env vars, then the embedded demo)."""

    config_path: str | None = None
    data_root: str | None = None
    # Torch threads per experiment: 1, with one experiment in flight per core, beats one experiment
    # using every core (measured 1.7x on 2 cores); None leaves torch's default.
    experiment_threads: int | None = 1
    # Experiments trained side by side when a run covers several partitions (None: one per core).
    experiment_workers: int | None = None

    def project(self) -> ProjectConfig:
        return load_config(self.config_path)

    def root(self) -> Path:
        root = Path(self.data_root).expanduser().resolve() if self.data_root else paths.data_root()
        root.mkdir(parents=True, exist_ok=True)
        return root

    def datasets_dir(self) -> Path:
        return self.root() / "datasets"

    def features_dir(self) -> Path:
        return self.root() / "features"

    def manifest_path(self) -> Path:
        return self.root() / "manifests" / "manifest.parquet"


def default_resources() -> dict:
    return {
        # Unset fields fall back to ARCHSEARCH_CONFIG / ARCHSEARCH_HOME at run time, so the
        # same code location serves the demo and a user's own data without edits.
        "archsearch": ArchsearchResource()
    }
