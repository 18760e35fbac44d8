"""Every config key is validated at load: a typo anywhere fails with the file, the key and a did-you-mean,
and names the project cannot run (an encoder, a loss, a backbone) fail at load, not per experiment.

The faults are the ones found against main: an unknown top-level key (`skip_bad_row`), unknown
`splits` keys, an unknown encoder in the space file (every experiment then failed and the run exited
0), a zero split fraction, `synthetic:` typos found only when videos were made, and
`campaign.backbones` outside the space found only when a round ran.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import yaml

from archsearch.config import ConfigError, load_config
from archsearch.config.space_check import EXPERIMENT_DIMENSIONS, registries
from archsearch.config.synthetic import SYNTHETIC_SETTINGS, Setting
from tests.faults.campaign_faults import REPO, cli, project_env
from tests.projects import CAMPAIGN_SPACE

BASE = {"datasets": [{"name": "synth", "kind": "synthetic"}], "backbones": ["motion", "pixels"]}


def write(tmp_path, raw: dict, space: dict | None = None):
    space_path = tmp_path / "space.yaml"
    space_path.write_text(yaml.safe_dump(space or CAMPAIGN_SPACE))
    path = tmp_path / "project.yaml"
    path.write_text(yaml.safe_dump({"space": str(space_path), **raw}))
    return path


def edit(d: dict, *path, value):
    """A copy of ``d`` with ``value`` at ``path`` (keys and list indices)."""
    out = yaml.safe_load(yaml.safe_dump(d))
    node = out
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize(
    "raw, message",
    [
        ({**BASE, "skip_bad_row": True}, "skip_bad_row: unknown key (did you mean 'skip_bad_rows'?)"),
        ({**BASE, "splits": {"fraction": [0.8, 0.1, 0.1]}}, "splits.fraction: unknown key (did you mean 'fractions'?)"),
        ({**BASE, "splits": {"seeds": 1}}, "splits.seeds: unknown key (did you mean 'seed'?)"),
        ({**BASE, "features": {"batchsize": 8}}, "features.batchsize: unknown key (did you mean 'batch_size'?)"),
        (edit(BASE, "datasets", 0, "pth", value="/x"), "datasets[0].pth: unknown key (did you mean 'path'?)"),
        (
            {**BASE, "precomputed": {"mine": {"path": "f.h5", "datset": "synth"}}},
            "precomputed.mine.datset: unknown key (did you mean 'dataset'?)",
        ),
        ({**BASE, "campaign": {"roundsize": 3}}, "campaign.roundsize: unknown key (did you mean 'round_size'?)"),
        (
            {**BASE, "campaign": {"breaker": {"windows": 3}}},
            "campaign.breaker.windows: unknown key (did you mean 'window'?)",
        ),
        (
            {**BASE, "campaign": {"llm": {"claude": {"max_retry": 1}}}},
            "campaign.llm.claude.max_retry: unknown key (did you mean 'max_retries'?)",
        ),
        (
            {**BASE, "campaign": {"agents": {"archtecture_first": 1}}},
            "campaign.agents.archtecture_first: unknown agent (did you mean 'architecture_first'?)",
        ),
        (
            edit(BASE, "datasets", 0, "synthetic", value={"n_video": 10}),
            "datasets[0].synthetic.n_video: unknown key (did you mean 'n_videos'?)",
        ),
        (
            edit(BASE, "datasets", 0, "synthetic", value={"variant": "rear"}),
            "datasets[0].synthetic.variant: expected one of ['front', 'side'], got 'rear'",
        ),
        (
            edit(BASE, "datasets", 0, "synthetic", value={"n_videos": "240"}),
            "datasets[0].synthetic.n_videos: expected an integer in [1, 100000], got '240'",
        ),
        (
            edit(BASE, "datasets", 0, "synthetic", value={"difficulty": 1.5}),
            "datasets[0].synthetic.difficulty: expected a number in [0, 1], got 1.5",
        ),
        (
            {**BASE, "splits": {"fractions": [0.85, 0.15, 0.0]}},
            "splits.fractions: expected [train, val, test], each > 0",
        ),
        (
            {**BASE, "campaign": {"backbones": ["pixel"]}},
            "campaign.backbones[0]: 'pixel' is not a backbone of space 'tiny' (did you mean 'pixels'?)",
        ),
    ],
)
def test_a_bad_key_fails_at_load_naming_file_key_and_fix(tmp_path, raw, message):
    path = write(tmp_path, raw)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


def space_with(group: str, dim: str, values: list, drop: str | None = None) -> dict:
    space = yaml.safe_load(yaml.safe_dump(CAMPAIGN_SPACE))
    space["groups"][group][dim] = values
    if drop:
        del space["groups"][group][drop]
    return space


@pytest.mark.parametrize(
    "space, message",
    [
        (
            space_with("architecture", "encoder", ["gru", "zipformr"]),
            "groups.architecture.encoder[1]: 'zipformr' is not implemented (did you mean 'zipformer'?)",
        ),
        (
            space_with("architecture", "pooling", ["mean", "avg"]),
            "groups.architecture.pooling[1]: 'avg' is not implemented",
        ),
        (space_with("training", "loss", ["focal", "dice"]), "groups.training.loss[1]: 'dice' is not implemented"),
        (space_with("architecture", "backbone", ["motion", "dinov9"]), "groups.architecture.backbone[1]: 'dinov9'"),
        (
            space_with("training", "learning_rate", [0.001], drop="lr"),
            "groups.training.learning_rate: unknown dimension; experiments read:",
        ),
        (space_with("training", "lr", [0.001, 0.0]), "groups.training.lr[1]: expected a number > 0, got 0.0"),
        (space_with("training", "epochs", [5, 0]), "groups.training.epochs[1]: expected an integer >= 1, got 0"),
    ],
)
def test_the_space_file_is_checked_against_the_registries_at_load(tmp_path, space, message):
    path = write(tmp_path, BASE, space)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert text.startswith(f"{path}: space: {tmp_path / 'space.yaml'}: ") and message in text


def test_an_unknown_encoder_stops_the_cli_before_any_run(tmp_path):
    path = write(tmp_path, BASE, space_with("architecture", "encoder", ["gru", "zipformr"]))
    result = cli(["campaign", "status"], project_env(path, tmp_path / "home", tmp_path / "dh"))
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {path}: space: ") and "did you mean 'zipformer'?" in line


def test_the_synthetic_schema_agrees_with_the_generator_spec():
    """config cannot import the generator (it sits above), so its table is checked against it here."""
    from archsearch.data.synth.spec import SyntheticSpec, SyntheticSpecError

    fields = {f.name for f in dataclasses.fields(SyntheticSpec)} - {"name"}
    assert set(SYNTHETIC_SETTINGS) == fields
    valid = {
        "n_videos": 10,
        "duration_s": 10.0,
        "fps": 20.0,
        "width": 64,
        "height": 48,
        "seed": 0,
        "positive_fraction": 0.5,
        "near_miss_fraction": 0.5,
        "difficulty": 0.5,
        "variant": "front",
    }
    SyntheticSpec(name="x", **valid)
    for key, setting in SYNTHETIC_SETTINGS.items():
        for bad in outside(setting):
            assert not setting.accepts(bad)
            with pytest.raises((SyntheticSpecError, TypeError)):
                SyntheticSpec(name="x", **{**valid, key: bad})


def outside(setting: Setting) -> list:
    if setting.kind == "choice":
        return ["no such variant"]
    out = ["1"]  # a string is never a number
    if setting.lo > float("-inf"):
        out.append(setting.lo - 1)
    if setting.hi < 2**62:
        out.append(setting.hi + 1)
    return out


def test_registries_the_loader_reads_without_torch_match_the_modules():
    from archsearch.experiments.spec import CONFIG_KEYS

    code = (
        "import sys; from archsearch.config.space_check import registries; "
        "print(registries(())['loss'], 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    import models.losses

    assert out.split(") ")[-1].strip() == "False", "loading a config imports no torch"
    assert registries(())["loss"] == tuple(models.losses.LOSSES) and str(tuple(models.losses.LOSSES)) in out
    assert ("backbone", *CONFIG_KEYS) == EXPERIMENT_DIMENSIONS


def test_the_embedded_default_and_demo_spaces_still_load():
    cfg = load_config()
    assert cfg.campaign.round_deadline_s == 300 and cfg.campaign.llm["claude"].timeout_s == 120
    assert cfg.campaign.llm["gemini"].options() == {"timeout_s": 120.0, "max_retries": 4, "backoff_s": 2.0}
