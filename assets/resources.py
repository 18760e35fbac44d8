"""Resources: where the data lives, which project configuration is in force, and the LLM API keys."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from archsearch import paths
from archsearch.campaign.config import KEY_ENV
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


class LLMKeysResource(dg.ConfigurableResource):
    """API keys of the LLM agents, only ever from the environment (see :func:`llm_keys_from_env`).

    Dagster shows an ``EnvVar`` field by its variable name, never its value, so keys stay out of the
    UI, run config and logs. A key set after the code location loaded needs a reload.
    """

    anthropic_api_key: str | None = None
    gemini_api_key: str | None = None

    def env(self) -> dict[str, str]:
        """The keys as the campaign core reads them: {env var name: key} for the keys that are set."""
        keys = {"claude": self.anthropic_api_key, "gemini": self.gemini_api_key}
        return {KEY_ENV[agent]: key for agent, key in keys.items() if key}


_KEY_FIELDS = {"claude": "anthropic_api_key", "gemini": "gemini_api_key"}


def llm_keys_from_env() -> LLMKeysResource:
    """An ``EnvVar`` field for each key variable that is set (an unset EnvVar would fail every run)."""
    fields = {field: dg.EnvVar(KEY_ENV[agent]) for agent, field in _KEY_FIELDS.items() if os.environ.get(KEY_ENV[agent])}
    return LLMKeysResource(**fields)


def default_resources() -> dict:
    return {
        # Unset fields fall back to ARCHSEARCH_CONFIG / ARCHSEARCH_HOME at run time, so the
        # same code location serves the demo and a user's own data without edits.
        "archsearch": ArchsearchResource(),
        "llm_keys": llm_keys_from_env(),
    }
