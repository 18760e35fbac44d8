"""The search space: packaged spaces load, cells are numbered bijectively, ids are stable, every
bad config value is named, sampling never repeats a used cell (the space file's checks: test_file_format.py)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from archsearch.space import (
    InvalidConfigError,
    SearchSpace,
    SpaceError,
    load_space,
    stable_id,
)
from tests.archsearch.space.small_space import small_raw

PAPER_SIZES = {
    "backbone": 6,
    "encoder": 5,
    "pooling": 4,
    "loss": 3,
    "lr": 4,
    "weight_decay": 3,
    "window_length": 5,
    "epochs": 5,
}


@pytest.fixture(scope="module")
def paper() -> SearchSpace:
    return load_space("paper")


@pytest.fixture(scope="module")
def demo() -> SearchSpace:
    return load_space("demo")


@pytest.fixture
def small() -> SearchSpace:
    return SearchSpace.from_dict(small_raw(), "small.yaml")


# ---------------------------------------------------------------- packaged spaces
def test_paper_space_is_the_papers(paper):
    assert paper.size == 108_000 == 6 * 5 * 4 * 3 * 4 * 3 * 5 * 5
    assert paper.name == "paper"
    assert {d: len(paper.values(d)) for d in paper.dims} == PAPER_SIZES
    assert paper.dims == tuple(PAPER_SIZES)
    assert paper.group_dims("architecture") == ("backbone", "encoder", "pooling")
    assert paper.values("backbone")[0] == "vjepa2_vitl"
    assert paper.values("lr") == (1e-4, 3e-4, 1e-3, 3e-3)
    assert paper.values("weight_decay") == (0.0, 1e-4, 1e-2)
    assert paper.dimension("weight_decay").kind == "float" and paper.dimension("epochs").kind == "int"
    assert paper.default_training() == {
        "loss": "focal",
        "lr": 1e-3,
        "weight_decay": 1e-4,
        "window_length": 16,
        "epochs": 20,
    }


def test_demo_space_loads_with_offline_backbones(demo, paper):
    assert demo.name == "demo" and demo.size == 108_000
    assert demo.values("backbone") == (
        "efficientnet_lite0",
        "efficientnet_lite1",
        "efficientnet_lite2",
        "motion",
        "pixels",
        "vjepa2_tiny_random",
    )
    assert [demo.values(d) for d in demo.dims if d != "backbone"] == [
        paper.values(d) for d in paper.dims if d != "backbone"
    ]
    assert demo.default_training() == paper.default_training()


def test_load_by_path_and_unknown_name(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text(yaml.safe_dump(small_raw()))
    s = load_space(p)
    assert s.size == 24 and s.source == str(p)
    with pytest.raises(SpaceError, match="space file not found.*'demo', 'paper'"):
        load_space("papr")
    (tmp_path / "bad.yaml").write_text("groups: [\n")
    with pytest.raises(SpaceError, match="bad.yaml: not valid YAML"):
        load_space(tmp_path / "bad.yaml")


def test_to_dict_round_trip(paper):
    again = SearchSpace.from_dict(paper.to_dict(), paper.source)
    assert again == paper and hash(again) == hash(paper)


# ---------------------------------------------------------------- numbering
def test_every_demo_cell_round_trips_and_has_its_own_id(demo):
    ids = set()
    for i in range(demo.size):
        cfg = demo.config_at(i)
        assert demo.index_of(cfg) == i
        ids.add(demo.config_id(cfg))
    assert len(ids) == demo.size  # no collisions of the 12-hex id over 108,000 cells


def test_numbering_is_mixed_radix_first_dim_most_significant(paper):
    first, last = paper.config_at(0), paper.config_at(paper.size - 1)
    assert first == {d: paper.values(d)[0] for d in paper.dims}
    assert last == {d: paper.values(d)[-1] for d in paper.dims}
    assert paper.config_at(1)["epochs"] == 10  # last dimension moves fastest
    assert paper.config_at(paper.size // 6)["backbone"] == "dinov3_vitb"  # first moves slowest
    assert list(paper.config_at(0)) == list(paper.dims)
    for bad in (-1, paper.size):
        with pytest.raises(IndexError, match=str(bad)):
            paper.config_at(bad)
    assert paper.config_at(np.int64(5)) == paper.config_at(5)


# ---------------------------------------------------------------- canonical form and ids
def test_id_ignores_key_order_and_number_spelling(paper):
    cfg = paper.config_at(4242)
    ref = paper.config_id(cfg)
    reordered = dict(reversed(list(cfg.items())))
    respelled = {**cfg, "lr": str(cfg["lr"]).replace("0.0001", "1e-4"), "window_length": float(cfg["window_length"])}
    assert list(paper.canonical(reordered)) == list(paper.dims)
    assert paper.config_id(reordered) == paper.config_id(respelled) == ref

    c = {
        "backbone": "dinov2_vitb",
        "encoder": "gru",
        "pooling": "max",
        "loss": "bce",
        "weight_decay": 0,
        "window_length": "16",
        "epochs": 20.0,
    }
    spellings = [0.001, 1e-3, "1e-3", "1.0e-3", "0.001", 10 * 1e-4, 3 * (1e-3 / 3)]
    ids = {paper.config_id({**c, "lr": lr}) for lr in spellings}
    assert len(ids) == 1
    canon = paper.canonical({**c, "lr": "1e-3"})
    assert canon["lr"] == 0.001 and type(canon["lr"]) is float
    noisy = paper.canonical({**c, "lr": 3 * 1e-4})  # 0.00030000000000000003: float noise is forgiven
    assert noisy["lr"] == 3e-4 and paper.config_id(noisy) == paper.config_id({**c, "lr": "3e-4"})
    assert canon["window_length"] == 16 and type(canon["window_length"]) is int
    assert canon["epochs"] == 20 and type(canon["epochs"]) is int
    assert canon["weight_decay"] == 0.0 and type(canon["weight_decay"]) is float


def test_id_known_value_and_independent_of_space_name(paper, demo):
    cfg = {
        "backbone": "vjepa2_vitl",
        "encoder": "zipformer",
        "pooling": "attention",
        "loss": "focal",
        "lr": 1e-3,
        "weight_decay": 1e-4,
        "window_length": 16,
        "epochs": 20,
    }
    # Pinned so an accidental change of the hash recipe (which would orphan every stored result) fails.
    assert paper.config_id(cfg) == "60f510a88bce"
    renamed = SearchSpace.from_dict({**paper.to_dict(), "name": "other"}, "other.yaml")
    assert renamed.config_id(cfg) == paper.config_id(cfg)
    # the shared cells of the paper and demo spaces (same dims) get the same id
    shared = {**cfg, "backbone": "vjepa2_vitl"}
    demo_like = SearchSpace.from_dict(
        {
            **demo.to_dict(),
            "groups": {
                **demo.to_dict()["groups"],
                "architecture": {**demo.to_dict()["groups"]["architecture"], "backbone": ["vjepa2_vitl", "motion"]},
            },
        },
        "x.yaml",
    )
    assert demo_like.config_id(shared) == paper.config_id(shared)


def test_id_of_integral_float_matches_int_declared_dim():
    a = SearchSpace.from_dict(
        small_raw() | {"groups": {**small_raw()["groups"], "training": {"lr": [1.0e-4, 1.0e-3], "epochs": [5, 10]}}},
        "a",
    )
    b = SearchSpace.from_dict(
        small_raw()
        | {"groups": {**small_raw()["groups"], "training": {"lr": [1.0e-4, 1.0e-3], "epochs": [5.0, 10.0]}}},
        "b",
    )
    assert b.dimension("epochs").kind == "float"
    cfg = a.config_at(3)
    assert a.config_id(cfg) == b.config_id(cfg)


def test_different_configs_different_ids(small):
    ids = [small.config_id(small.config_at(i)) for i in range(small.size)]
    assert len(set(ids)) == small.size == 24
    assert all(len(x) == 12 and int(x, 16) >= 0 for x in ids)
    assert stable_id(small.config_at(7)) == small.config_id(small.config_at(7))


def test_architecture_and_training_keys(paper):
    cfg = paper.config_at(0)
    assert paper.architecture(cfg) == ("vjepa2_vitl", "zipformer", "attention")
    assert paper.training(cfg) == ("focal", 1e-4, 0.0, 8, 5)
    assert paper.group_of("lr") == "training" and paper.group_of("pooling") == "architecture"
    with pytest.raises(KeyError, match="'depth'"):
        paper.group_of("depth")


GOOD = {
    "backbone": "vjepa2_vitl",
    "encoder": "zipformer",
    "pooling": "attention",
    "loss": "focal",
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "window_length": 16,
    "epochs": 20,
}


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"depth": 4}, "unknown key 'depth'"),
        ({"backbone": None}, "key 'backbone': value None is not in the space; allowed: ['vjepa2_vitl'"),
        ({"encoder": "transformer"}, "key 'encoder': value 'transformer' is not in the space; allowed: ['zipformer', "),
        ({"lr": 2e-3}, "key 'lr': value 0.002 is not in the space; allowed: [0.0001, 0.0003, 0.001, 0.003]"),
        ({"lr": "fast"}, "key 'lr': value 'fast'"),
        ({"window_length": 16.5}, "key 'window_length': value 16.5"),
        ({"window_length": True}, "key 'window_length': value True"),
        ({"epochs": "twenty"}, "key 'epochs'"),
        ({"loss": 1}, "key 'loss': value 1 is not in the space; allowed: ['focal', 'bce', 'label_smoothing']"),
        ({"lr": float("nan")}, "key 'lr': value nan"),
    ],
)
def test_bad_config_names_key_and_allowed_values(paper, change, fragment):
    with pytest.raises(InvalidConfigError) as info:
        paper.validate_config({**GOOD, **change})
    assert fragment in str(info.value)
    assert "space 'paper'" in str(info.value)


def test_missing_key_and_non_mapping(paper):
    cfg = dict(GOOD)
    del cfg["pooling"]
    with pytest.raises(InvalidConfigError, match=r"missing key 'pooling' \(allowed values: \['attention'"):
        paper.config_id(cfg)
    with pytest.raises(InvalidConfigError, match="expected a mapping"):
        paper.validate_config(["vjepa2_vitl"])
    with pytest.raises(InvalidConfigError, match="unknown key"):
        paper.index_of({**GOOD, "extra": 1})


# ---------------------------------------------------------------- sampling
def test_sample_is_seeded_unique_and_in_space(paper):
    a = paper.sample(np.random.default_rng(7), 200)
    b = paper.sample(np.random.default_rng(7), 200)
    c = paper.sample(np.random.default_rng(8), 200)
    assert a == b and a != c
    ids = [paper.config_id(x) for x in a]
    assert len(set(ids)) == 200
    assert all(paper.canonical(x) == x for x in a)


def test_sample_skips_excluded_cells(paper):
    rng = np.random.default_rng(0)
    used = {paper.config_id(paper.config_at(int(i))) for i in rng.choice(paper.size, 5_000, replace=False)}
    got = paper.sample(rng, 300, exclude=used)
    got_ids = {paper.config_id(x) for x in got}
    assert len(got_ids) == 300 and not got_ids & used


def test_sample_when_nearly_exhausted_is_exact(small):
    everything = [small.config_id(small.config_at(i)) for i in range(small.size)]
    keep_free = {3, 11, 17, 20}
    used = {x for i, x in enumerate(everything) if i not in keep_free}
    got = small.sample(np.random.default_rng(1), 4, exclude=used)
    assert sorted(small.index_of(x) for x in got) == sorted(keep_free)
    with pytest.raises(ValueError, match="asked for 5 new configs but only 4 of 24 cells are free"):
        small.sample(np.random.default_rng(1), 5, exclude=used)
    assert small.sample(np.random.default_rng(1), 0) == []


def test_sample_is_uniform(small):
    counts = np.zeros(small.size)
    rng = np.random.default_rng(3)
    for _ in range(600):
        for cfg in small.sample(rng, 4):
            counts[small.index_of(cfg)] += 1
    expected = 600 * 4 / small.size  # 100 per cell
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 49.7  # chi-square, 23 dof, p = 0.001


def test_sample_with_replacement_respects_exclude(small):
    used = {small.config_id(small.config_at(i)) for i in range(small.size) if i != 5}
    got = small.sample(np.random.default_rng(0), 10, exclude=used, replace=True)
    assert [small.index_of(x) for x in got] == [5] * 10


# ---------------------------------------------------------------- neighbours
def test_neighbours_differ_in_exactly_one_dim(paper):
    cfg = paper.config_at(31_337)
    nbrs = paper.neighbours(cfg)
    assert len(nbrs) == sum(n - 1 for n in PAPER_SIZES.values())  # 27
    ids = {paper.config_id(n) for n in nbrs}
    assert len(ids) == len(nbrs) and paper.config_id(cfg) not in ids
    for n in nbrs:
        assert sum(n[d] != cfg[d] for d in paper.dims) == 1


def test_neighbours_restricted_and_adjacent(paper):
    cfg = {**GOOD, "lr": 3e-4, "epochs": 5}
    lr_only = paper.neighbours(cfg, dims=["lr"])
    assert [n["lr"] for n in lr_only] == [1e-4, 1e-3, 3e-3]
    adj = paper.neighbours(cfg, dims=["lr", "epochs", "encoder"], adjacent_only=True)
    changed = [(d, n[d]) for n in adj for d in paper.dims if n[d] != cfg[d]]
    assert changed == [
        ("encoder", "retention"),
        ("encoder", "bimamba"),
        ("encoder", "hybrid"),
        ("encoder", "gru"),
        ("lr", 1e-4),
        ("lr", 1e-3),
        ("epochs", 10),
    ]
    with pytest.raises(KeyError, match="'depth'"):
        paper.neighbours(cfg, dims=["depth"])


# ---------------------------------------------------------------- prompt text
def test_prompt_text_lists_every_value(paper):
    text = paper.to_prompt_text()
    assert "108,000 configurations (6 x 5 x 4 x 3 x 4 x 3 x 5 x 5)" in text
    assert "  lr [float]: 0.0001, 0.0003, 0.001, 0.003  (default 0.001)" in text
    assert "  backbone [str]: vjepa2_vitl, dinov3_vitb" in text
    assert text.index("architecture:") < text.index("training:")
    for d in paper.dims:
        for v in paper.values(d):
            assert (repr(v) if isinstance(v, float) else str(v)) in text
    assert len(text.splitlines()) == 1 + 1 + 2 + 8 + 1  # header, description, groups, dims, rule
