"""Which agents a campaign round may use, and building one by name.

Offline agents come from :func:`archsearch.agents.make_agent`; LLM agents from the LLM package,
imported only here and only when an LLM agent is actually used, so campaigns without one never
import anthropic or google.genai. API keys come from the ``env`` mapping passed in (the process
environment, or the Dagster keys resource) and are never logged or stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from archsearch.agents import Agent, make_agent
from archsearch.config.campaign import KEY_ENV, LLM_AGENTS, CampaignConfig


class CampaignError(ValueError):
    """A campaign cannot run a round as configured; the message says what to change."""


def active_shares(
    cfg: CampaignConfig,
    env: Mapping[str, str],
    disabled: Mapping[str, str],
    warn: Callable[[str], None],
    warned: set[str] | None = None,
) -> dict[str, float]:
    """The agents that may take rounds now: positive share, and for LLM agents a key and no auth failure.

    A configured LLM agent without its key is skipped with one warning naming the env var (once per
    campaign: agents in ``warned`` are skipped silently, and newly warned ones are added to it), or,
    with ``strict_agents``, fails the round (CampaignError) before any agent is asked.
    """
    warned = set() if warned is None else warned
    shares: dict[str, float] = {}
    for agent, share in cfg.shares.items():
        if agent in LLM_AGENTS:
            if agent in disabled:
                if agent not in warned:
                    warn(f"agent {agent} skipped: disabled in an earlier round: {disabled[agent]}")
                    warned.add(agent)
                continue
            if not env.get(KEY_ENV[agent]):
                msg = (
                    f"agent {agent} skipped: environment variable {KEY_ENV[agent]} is not set "
                    f"(campaign.agents.{agent} = {share:g} in {cfg.source})"
                )
                if cfg.strict_agents:
                    raise CampaignError(
                        f"{msg}; campaign.strict_agents is true, so the round fails: set "
                        f"{KEY_ENV[agent]} or give {agent} share 0"
                    )
                if agent not in warned:
                    warn(
                        f"{msg}; the campaign continues with the other agents (set it, or set strict_agents "
                        "to fail instead)"
                    )
                    warned.add(agent)
                continue
        shares[agent] = share
    if not shares:
        raise CampaignError(
            f"campaign {cfg.name!r}: no agent can take a round (configured: {dict(cfg.shares)}; "
            f"disabled: {dict(disabled)}); give an offline agent (random, tpe, architecture_first) "
            f"a positive share in campaign.agents of {cfg.source}"
        )
    return shares


def offline_agent(name: str, cfg: CampaignConfig) -> Agent:
    """An offline agent; architecture_first plans its phases for the campaign's budget."""
    return make_agent(name, budget=cfg.max_experiments) if name == "architecture_first" else make_agent(name)


def llm_agent(name: str, cfg: CampaignConfig, api_key: str, log: Callable[[str], None] | None = None) -> Agent:
    """An LLM agent (lazy import of the LLM package) topped up by the campaign's fallback agent.

    Its calls, retries and backoff in one round fit in ``campaign.round_deadline_s``; ``log`` gets a
    line per retry.
    """
    from archsearch.agents.llm import make_llm_agent

    return make_llm_agent(
        name,
        api_key=api_key,
        fallback=offline_agent(cfg.fallback, cfg),
        round_deadline_s=cfg.round_deadline_s,
        log=log,
        **cfg.llm[name].options(),
    )


def build_agent(
    name: str, cfg: CampaignConfig, env: Mapping[str, str], log: Callable[[str], None] | None = None
) -> Agent:
    if name in LLM_AGENTS:
        return llm_agent(name, cfg, env[KEY_ENV[name]], log)
    return offline_agent(name, cfg)
