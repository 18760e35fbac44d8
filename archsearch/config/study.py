"""The study section of the project config: replicated campaigns per agent and dataset, for `make study`.

A study is K seeds x agents x datasets independent campaigns of N experiments each, every one
searching from scratch with the same budget, so agents are compared over campaigns (with intervals)
instead of on one trajectory each. Parsing is strict like the rest of the project config: every
error starts with the file and names the key (``study.seeds``). Nothing heavy is imported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from archsearch.common import SAFE_NAME, SAFE_NAME_RULE
from archsearch.config.campaign import LLM_AGENTS, OFFLINE_AGENTS
from archsearch.config.errors import config_error
from archsearch.config.keys import check_keys

KEYS = (
    "name",
    "seeds",
    "n",
    "agents",
    "datasets",
    "round_size",
    "backbones",
    "run_batch_size",
    "max_cost_usd",
    "report_ns",
)
# Campaign names are "<study>-<dataset>-<agent>-s<seed>" and must stay valid partition-key parts (<= 64 chars).
MAX_CAMPAIGN_NAME = 64


@dataclass(frozen=True)
class StudyConfig:
    """One study; see ``study:`` in archsearch/config/default.yaml for what every field means."""

    name: str = "study"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    n: int = 15  # experiments per campaign
    agents: tuple[str, ...] = (*OFFLINE_AGENTS, *LLM_AGENTS)  # LLM agents run only when their key is set
    datasets: tuple[str, ...] | None = None  # None: every configured dataset
    round_size: int = 5
    backbones: tuple[str, ...] | None = None  # None: the campaign's backbones (campaign.backbones)
    run_batch_size: int = 64  # partitions per experiments run, across campaigns
    max_cost_usd: float = 2.0  # LLM spend cap of each LLM campaign (offline campaigns spend nothing)
    report_ns: tuple[int, ...] = (5, 10, 15)
    source: str = "<config>"


def campaign_name(study: str, dataset: str, agent: str, seed: int) -> str:
    """The name of one campaign of a study: it says study, dataset, agent and seed in every partition key."""
    return f"{study}-{dataset}-{agent}-s{seed}"


def _int(source: str, key: str, v: Any, lo: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < lo:
        raise config_error(source, key, f"expected an integer >= {lo}, got {v!r}")
    return v


def _names(source: str, key: str, v: Any, allowed: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(v, list) or not v or not all(isinstance(x, str) for x in v):
        raise config_error(source, key, f"expected a non-empty list of names from {list(allowed)}, got {v!r}")
    for i, x in enumerate(v):
        if x not in allowed:
            raise config_error(source, f"{key}[{i}]", f"unknown name {x!r}; allowed: {list(allowed)}")
    if len(set(v)) != len(v):
        raise config_error(source, key, f"names must be unique, got {v}")
    return tuple(v)


def _seeds(source: str, v: Any) -> tuple[int, ...]:
    """An integer K (seeds 0..K-1) or an explicit list of distinct seeds."""
    if isinstance(v, int) and not isinstance(v, bool):
        return tuple(range(_int(source, "study.seeds", v, 1)))
    if not isinstance(v, list) or not v:
        raise config_error(
            source, "study.seeds", f"expected a count K >= 1 (seeds 0..K-1) or a list of seeds, got {v!r}"
        )
    seeds = tuple(_int(source, f"study.seeds[{i}]", s, 0) for i, s in enumerate(v))
    if len(set(seeds)) != len(seeds):
        raise config_error(source, "study.seeds", f"seeds must be distinct, got {list(seeds)}")
    return seeds


def _report_ns(source: str, v: Any) -> tuple[int, ...]:
    if not isinstance(v, list) or not v:
        raise config_error(source, "study.report_ns", f"expected a non-empty list of N values, got {v!r}")
    ns = tuple(_int(source, f"study.report_ns[{i}]", x, 1) for i, x in enumerate(v))
    return tuple(sorted(set(ns)))


def parse_study(raw: Any, source: str, datasets: list[str]) -> StudyConfig:
    """The ``study:`` section (None or missing: all defaults); ``datasets`` are the configured names."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise config_error(source, "study", f"expected a mapping, got {raw!r}")
    check_keys(source, "study", raw, KEYS)
    d = StudyConfig()
    name = raw.get("name", d.name)
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
        raise config_error(source, "study.name", f"expected {SAFE_NAME_RULE}, got {name!r}")
    chosen = None if raw.get("datasets") is None else _names(source, "study.datasets", raw["datasets"], datasets)
    agents = (
        _names(source, "study.agents", raw["agents"], (*OFFLINE_AGENTS, *LLM_AGENTS)) if "agents" in raw else d.agents
    )
    seeds = _seeds(source, raw.get("seeds", list(d.seeds)))
    cost = raw.get("max_cost_usd", d.max_cost_usd)
    if not isinstance(cost, int | float) or isinstance(cost, bool) or not math.isfinite(cost) or cost < 0:
        raise config_error(source, "study.max_cost_usd", f"expected a number >= 0 (USD per LLM campaign), got {cost!r}")
    backbones = raw.get("backbones")
    if backbones is not None and (
        not isinstance(backbones, list)
        or not backbones
        or not all(isinstance(b, str) for b in backbones)
        or len(set(backbones)) != len(backbones)
    ):
        raise config_error(
            source,
            "study.backbones",
            f"expected a non-empty list of distinct backbone names or null, got {backbones!r}",
        )
    longest = max(
        len(campaign_name(name, ds, a, s)) for ds in (chosen or datasets or [""]) for a in agents for s in seeds
    )
    if longest > MAX_CAMPAIGN_NAME:
        raise config_error(
            source,
            "study.name",
            f"campaign names '<name>-<dataset>-<agent>-s<seed>' must be at most "
            f"{MAX_CAMPAIGN_NAME} characters; {name!r} makes one of {longest}",
        )
    return StudyConfig(
        name=name,
        seeds=seeds,
        n=_int(source, "study.n", raw.get("n", d.n), 1),
        agents=agents,
        datasets=chosen,
        round_size=_int(source, "study.round_size", raw.get("round_size", d.round_size), 1),
        backbones=None if backbones is None else tuple(backbones),
        run_batch_size=_int(source, "study.run_batch_size", raw.get("run_batch_size", d.run_batch_size), 1),
        max_cost_usd=float(cost),
        report_ns=_report_ns(source, raw.get("report_ns", list(d.report_ns))),
        source=source,
    )
