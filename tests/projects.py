"""Small real projects for tests: a Nexar-format folder of tiny clips, tiny search spaces, campaign configs."""

from __future__ import annotations

from pathlib import Path

import yaml

from archsearch.config import DEFAULT_CONFIG_PATH, load_config
from assets.features import build_features
from assets.resources import ArchsearchResource, LLMKeysResource
from tests.conftest import write_test_video

# The `features` asset with the embedded default's backbones (tests pick partitions from these).
DEFAULT_BACKBONES = load_config(DEFAULT_CONFIG_PATH).backbones


def nexar_project(tmp_path: Path, n: int = 8) -> Path:
    """A Nexar-format folder of ``n`` 3 s clips (odd ones positive) and a project config over it.

    A split depends on the video's id and the split seed only; seed 16 gives 8 clips a split layout
    in which every split holds both classes (``videos`` refuses one that does not).
    """
    folder = tmp_path / "nexar"
    lines = ["id,target,time_of_event,time_of_alert"]
    for i in range(n):
        write_test_video(folder / "train" / f"{i:05d}.mp4", n_frames=60, fps=20)  # 3 s
        lines.append(f"{i:05d},{i % 2},{'2.5' if i % 2 else ''},{'2.0' if i % 2 else ''}")
    (folder / "train.csv").write_text("\n".join(lines) + "\n")
    cfg = tmp_path / "project.yaml"
    cfg.write_text(
        f"datasets:\n  - {{name: nx, kind: nexar, path: {folder}}}\n"
        "backbones: [pixels, motion]\nfeatures: {workers: 1}\nsplits: {seed: 16}\n"
    )
    return cfg


# A 4-cell space over the pixels backbone: experiments train in seconds.
TINY_SPACE_YAML = """
name: tiny
groups:
  architecture:
    backbone: [pixels]
    encoder: [gru, retention]
    pooling: [mean, attention]
  training:
    loss: [bce]
    lr: [3.0e-3]
    weight_decay: [0.0]
    window_length: [8]
    epochs: [3]
"""

# A 16-cell space over two backbones: enough for campaign rounds, no data needed to propose.
CAMPAIGN_SPACE = {
    "name": "tiny",
    "groups": {
        "architecture": {"backbone": ["motion", "pixels"], "encoder": ["gru", "retention"], "pooling": ["mean", "max"]},
        "training": {"lr": [1.0e-3, 3.0e-3], "epochs": [5, 10]},
    },
}


def write_project(tmp_path, **campaign) -> str:
    """A project config (tiny space, no data needed to propose) with the given campaign section."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(CAMPAIGN_SPACE))
    section = {
        "name": "c1",
        "agents": {"architecture_first": 1, "tpe": 1, "random": 1},
        "round_size": 4,
        "max_experiments": 12,
        "max_in_flight": 2,
        "min_queued": 2,
        **campaign,
    }
    raw = {
        "datasets": [{"name": "synth", "kind": "synthetic"}],
        "backbones": ["motion", "pixels"],
        "space": str(tmp_path / "space.yaml"),
        "campaign": section,
    }
    path = tmp_path / "project.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def resources(tmp_path, config_path, **keys) -> dict:
    return {
        "archsearch": ArchsearchResource(config_path=config_path, data_root=str(tmp_path / "home")),
        "llm_keys": LLMKeysResource(**keys),
    }


def default_features():
    """The `features` asset and its check over the embedded default's backbones."""
    return build_features(DEFAULT_BACKBONES)
