"""Offline search agents: every proposal is a new, valid, unique cell; same history and seed give
the same proposals; random sweeps a tiny space without repeats; on a synthetic objective where one
backbone x encoder cell dominates (the study's finding), TPE and architecture-first beat random at
N = 40; architecture-first covers every architecture cell before it exploits."""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest

from archsearch.agents import AGENTS, AgentProposal, ArchitectureFirstAgent, make_agent
from archsearch.results import AgentView
from archsearch.space import SearchSpace, load_space

NAMES = ("random", "tpe", "architecture_first")


def view(
    space: SearchSpace, config: dict, val_map: float | None, status: str = "ok", agent: str = "sim", round_: int = 0
) -> AgentView:
    """An AgentView as the results store would give it (validation metrics only)."""
    failed = status != "ok"
    return AgentView(
        config_id=space.config_id(config),
        config=dict(space.canonical(config)),
        agent=agent,
        round=round_,
        campaign="sim",
        seed=0,
        status=status,
        error_type="RuntimeError" if failed else None,
        error_message="boom" if failed else None,
        val_ap_500=val_map,
        val_ap_1000=val_map,
        val_ap_1500=val_map,
        val_map=val_map,
        epochs_run=0,
        best_epoch=0,
        train_seconds=0.0,
        param_count=0,
        val_map_curve=(),
        train_loss_curve=(),
        created_at="",
    )


# --------------------------------------------------------------------------- synthetic objective
SIM_RAW = {
    "name": "sim",
    "groups": {
        "architecture": {"backbone": ["a", "b", "c"], "encoder": ["x", "y", "z"], "pooling": ["p", "q"]},
        "training": {"lr": [1e-4, 3e-4, 1e-3, 3e-3], "weight_decay": [0.0, 1e-4, 1e-2], "epochs": [5, 10, 20]},
    },
    "defaults": {"lr": 1e-3, "weight_decay": 1e-4, "epochs": 10},
}  # 3 x 3 x 2 = 18 architecture cells x 36 training cells = 648
_BASE = {
    cell: 0.30 + 0.30 * u
    for cell, u in zip(itertools.product("abc", "xyz"), np.random.default_rng(0).random(9), strict=True)
}
_BASE[("c", "y")] = 0.80  # the one architecture that matters (V-JEPA 2 + Zipformer, in the study)
_LR = {1e-4: -0.10, 3e-4: 0.0, 1e-3: -0.03, 3e-3: -0.15}
_WD = {0.0: -0.01, 1e-4: 0.0, 1e-2: -0.04}
_EP = {5: -0.08, 10: -0.02, 20: 0.0}


def objective(space: SearchSpace, config: dict) -> float:
    """Architecture table + training effects + fixed per-config noise (sd ~0.006); max ~0.80."""
    c = space.canonical(config)
    noise = int(hashlib.sha256(space.config_id(c).encode()).hexdigest()[:8], 16) / 2**32 - 0.5
    return (
        _BASE[(c["backbone"], c["encoder"])]
        + (0.0 if c["pooling"] == "p" else -0.03)
        + _LR[c["lr"]]
        + _WD[c["weight_decay"]]
        + _EP[c["epochs"]]
        + 0.02 * noise
    )


