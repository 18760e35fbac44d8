"""The `study:` section: defaults, seeds as a count or a list, and every bad value named by file and key."""

from __future__ import annotations

import pytest

from archsearch.config import DEFAULT_CONFIG_PATH, ConfigError, StudyConfig, load_config, parse_config

DATASETS = [{"name": "front", "kind": "synthetic"}, {"name": "side", "kind": "synthetic"}]


def parse(study) -> StudyConfig:
    return parse_config({"datasets": DATASETS, "study": study}, "cfg.yaml").study


def test_missing_section_is_the_defaults():
    s = parse_config({"datasets": DATASETS}, "cfg.yaml").study
    assert s.seeds == (0, 1, 2, 3, 4) and s.n == 15 and s.datasets is None and s.source == "cfg.yaml"
    assert s.agents == ("random", "tpe", "architecture_first", "claude", "gemini")


def test_the_embedded_default_has_a_study_section():
    s = load_config(DEFAULT_CONFIG_PATH).study
    assert len(s.seeds) >= 5 and {"random", "tpe", "architecture_first"} <= set(s.agents)
    assert s.report_ns == (5, 10, 15) and s.source == str(DEFAULT_CONFIG_PATH)


def test_seeds_as_a_count_or_a_list_and_the_other_fields():
    assert parse({"seeds": 3}).seeds == (0, 1, 2)
    s = parse(
        {
            "seeds": [7, 3],
            "n": 12,
            "agents": ["tpe", "random"],
            "datasets": ["side"],
            "round_size": 4,
            "backbones": ["motion"],
            "run_batch_size": 8,
            "max_cost_usd": 0,
            "report_ns": [25, 5, 25],
        }
    )
    assert s.seeds == (7, 3) and s.n == 12 and s.agents == ("tpe", "random") and s.datasets == ("side",)
    assert (s.round_size, s.backbones, s.run_batch_size, s.max_cost_usd, s.report_ns) == (
        4,
        ("motion",),
        8,
        0.0,
        (5, 25),
    )


@pytest.mark.parametrize(
    "study, fragment",
    [
        ([1], "study: expected a mapping"),
        ({"seed": 3}, "study.seed: unknown key (did you mean 'seeds'?)"),
        ({"seeds": 0}, "study.seeds: expected an integer >= 1"),
        ({"seeds": [1, 1]}, "study.seeds: seeds must be distinct"),
        ({"seeds": [0, -1]}, "study.seeds[1]: expected an integer >= 0"),
        ({"seeds": "five"}, "study.seeds: expected a count"),
        ({"n": 0}, "study.n: expected an integer >= 1"),
        ({"n": True}, "study.n: expected an integer >= 1"),
        ({"agents": ["random", "human"]}, "study.agents[1]: unknown name 'human'"),
        ({"agents": []}, "study.agents: expected a non-empty list"),
        ({"agents": ["tpe", "tpe"]}, "study.agents: names must be unique"),
        ({"datasets": ["nexar"]}, "study.datasets[0]: unknown name 'nexar'"),
        ({"name": "my study"}, "study.name: expected letters"),
        ({"name": "x" * 50}, "study.name: campaign names"),
        ({"round_size": 0}, "study.round_size"),
        ({"run_batch_size": 0}, "study.run_batch_size"),
        ({"max_cost_usd": -1}, "study.max_cost_usd"),
        ({"max_cost_usd": None}, "study.max_cost_usd"),
        ({"backbones": []}, "study.backbones"),
        ({"report_ns": [0]}, "study.report_ns[0]"),
    ],
)
def test_bad_values_name_the_file_and_the_key(study, fragment):
    with pytest.raises(ConfigError) as info:
        parse(study)
    assert str(info.value).startswith("cfg.yaml: ") and fragment in str(info.value)


def test_a_bad_study_in_a_file_names_that_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("datasets:\n  - {name: d, kind: synthetic}\nstudy: {n: -2}\n")
    with pytest.raises(ConfigError, match=rf"^{path}: study.n: expected an integer >= 1, got -2"):
        load_config(path)
