"""The campaign section of the project config: who proposes, how much, how fast, and when to stop.

One campaign = one dataset, one training seed, a set of agents with shares that take interleaved
rounds on one shared leaderboard, and budgets (experiments and USD). Parsing is strict like the rest
of the project config: every error starts with the file and names the key (``campaign.agents.tpe``).
This module imports nothing heavy so loading the project config stays fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from archsearch.common import SAFE_NAME, SAFE_NAME_RULE, did_you_mean
from archsearch.config.errors import config_error
from archsearch.config.keys import check_keys

OFFLINE_AGENTS = ("random", "tpe", "architecture_first")
LLM_AGENTS = ("claude", "gemini")
# Where each LLM agent's API key comes from: declared here, the lowest layer that needs it, so config
# parsing, the keys resource and the LLM agents share one table.
KEY_ENV = {"claude": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}

DEFAULT_AGENTS = (("architecture_first", 1.0), ("tpe", 1.0), ("random", 1.0), ("claude", 1.0), ("gemini", 1.0))
_LLM_KEYS = ("model", "base_url", "max_output_tokens", "timeout_s", "max_retries", "backoff_s")
_BREAKER_KEYS = ("window", "max_failure_rate", "min_results")
KEYS = (
    "name",
    "dataset",
    "seed",
    "agents",
    "round_size",
    "max_experiments",
    "max_cost_usd",
    "max_in_flight",
    "min_queued",
    "run_batch_size",
    "strict_agents",
    "fallback",
    "backbones",
    "round_deadline_s",
    "breaker",
    "llm",
)


@dataclass(frozen=True)
class BreakerConfig:
    """Pause the campaign when more than ``max_failure_rate`` of the last ``window`` results failed.

    It needs ``min_results`` finished results in the window before it can trip: with 10 (the
    default) two unlucky failures out of three never stop a campaign, yet a systematic fault
    (missing features, out of memory on every config) stops it after ~10 cheap failed runs.
    """

    window: int = 20
    max_failure_rate: float = 0.5
    min_results: int = 10


@dataclass(frozen=True)
class LLMSettings:
    """Per-LLM-agent options; None means the agent's own default.

    ``timeout_s`` bounds one HTTP attempt, ``max_retries`` the retries of a transient failure (429,
    5xx, timeout), ``backoff_s`` the base of their exponential backoff; the campaign's
    ``round_deadline_s`` bounds all attempts of a round together.
    """

    model: str | None = None
    base_url: str | None = None
    max_output_tokens: int | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    backoff_s: float | None = None

    def options(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _LLM_KEYS if getattr(self, k) is not None}


@dataclass(frozen=True)
class CampaignConfig:
    """One campaign; see ``campaign:`` in archsearch/config/default.yaml for what every field means."""

    name: str = "demo"
    dataset: str | None = None  # None: the project's first dataset (ProjectConfig fills it in)
    seed: int = 0
    agents: tuple[tuple[str, float], ...] = DEFAULT_AGENTS  # (agent, share) in config order; share 0 = off
    round_size: int = 6
    max_experiments: int = 60
    max_cost_usd: float | None = 5.0  # None: no cost limit
    max_in_flight: int = 2
    min_queued: int = 2
    run_batch_size: int = 1
    strict_agents: bool = False
    fallback: str = "random"
    backbones: tuple[str, ...] | None = None  # None: every backbone of the space
    round_deadline_s: float = 300.0  # an LLM round's calls and retries together; then the fallback fills it
    breaker: BreakerConfig = BreakerConfig()
    llm: dict[str, LLMSettings] = field(default_factory=lambda: {a: LLMSettings() for a in LLM_AGENTS})
    source: str = "<config>"

    @property
    def shares(self) -> dict[str, float]:
        """Agents with a positive share, in config order."""
        return {a: s for a, s in self.agents if s > 0}


def _int(source: str, key: str, v: Any, lo: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < lo:
        raise config_error(source, key, f"expected an integer >= {lo}, got {v!r}")
    return v


def _number(source: str, key: str, v: Any, lo: float, hi: float = math.inf) -> float:
    if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v) or not lo <= v <= hi:
        raise config_error(source, key, f"expected a number in [{lo}, {hi}], got {v!r}")
    return float(v)


def _mapping(source: str, key: str, v: Any, allowed: tuple[str, ...]) -> dict:
    if not isinstance(v, dict):
        raise config_error(source, key, f"expected a mapping, got {v!r}")
    check_keys(source, key, v, allowed)
    return v


def parse_campaign(raw: Any, source: str, datasets: list[str]) -> CampaignConfig:
    """The ``campaign:`` section (None or missing: all defaults); ``datasets`` are the configured names."""
    raw = _mapping(source, "campaign", {} if raw is None else raw, KEYS)
    d = CampaignConfig()
    name = raw.get("name", d.name)
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):  # part of partition keys and paths
        raise config_error(source, "campaign.name", f"expected {SAFE_NAME_RULE}, got {name!r}")
    dataset = raw.get("dataset", datasets[0] if datasets else None)
    if dataset not in datasets:
        raise config_error(source, "campaign.dataset", f"no dataset named {dataset!r}; configured: {datasets}")
    fallback = raw.get("fallback", d.fallback)
    if fallback not in OFFLINE_AGENTS:
        raise config_error(
            source, "campaign.fallback", f"expected an offline agent {list(OFFLINE_AGENTS)}, got {fallback!r}"
        )
    cost = raw.get("max_cost_usd", d.max_cost_usd)
    round_size = _int(source, "campaign.round_size", raw.get("round_size", d.round_size), 1)
    return CampaignConfig(
        name=name,
        dataset=dataset,
        seed=_int(source, "campaign.seed", raw.get("seed", d.seed), 0),
        agents=_parse_agents(source, raw.get("agents")),
        round_size=round_size,
        max_experiments=_int(source, "campaign.max_experiments", raw.get("max_experiments", d.max_experiments), 1),
        max_cost_usd=None if cost is None else _number(source, "campaign.max_cost_usd", cost, 0.0),
        max_in_flight=_int(source, "campaign.max_in_flight", raw.get("max_in_flight", d.max_in_flight), 1),
        min_queued=_int(source, "campaign.min_queued", raw.get("min_queued", d.min_queued), 0),
        run_batch_size=_int(source, "campaign.run_batch_size", raw.get("run_batch_size", d.run_batch_size), 1),
        strict_agents=_bool(source, "campaign.strict_agents", raw.get("strict_agents", d.strict_agents)),
        fallback=fallback,
        backbones=_parse_backbones(source, raw.get("backbones")),
        round_deadline_s=_number(
            source, "campaign.round_deadline_s", raw.get("round_deadline_s", d.round_deadline_s), 1.0
        ),
        breaker=_parse_breaker(source, raw.get("breaker")),
        llm=_parse_llm(source, raw.get("llm")),
        source=source,
    )


def _bool(source: str, key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise config_error(source, key, f"expected true or false, got {v!r}")
    return v


def _parse_agents(source: str, raw: Any) -> tuple[tuple[str, float], ...]:
    if raw is None:
        return DEFAULT_AGENTS
    known = OFFLINE_AGENTS + LLM_AGENTS
    if not isinstance(raw, dict) or not raw:
        raise config_error(
            source, "campaign.agents", f"expected a mapping agent -> share, e.g. {{tpe: 1, claude: 1}}, got {raw!r}"
        )
    out = []
    for agent, share in raw.items():
        if agent not in known:
            raise config_error(
                source, f"campaign.agents.{agent}", f"unknown agent{did_you_mean(agent, known)}; known: {list(known)}"
            )
        out.append((agent, _number(source, f"campaign.agents.{agent}", share, 0.0)))
    if not any(s > 0 for _, s in out):
        raise config_error(source, "campaign.agents", "every share is 0: give at least one agent a positive share")
    return tuple(out)


def _parse_backbones(source: str, raw: Any) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(b, str) for b in raw):
        raise config_error(
            source, "campaign.backbones", f"expected a non-empty list of backbone names or null, got {raw!r}"
        )
    if len(set(raw)) != len(raw):
        raise config_error(source, "campaign.backbones", f"names must be unique, got {raw}")
    return tuple(raw)


def _parse_breaker(source: str, raw: Any) -> BreakerConfig:
    raw = _mapping(source, "campaign.breaker", raw or {}, _BREAKER_KEYS)
    d = BreakerConfig()
    window = _int(source, "campaign.breaker.window", raw.get("window", d.window), 1)
    rate = _number(
        source, "campaign.breaker.max_failure_rate", raw.get("max_failure_rate", d.max_failure_rate), 0.0, 1.0
    )
    min_results = _int(source, "campaign.breaker.min_results", raw.get("min_results", min(d.min_results, window)), 1)
    if min_results > window:
        raise config_error(source, "campaign.breaker.min_results", f"must be <= window ({window}), got {min_results}")
    return BreakerConfig(window, rate, min_results)


def _parse_llm(source: str, raw: Any) -> dict[str, LLMSettings]:
    raw = _mapping(source, "campaign.llm", raw or {}, LLM_AGENTS)
    out = {}
    for agent in LLM_AGENTS:
        key = f"campaign.llm.{agent}"
        spec = _mapping(source, key, raw.get(agent) or {}, _LLM_KEYS)
        for k in ("model", "base_url"):
            if spec.get(k) is not None and (not isinstance(spec[k], str) or not spec[k]):
                raise config_error(source, f"{key}.{k}", f"expected a non-empty string or null, got {spec[k]!r}")
        ints = {
            k: None if spec.get(k) is None else _int(source, f"{key}.{k}", spec[k], lo)
            for k, lo in (("max_output_tokens", 1), ("max_retries", 0))
        }
        floats = {
            k: None if spec.get(k) is None else _number(source, f"{key}.{k}", spec[k], lo)
            for k, lo in (("timeout_s", 0.001), ("backoff_s", 0.0))
        }
        out[agent] = LLMSettings(spec.get("model"), spec.get("base_url"), **ints, **floats)
    return out
