"""The project configuration: one YAML file with datasets, splits, backbones, space, campaign and study.

``load_config`` is the one loader: the Dagster definitions read it once when they load (static
partitions need the backbone list before any run), and every asset, sensor and CLI command reads
the same file through it. ``ARCHSEARCH_CONFIG`` points at a user's copy; the embedded default
(``default.yaml``) needs no data and no downloads. Every error names the file and the key.
"""

from archsearch.config.campaign import (
    KEY_ENV,
    LLM_AGENTS,
    OFFLINE_AGENTS,
    BreakerConfig,
    CampaignConfig,
    LLMSettings,
    parse_campaign,
)
from archsearch.config.errors import ConfigError, config_error
from archsearch.config.project import (
    DATASET_KINDS,
    DECODE_BACKENDS,
    DEFAULT_CONFIG_PATH,
    DatasetSource,
    DecodeConfig,
    FeatureConfig,
    PrecomputedSource,
    ProjectConfig,
    SplitConfig,
    config_path,
    load_config,
    parse_config,
)
from archsearch.config.study import StudyConfig, campaign_name, parse_study

__all__ = [
    "DATASET_KINDS",
    "DECODE_BACKENDS",
    "DEFAULT_CONFIG_PATH",
    "KEY_ENV",
    "LLM_AGENTS",
    "OFFLINE_AGENTS",
    "BreakerConfig",
    "CampaignConfig",
    "ConfigError",
    "DatasetSource",
    "DecodeConfig",
    "FeatureConfig",
    "LLMSettings",
    "PrecomputedSource",
    "ProjectConfig",
    "SplitConfig",
    "StudyConfig",
    "campaign_name",
    "config_error",
    "config_path",
    "load_config",
    "parse_campaign",
    "parse_config",
    "parse_study",
]