def simulate(
    agent_name: str, seed: int, space: SearchSpace, n_total: int = 40, batch: int = 4, **options
) -> list[float]:
    """Best-so-far val_map after each proposal of a campaign run on the synthetic objective."""
    agent = make_agent(agent_name, **options)
    rng = np.random.default_rng(seed)
    history: list[AgentView] = []
    for r in range(n_total // batch):
        props = agent.propose(history, space, batch, rng)
        assert len(props) == batch
        history += [view(space, p.config, objective(space, p.config), round_=r) for p in props]
    return list(np.maximum.accumulate([v.val_map for v in history]))


@pytest.fixture(scope="module")
def sim() -> SearchSpace:
    return SearchSpace.from_dict(SIM_RAW, "sim")


@pytest.fixture(scope="module")
def demo() -> SearchSpace:
    return load_space("demo")


def tiny_space() -> SearchSpace:
    """2 x 2 x 2 x 1 x 1 = 8 cells."""
    return SearchSpace.from_dict(
        {
            "name": "tiny",
            "groups": {
                "architecture": {"backbone": ["a", "b"], "encoder": ["x", "y"], "pooling": ["mean", "max"]},
                "training": {"lr": [1e-3], "epochs": [10]},
            },
        },
        "tiny",
    )


def random_history(space: SearchSpace, seed: int, n_ok: int, n_failed: int) -> list[AgentView]:
    rng = np.random.default_rng(seed)
    configs = space.sample(rng, n_ok + n_failed)
    ok = [view(space, c, objective(space, c) if space.name == "sim" else float(rng.random())) for c in configs[:n_ok]]
    return ok + [view(space, c, None, status="failed") for c in configs[n_ok:]]


# --------------------------------------------------------------------------- contract


def test_registry_names_and_errors():
    assert set(AGENTS) == set(NAMES)
    for name in NAMES:
        assert make_agent(name).name == name
    with pytest.raises(ValueError, match="unknown agent 'gpt'.*architecture_first"):
        make_agent("gpt")
    with pytest.raises(ValueError, match="agent 'tpe': bad options"):
        make_agent("tpe", nonsense=1)
    with pytest.raises(ValueError, match="eta >= 2"):
        make_agent("architecture_first", eta=1)


@pytest.mark.parametrize("space_name", ["demo", "sim"])
@pytest.mark.parametrize("name", NAMES)
def test_proposals_are_valid_new_and_unique(name, space_name, demo, sim):
    space = demo if space_name == "demo" else sim
    for n_ok in (0, 14):  # empty history and a history past TPE's startup
        history = random_history(space, 1, n_ok, 3)
        props = make_agent(name).propose(history, space, 6, np.random.default_rng(7))
        assert len(props) == 6
        ids = [space.config_id(p.config) for p in props]
        assert len(set(ids)) == 6, "duplicate within a round"
        assert not set(ids) & {v.config_id for v in history}, "re-proposed a config from history"
        for p in props:
            assert isinstance(p, AgentProposal)
            assert space.validate_config(p.config) == p.config  # canonical: keys in order, space's own values
            assert list(p.config) == list(space.dims)
            assert isinstance(p.rationale, str) and p.rationale.startswith(name)
        assert make_agent(name).propose(history, space, 0, np.random.default_rng(7)) == []


@pytest.mark.parametrize("name", NAMES)
def test_same_history_and_seed_give_same_proposals(name, demo, sim):
    for space in (demo, sim):
        history = random_history(space, 2, 12, 2)
        a = make_agent(name).propose(history, space, 5, np.random.default_rng(42))
        b = make_agent(name).propose(list(history), space, 5, np.random.default_rng(42))
        assert a == b
        c = make_agent(name).propose(history, space, 5, np.random.default_rng(43))
        if name != "architecture_first" or space is demo:  # demo: still covering 120 cells in shuffled order
            assert [p.config for p in a] != [p.config for p in c]


def test_random_sweeps_a_tiny_space_without_repeats_and_stops():
    space = tiny_space()
    agent, rng, history = make_agent("random"), np.random.default_rng(0), []
    sizes = []
    for _ in range(4):
        props = agent.propose(history, space, 3, rng)
        sizes.append(len(props))
        history += [view(space, p.config, 0.5) for p in props]
    assert sizes == [3, 3, 2, 0]
    ids = [v.config_id for v in history]
    assert len(set(ids)) == 8 == space.size
    assert set(ids) == {space.config_id(space.config_at(i)) for i in range(space.size)}


@pytest.mark.parametrize("name", NAMES)
def test_every_agent_exhausts_a_tiny_space_exactly_once(name):
    """Failed runs are never re-proposed; when the space runs out, agents return fewer, then nothing."""
    space = tiny_space()
    agent, rng, history, rationales = make_agent(name), np.random.default_rng(3), [], []
    for r in range(5):
        props = agent.propose(history, space, 3, rng)
        rationales += [p.rationale for p in props]
        for i, p in enumerate(props):  # every other run fails (with no score)
            ok = (r + i) % 2 == 0
            history.append(
                view(
                    space,
                    p.config,
                    float(space.index_of(p.config)) / 8 if ok else None,
                    status="ok" if ok else "failed",
                )
            )
    ids = [v.config_id for v in history]
    assert len(ids) == len(set(ids)) == 8
    assert agent.propose(history, space, 3, rng) == []
    assert all(r.startswith(name) for r in rationales)


def test_tpe_falls_back_to_random_when_it_keeps_repeating():
    """7 of 8 cells run: TPE mostly re-asks old cells; after its ask bound it takes the free cell at random."""
    space = tiny_space()
    history = [view(space, space.config_at(i), i / 8) for i in range(7)]
    free = space.config_at(7)
    rationales = []
    for seed in range(10):
        props = make_agent("tpe", max_asks_per_config=1).propose(history, space, 2, np.random.default_rng(seed))
        assert [p.config for p in props] == [free]
        rationales.append(props[0].rationale)
    assert any("fallback to uniform random" in r for r in rationales)
    assert any("fallback" not in r for r in rationales)  # sometimes TPE itself lands on it


def test_configs_from_another_space_are_ignored(sim):
    foreign = AgentView(
        **{**view(sim, sim.config_at(0), 0.9).__dict__, "config": {"backbone": "zz"}, "config_id": "foreign000001"}
    )
    for name in NAMES:
        props = make_agent(name).propose([foreign], sim, 3, np.random.default_rng(0))
        assert len(props) == 3


# --------------------------------------------------------------------------- architecture_first


def test_architecture_first_covers_every_cell_before_exploiting(sim):
    agent, rng, history = ArchitectureFirstAgent(), np.random.default_rng(5), []
    props: list[AgentProposal] = []
    for n in (6, 6, 6, 2):  # 20 proposals: the 18 cells, then 2 more
        batch = agent.propose(history, sim, n, rng)
        props += batch
        history += [view(sim, p.config, objective(sim, p.config)) for p in batch]
    first = props[:18]
    assert {sim.architecture(p.config) for p in first} == set(itertools.product("abc", "xyz", "pq"))
    assert all(sim.training(p.config) == (1e-3, 1e-4, 10) for p in first), "cover uses the default training"
    assert all("phase 1 (cover)" in p.rationale for p in first)
    # then successive halving starts in the best cell, by validation score
    best_cell = sim.architecture(max(history[:18], key=lambda v: v.val_map).config)
    assert "phase 2 (successive halving, rung 1)" in props[18].rationale
    assert sim.architecture(props[18].config) == best_cell


def test_architecture_first_phases_and_budget_rule(sim):
    agent = ArchitectureFirstAgent(budget=20)  # cover budget = min(18 cells, ceil(20 / 2)) = 10
    assert agent.cover_limit(18) == 10 and ArchitectureFirstAgent().cover_limit(18) == 18
    assert ArchitectureFirstAgent(cover_budget=4, budget=100).cover_limit(18) == 4
    rng, history, props = np.random.default_rng(1), [], []
    for _ in range(10):
        batch = agent.propose(history, sim, 4, rng)
        props += batch
        history += [view(sim, p.config, objective(sim, p.config)) for p in batch]
    phases = [p.rationale.split(" (")[0].split()[-1] for p in props]
    assert phases[:10] == ["1"] * 10
    assert "2" in phases[10:] and "3" in phases[10:]
    first3 = phases.index("3")
    assert set(phases[first3:]) == {"3"}, "phases never go back"
    # local search: one training dimension away from a config already run
    run = {v.config_id: v.config for v in history[:first3]}
    child = props[first3].config
    assert any(
        sum(child[d] != c[d] for d in sim.dims) == 1 and sim.architecture(child) == sim.architecture(c)
        for c in run.values()
    )


def test_failed_runs_never_score_and_are_never_reproposed(sim):
    """A failed run that still carries a (stale) val_map must not make its cell look best."""
    history = [
        view(
            sim,
            {**sim.default_training(), "backbone": b, "encoder": e, "pooling": p},
            objective(sim, {**sim.default_training(), "backbone": b, "encoder": e, "pooling": p}),
        )
        for b, e, p in itertools.product("abc", "xyz", "pq")
    ]
    bad = {**sim.default_training(), "backbone": "a", "encoder": "x", "pooling": "p", "lr": 3e-4}
    history.append(view(sim, bad, 0.99, status="failed"))
    props = ArchitectureFirstAgent().propose(history, sim, 1, np.random.default_rng(0))
    assert sim.architecture(props[0].config)[:2] == ("c", "y")
    assert "ranks 1/18 by best val_map" in props[0].rationale  # the failed cell was not ranked above it
    for name in NAMES:
        props = make_agent(name).propose(history, sim, 8, np.random.default_rng(0))
        assert sim.config_id(bad) not in {sim.config_id(p.config) for p in props}


# --------------------------------------------------------------------------- search quality


def test_tpe_and_architecture_first_beat_random_on_a_synthetic_objective(sim):
    """20 seeds x 40 proposals in batches of 4; mean best-so-far at 40 (optimum ~0.80)."""
    best40 = {name: np.mean([simulate(name, s, sim)[-1] for s in range(20)]) for name in NAMES}
    print("mean best@40:", {k: round(float(v), 4) for k, v in best40.items()})
    assert best40["tpe"] > best40["random"] + 0.02
    assert best40["architecture_first"] > best40["random"] + 0.02
    assert best40["architecture_first"] > 0.78  # it finds the dominant cell and tunes it
