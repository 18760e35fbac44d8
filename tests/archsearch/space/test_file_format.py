"""The space file: every bad key or value is an error naming the file and the key; names are checked against
the registries."""

from __future__ import annotations

import copy

import pytest
import yaml

from archsearch.space import SearchSpace, SpaceError, check_names, load_space
from tests.archsearch.space.small_space import small_raw


@pytest.fixture(scope="module")
def paper() -> SearchSpace:
    return load_space("paper")


def _with(path: tuple, value, delete: bool = False) -> dict:
    raw = copy.deepcopy(small_raw())
    node = raw
    for k in path[:-1]:
        node = node[k]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return raw


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (_with(("groups", "model"), {"x": [1]}), "groups.model: unknown group; allowed: ['architecture', 'training']"),
        (_with(("groups", "training", "lr"), []), "groups.training.lr: empty dimension"),
        (_with(("groups", "training", "lr"), 1e-3), "groups.training.lr: expected a list of values"),
        (
            _with(("groups", "architecture", "backbone"), ["a", "b", "a"]),
            "groups.architecture.backbone[2]: duplicate value 'a'",
        ),
        (_with(("groups", "training", "lr"), [1.0e-4, "1e-4"]), "groups.training.lr[1]: duplicate value 0.0001"),
        (_with(("groups", "training", "epochs"), [5, 5.0]), "groups.training.epochs[1]: duplicate value 5.0"),
        (
            _with(("groups", "training", "backbone"), ["z"]),
            "groups.training.backbone: dimension 'backbone' is already in group 'architecture'",
        ),
        (
            _with(("groups", "training", "lr"), [1.0e-4, "fast"]),
            "groups.training.lr[1]: mixed value types: 'fast' is a str but 0.0001 is a float",
        ),
        (_with(("groups", "architecture", "encoder"), ["gru", 3]), "groups.architecture.encoder[1]: mixed value types"),
        (
            _with(("groups", "architecture", "encoder"), ["gru", True]),
            "groups.architecture.encoder[1]: True is not a value",
        ),
        (
            _with(("groups", "architecture", "encoder"), ["gru", None]),
            "groups.architecture.encoder[1]: None is not a value",
        ),
        (_with(("groups", "training", "lr"), [float("inf")]), "groups.training.lr[0]: inf is not a value"),
        (
            _with(("groups", "architecture", "pooling"), None, delete=True),
            "groups.architecture.pooling: required architecture dimension; it is missing",
        ),
        (
            {"groups": {"architecture": {"backbone": ["a"], "encoder": ["g"]}, "training": {"pooling": ["mean"]}}},
            "groups.architecture.pooling: required architecture dimension; it is in group 'training'",
        ),
        (_with(("groups", "training"), {}), "groups.training: expected a non-empty mapping"),
        (
            _with(("groups", "training", "Learning Rate"), [1]),
            "groups.training.Learning Rate: dimension names are lower-case",
        ),
        (_with(("defaults", "lr"), 3.0e-3), "defaults.lr: 0.003 is not among the values [0.0001, 0.001]"),
        (
            _with(("defaults", "momentum"), 0.9),
            "defaults.momentum: unknown dimension; training dimensions: ['lr', 'epochs']",
        ),
        (_with(("defaults", "backbone"), "a"), "defaults.backbone: defaults are for training dimensions only"),
        (_with(("defaults",), [1]), "defaults: expected a mapping"),
        (_with(("name",), 3), "name: expected a non-empty string"),
        (_with(("seed",), 3), "seed: unknown top-level key"),
        ({"name": "x"}, "groups: expected a mapping"),
    ],
)
def test_bad_space_names_file_and_key(raw, fragment):
    with pytest.raises(SpaceError) as info:
        SearchSpace.from_dict(raw, "space.yaml")
    assert str(info.value).startswith("space.yaml: "), str(info.value)
    assert fragment in str(info.value), str(info.value)


def test_space_not_a_mapping():
    with pytest.raises(SpaceError, match="space.yaml: expected a mapping"):
        SearchSpace.from_dict(["a"], "space.yaml")


def test_yaml_1e_minus_4_is_read_as_a_float(tmp_path):
    text = (
        "groups:\n"
        "  architecture: {backbone: [a], encoder: [gru], pooling: [mean]}\n"
        "  training:\n"
        "    lr: [1e-4, 3e-4, 1.0e-3]\n"
        "    weight_decay: [0, 1e-2]\n"
        "    window_length: ['8', 16]\n"
        "defaults: {lr: 3e-4}\n"
    )
    assert yaml.safe_load(text)["groups"]["training"]["lr"][0] == "1e-4"  # the PyYAML quirk itself
    p = tmp_path / "quirk.yaml"
    p.write_text(text)
    s = load_space(p)
    assert s.name == "quirk"
    assert s.values("lr") == (1e-4, 3e-4, 1e-3) and all(type(v) is float for v in s.values("lr"))
    assert s.values("weight_decay") == (0.0, 0.01) and s.dimension("weight_decay").kind == "float"
    assert s.values("window_length") == (8, 16) and s.dimension("window_length").kind == "int"
    assert s.default_training() == {"lr": 3e-4, "weight_decay": 0.0, "window_length": 8}  # absent -> first value


def test_check_names_against_registries(paper):
    check_names(
        paper,
        encoders=["zipformer", "retention", "bimamba", "hybrid", "gru", "lstm"],
        poolings=["attention", "mean", "last", "max"],
        losses=["focal", "bce", "label_smoothing"],
    )
    with pytest.raises(SpaceError, match=r"groups.architecture.encoder\[2\]: 'bimamba' is not implemented"):
        check_names(paper, encoders=["zipformer", "retention", "gru"])
    with pytest.raises(SpaceError, match=r"'bimamba' is not implemented \(did you mean 'bimambo'\?\)"):
        check_names(paper, encoders=["zipformer", "retention", "gru", "bimambo", "hybrid"])
    with pytest.raises(SpaceError, match="groups.training.loss"):
        check_names(paper, losses=["bce"])
