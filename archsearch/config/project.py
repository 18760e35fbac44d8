"""The project configuration: which datasets, splits, backbones, search space and campaign.

It is one YAML file so that definitions can read it at load time (static partitions need the
backbone list before any run) and users have one place to edit. ``ARCHSEARCH_CONFIG`` points
at a user's copy; the embedded default needs no data and no downloads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from archsearch.config.campaign import CampaignConfig, parse_campaign
from archsearch.config.errors import ConfigError, config_error
from archsearch.config.keys import check_tree, sections_of
from archsearch.config.space_check import load_project_space
from archsearch.config.study import StudyConfig, parse_study
from archsearch.config.synthetic import check_synthetic
from archsearch.space import SearchSpace, load_space

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default.yaml")
DATASET_KINDS = ("synthetic", "nexar", "csv")
DECODE_BACKENDS = ("auto", "pyav", "decord")


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
class FeatureConfig:
    """How features are extracted: shared by every backbone partition."""

    batch_size: int = 32
    workers: int | None = None  # None: one single-threaded process per core on CPU, 1 on GPU
    device: str | None = None  # None: CUDA when present
    weights_dir: str | None = None  # root with one folder per paper-set backbone
    runtime: str = "auto"  # torch | openvino | openvino-bf16 | auto (models.backbones.engines)


@dataclass(frozen=True)
class DecodeConfig:
    """Which decoder reads the videos: auto (per file: decord only where it provably returns the
    container's frames at the container's times, else PyAV), pyav, or decord (fails on files it misreads)."""

    backend: str = "auto"


@dataclass(frozen=True)
class PrecomputedSource:
    """External features in HDF5, imported as backbone ``precomputed:<name>`` for one dataset."""

    path: str
    dataset: str


@dataclass(frozen=True)
class ProjectConfig:
    source: str
    datasets: tuple[DatasetSource, ...]
    splits: SplitConfig = SplitConfig()
    skip_bad_rows: bool = False
    backbones: tuple[str, ...] = ()
    features: FeatureConfig = FeatureConfig()
    decode: DecodeConfig = DecodeConfig()
    precomputed: dict[str, PrecomputedSource] = field(default_factory=dict)
    space: str = "demo"  # a packaged space name ("demo", "paper") or a path to a space YAML
    campaign: CampaignConfig = field(default_factory=CampaignConfig)  # see archsearch.config.campaign
    study: StudyConfig = field(default_factory=StudyConfig)  # see archsearch.config.study

    def __post_init__(self) -> None:
        if self.campaign.dataset is None and self.datasets:  # the documented default: the first dataset
            object.__setattr__(self, "campaign", replace(self.campaign, dataset=self.datasets[0].name))

    def search_space(self) -> SearchSpace:
        """The configured search space, with its backbones checked against the configured ones."""
        space = load_space(self.space)
        missing = [b for b in space.values("backbone") if b not in self.backbones]
        if missing:
            raise ConfigError(
                f"{self.source}: space {space.name!r} uses backbone(s) {missing} that are not in `backbones` "
                f"{list(self.backbones)}: add them there so their features get extracted"
            )
        return space

    def dataset(self, name: str) -> DatasetSource:
        for d in self.datasets:
            if d.name == name:
                return d
        raise ConfigError(f"{self.source}: no dataset named {name!r}; configured: {[d.name for d in self.datasets]}")


def _parse_dataset(source: str, i: int, raw: Any) -> DatasetSource:
    key = f"datasets[{i}]"
    if not isinstance(raw, dict):
        raise config_error(source, key, f"expected a mapping with name and kind, got {raw!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise config_error(
            source, f"{key}.name", f"expected a short identifier (letters, digits, _ or -), got {name!r}"
        )
    kind = raw.get("kind")
    if kind not in DATASET_KINDS:
        raise config_error(source, f"{key}.kind", f"expected one of {list(DATASET_KINDS)}, got {kind!r}")
    path = raw.get("path")
    if kind in ("nexar", "csv") and not isinstance(path, str):
        raise config_error(source, f"{key}.path", f"a {kind} dataset needs a path (string), got {path!r}")
    synthetic = check_synthetic(source, f"{key}.synthetic", raw.get("synthetic"))
    return DatasetSource(name=name, kind=kind, path=os.path.expanduser(path) if path else None, synthetic=synthetic)


def parse_config(raw: Any, source: str = "<config>") -> ProjectConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(raw).__name__}")
    check_tree(raw, source, project_schema())  # unknown keys anywhere, with a did-you-mean
    datasets_raw = raw.get("datasets")
    if not isinstance(datasets_raw, list) or not datasets_raw:
        raise config_error(source, "datasets", "expected a non-empty list of dataset sources")
    datasets = tuple(_parse_dataset(source, i, d) for i, d in enumerate(datasets_raw))
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        raise config_error(source, "datasets", f"dataset names must be unique, got {names}")
    splits_raw = raw.get("splits") or {}
    if not isinstance(splits_raw, dict):
        raise config_error(source, "splits", f"expected a mapping, got {splits_raw!r}")
    fractions = splits_raw.get("fractions", [0.7, 0.15, 0.15])
    if (
        not isinstance(fractions, list | tuple)
        or len(fractions) != 3
        or not all(isinstance(f, int | float) and not isinstance(f, bool) and f > 0 for f in fractions)
        or abs(sum(fractions) - 1) > 1e-6
    ):
        raise config_error(
            source,
            "splits.fractions",
            f"expected [train, val, test], each > 0 (every split needs clips) and summing to 1, got {fractions!r}",
        )
    seed = splits_raw.get("seed", 0)
    if not isinstance(seed, int):
        raise config_error(source, "splits.seed", f"expected an integer, got {seed!r}")
    skip = raw.get("skip_bad_rows", False)
    if not isinstance(skip, bool):
        raise config_error(source, "skip_bad_rows", f"expected true or false, got {skip!r}")
    precomputed = _parse_precomputed(source, raw.get("precomputed") or {})
    backbones = _parse_backbones(source, raw.get("backbones"), precomputed)
    features = _parse_features(source, raw.get("features") or {})
    decode = _parse_decode(source, raw.get("decode") or {})
    for name, pre in precomputed.items():
        if pre.dataset not in names:
            raise config_error(
                source, f"precomputed.{name}.dataset", f"no dataset named {pre.dataset!r}; configured: {names}"
            )
    space = raw.get("space", "demo")
    if not isinstance(space, str) or not space:
        raise config_error(
            source, "space", f"expected a space name (demo, paper) or a path to a space YAML, got {space!r}"
        )
    campaign = parse_campaign(raw.get("campaign"), source, names)
    load_project_space(source, space, backbones, precomputed, campaign.backbones)  # names checked at load
    return ProjectConfig(
        source=source,
        datasets=datasets,
        splits=SplitConfig(tuple(float(f) for f in fractions), seed),
        skip_bad_rows=skip,
        backbones=backbones,
        features=features,
        decode=decode,
        precomputed=precomputed,
        space=space,
        campaign=campaign,
        study=parse_study(raw.get("study"), source, names),
    )


def project_schema() -> dict[str, Any]:
    """The keys each section allows, from the dataclasses that hold them (see archsearch.config.keys)."""
    return sections_of(
        ProjectConfig,
        {"datasets": [DatasetSource], "precomputed": {"*": PrecomputedSource}, "campaign": None},
        exclude=("source",),
    )


def _parse_precomputed(source: str, raw: Any) -> dict[str, PrecomputedSource]:
    if not isinstance(raw, dict):
        raise config_error(source, "precomputed", f"expected a mapping name -> {{path, dataset}}, got {raw!r}")
    out = {}
    for name, spec in raw.items():
        key = f"precomputed.{name}"
        if not isinstance(spec, dict) or set(spec) != {"path", "dataset"}:
            raise config_error(source, key, f"expected {{path: <file.h5>, dataset: <dataset name>}}, got {spec!r}")
        if not all(isinstance(spec[k], str) for k in ("path", "dataset")):
            raise config_error(source, key, f"path and dataset must be strings, got {spec!r}")
        out[str(name)] = PrecomputedSource(os.path.expanduser(spec["path"]), spec["dataset"])
    return out


def _parse_backbones(source: str, raw: Any, precomputed: dict[str, PrecomputedSource]) -> tuple[str, ...]:
    from models.backbones.registry import OFFLINE_DEFAULT, available_backbones

    if raw is None:
        return tuple(OFFLINE_DEFAULT)
    if not isinstance(raw, list) or not raw or not all(isinstance(b, str) for b in raw):
        raise config_error(source, "backbones", f"expected a non-empty list of backbone names, got {raw!r}")
    known = set(available_backbones()) | {f"precomputed:{n}" for n in precomputed}
    for i, name in enumerate(raw):
        if name not in known:
            raise config_error(
                source,
                f"backbones[{i}]",
                f"unknown backbone {name!r}; available: {sorted(known)} "
                "(external features: list them under `precomputed:` and name them precomputed:<name>)",
            )
    if len(set(raw)) != len(raw):
        raise config_error(source, "backbones", f"names must be unique, got {raw}")
    return tuple(raw)


def _parse_features(source: str, raw: Any) -> FeatureConfig:
    if not isinstance(raw, dict):
        raise config_error(source, "features", f"expected a mapping, got {raw!r}")
    batch = raw.get("batch_size", 32)
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise config_error(source, "features.batch_size", f"expected a positive integer, got {batch!r}")
    workers = raw.get("workers")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise config_error(source, "features.workers", f"expected a positive integer or null, got {workers!r}")
    device = raw.get("device")
    if device is not None and not (isinstance(device, str) and device.split(":")[0] in ("cpu", "cuda", "mps")):
        raise config_error(source, "features.device", f"expected cpu, cuda, cuda:N, mps or null, got {device!r}")
    weights_dir = raw.get("weights_dir")
    if weights_dir is not None and not isinstance(weights_dir, str):
        raise config_error(source, "features.weights_dir", f"expected a folder path or null, got {weights_dir!r}")
    from models.backbones.engines import RUNTIMES

    runtime = raw.get("runtime", "auto")
    if runtime not in RUNTIMES:
        raise config_error(source, "features.runtime", f"expected one of {', '.join(RUNTIMES)}, got {runtime!r}")
    return FeatureConfig(batch, workers, device, os.path.expanduser(weights_dir) if weights_dir else None, runtime)


def _parse_decode(source: str, raw: Any) -> DecodeConfig:
    if not isinstance(raw, dict):
        raise config_error(source, "decode", f"expected a mapping like {{backend: auto}}, got {raw!r}")
    backend = raw.get("backend", "auto")
    if backend not in DECODE_BACKENDS:
        raise config_error(source, "decode.backend", f"expected one of {list(DECODE_BACKENDS)}, got {backend!r}")
    return DecodeConfig(backend)


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
