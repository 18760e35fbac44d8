"""The project config: the embedded default loads; every bad key is named."""

from __future__ import annotations

import pytest

from archsearch.config import ConfigError, load_config, parse_config


def test_default_config_loads():
    cfg = load_config()
    assert [d.name for d in cfg.datasets] == ["synth_front", "synth_side"]
    assert cfg.splits.fractions == (0.5, 0.25, 0.25)  # large val and test splits, so rankings transfer
    assert cfg.campaign.backbones == ("efficientnet_lite0", "motion", "pixels")


def test_a_config_without_splits_gets_seventy_fifteen_fifteen(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("datasets:\n  - {name: nx, kind: nexar, path: /data/nx}\n")
    assert load_config(p).splits.fractions == (0.7, 0.15, 0.15)


def test_env_var_selects_config(tmp_path, monkeypatch):
    p = tmp_path / "mine.yaml"
    p.write_text("datasets:\n  - {name: nx, kind: nexar, path: /data/nx}\n")
    monkeypatch.setenv("ARCHSEARCH_CONFIG", str(p))
    assert load_config().datasets[0].path == "/data/nx"


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ({}, "datasets: expected a non-empty list"),
        ({"datasets": [{"name": "x", "kind": "youtube"}]}, "datasets[0].kind: expected one of"),
        ({"datasets": [{"name": "x", "kind": "nexar"}]}, "datasets[0].path: a nexar dataset needs a path"),
        ({"datasets": [{"name": "x y", "kind": "synthetic"}]}, "datasets[0].name"),
        ({"datasets": [{"name": "x", "kind": "synthetic", "colour": 1}]}, "datasets[0].colour: unknown key"),
        (
            {"datasets": [{"name": "x", "kind": "synthetic"}], "skip_bad_row": True},
            "skip_bad_row: unknown key (did you mean 'skip_bad_rows'?)",
        ),
        (
            {"datasets": [{"name": "x", "kind": "synthetic"}], "splits": {"fraction": [0.8, 0.1, 0.1]}},
            "splits.fraction: unknown key (did you mean 'fractions'?)",
        ),
        (
            {"datasets": [{"name": "x", "kind": "synthetic"}], "splits": {"fractions": [0.85, 0.15, 0]}},
            "splits.fractions: expected [train, val, test], each > 0",
        ),
        (
            {"datasets": [{"name": "x", "kind": "synthetic", "synthetic": {"n_video": 9}}]},
            "datasets[0].synthetic.n_video: unknown key (did you mean 'n_videos'?)",
        ),
        ({"datasets": [{"name": "x", "kind": "synthetic"}] * 2}, "dataset names must be unique"),
        (
            {"datasets": [{"name": "x", "kind": "synthetic"}], "splits": {"fractions": [0.5, 0.5, 0.5]}},
            "splits.fractions",
        ),
        ({"datasets": [{"name": "x", "kind": "synthetic"}], "skip_bad_rows": "yes"}, "skip_bad_rows"),
    ],
)
def test_bad_config_names_the_key(raw, fragment):
    with pytest.raises(ConfigError) as info:
        parse_config(raw, "cfg.yaml")
    assert str(info.value).startswith("cfg.yaml: ") and fragment in str(info.value)


def test_invalid_yaml(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("datasets: [\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(p)
