"""The project configuration: which datasets, splits and (later) backbones and campaigns.

It is one YAML file so that definitions can read it at load time (static partitions need the
backbone list before any run) and users have one place to edit. ``ARCHSEARCH_CONFIG`` points
at a user's copy; the embedded default needs no data and no downloads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default.yaml")
DATASET_KINDS = ("synthetic", "nexar", "csv")


class ConfigError(ValueError):
    """The project configuration is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class DatasetSource:
    name: str
    kind: str
    path: str | None = None
    synthetic: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SplitConfig:
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    seed: int = 0


@dataclass(frozen=True)
class ProjectConfig:
    source: str
    datasets: tuple[DatasetSource, ...]
    splits: SplitConfig = SplitConfig()
    skip_bad_rows: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def dataset(self, name: str) -> DatasetSource:
        for d in self.datasets:
            if d.name == name:
                return d
        raise ConfigError(f"{self.source}: no dataset named {name!r}; configured: {[d.name for d in self.datasets]}")


def _err(source: str, key: str, msg: str) -> ConfigError:
    return ConfigError(f"{source}: {key}: {msg}")


def _parse_dataset(source: str, i: int, raw: Any) -> DatasetSource:
    key = f"datasets[{i}]"
    if not isinstance(raw, dict):
        raise _err(source, key, f"expected a mapping with name and kind, got {raw!r}")
    unknown = set(raw) - {"name", "kind", "path", "synthetic"}
    if unknown:
        raise _err(source, key, f"unknown key(s) {sorted(unknown)}; allowed: name, kind, path, synthetic")
    name = raw.get("name")
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise _err(source, f"{key}.name", f"expected a short identifier (letters, digits, _ or -), got {name!r}")
    kind = raw.get("kind")
    if kind not in DATASET_KINDS:
        raise _err(source, f"{key}.kind", f"expected one of {list(DATASET_KINDS)}, got {kind!r}")
    path = raw.get("path")
    if kind in ("nexar", "csv") and not isinstance(path, str):
        raise _err(source, f"{key}.path", f"a {kind} dataset needs a path (string), got {path!r}")
    synthetic = raw.get("synthetic") or {}
    if not isinstance(synthetic, dict):
        raise _err(source, f"{key}.synthetic", f"expected a mapping of generator settings, got {synthetic!r}")
    return DatasetSource(name=name, kind=kind, path=os.path.expanduser(path) if path else None, synthetic=synthetic)


def parse_config(raw: Any, source: str = "<config>") -> ProjectConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(raw).__name__}")
    datasets_raw = raw.get("datasets")
    if not isinstance(datasets_raw, list) or not datasets_raw:
        raise _err(source, "datasets", "expected a non-empty list of dataset sources")
    datasets = tuple(_parse_dataset(source, i, d) for i, d in enumerate(datasets_raw))
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        raise _err(source, "datasets", f"dataset names must be unique, got {names}")
    splits_raw = raw.get("splits") or {}
    if not isinstance(splits_raw, dict):
        raise _err(source, "splits", f"expected a mapping, got {splits_raw!r}")
    fractions = splits_raw.get("fractions", [0.7, 0.15, 0.15])
    if (
        not isinstance(fractions, list | tuple)
        or len(fractions) != 3
        or not all(isinstance(f, int | float) and f >= 0 for f in fractions)
        or abs(sum(fractions) - 1) > 1e-6
    ):
        raise _err(source, "splits.fractions", f"expected [train, val, test] non-negative and summing to 1, got {fractions!r}")
    seed = splits_raw.get("seed", 0)
    if not isinstance(seed, int):
        raise _err(source, "splits.seed", f"expected an integer, got {seed!r}")
    skip = raw.get("skip_bad_rows", False)
    if not isinstance(skip, bool):
        raise _err(source, "skip_bad_rows", f"expected true or false, got {skip!r}")
    known = {"datasets", "splits", "skip_bad_rows"}
    return ProjectConfig(
        source=source,
        datasets=datasets,
        splits=SplitConfig(tuple(float(f) for f in fractions), seed),
        skip_bad_rows=skip,
        extra={k: v for k, v in raw.items() if k not in known},
    )


def config_path() -> Path:
    env = os.environ.get("ARCHSEARCH_CONFIG")
    return Path(env).expanduser() if env else DEFAULT_CONFIG_PATH


def load_config(path: str | Path | None = None) -> ProjectConfig:
    path = Path(path) if path else config_path()
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found (set ARCHSEARCH_CONFIG or pass a path)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_config(raw, str(path))
