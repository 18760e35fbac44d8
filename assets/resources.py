"""Resources: where the data lives, which project configuration is in force, and the LLM API keys."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from archsearch.common import DataLayout, data_root, local_folder
from archsearch.config import KEY_ENV, ProjectConfig, load_config
from archsearch.space import SearchSpace


class ArchsearchResource(dg.ConfigurableResource):
    """The project's data root and configuration file (defaults: env vars, then the embedded demo).

    ``project()`` is the one way every asset, sensor and driver reads the project configuration, and
    the definitions are built from the same call, so partitions and runs never see different files.
    """

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
        root = local_folder(self.data_root, "ArchsearchResource.data_root") if self.data_root else data_root()
        root.mkdir(parents=True, exist_ok=True)
        return root

    def layout(self) -> DataLayout:
        return DataLayout(self.root())

    def datasets_dir(self) -> Path:
        return self.layout().datasets

    def features_dir(self) -> Path:
        return self.layout().features

    def manifest_path(self) -> Path:
        return self.layout().manifest

    def search_space_or_none(self, log) -> SearchSpace | None:
        """The configured search space (for the architecture/training split); None falls back to the paper's names."""
        try:
            return self.project().search_space()
        except Exception as exc:  # noqa: BLE001 - an unreadable config must not hide the results we do have
            log.warning(f"search space unavailable ({exc}); using the default dimension names")
            return None


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


KEY_FIELDS = {"claude": "anthropic_api_key", "gemini": "gemini_api_key"}


def llm_keys_from_env() -> LLMKeysResource:
    """An ``EnvVar`` field for each key variable that is set (an unset EnvVar would fail every run)."""
    fields = {field: dg.EnvVar(KEY_ENV[agent]) for agent, field in KEY_FIELDS.items() if os.environ.get(KEY_ENV[agent])}
    return LLMKeysResource(**fields)
