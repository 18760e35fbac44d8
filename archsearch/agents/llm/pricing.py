"""Estimated USD per call from token counts: list prices, USD per million input / output tokens.

Why estimate at all: a campaign's cost budget (``RoundContext.cost_left_usd``) must stop LLM calls
before the bill surprises anyone, and the agent log must say what each proposal cost. Prices
change; a model missing here costs 0 unless the caller passes ``price_per_mtok``, and the log entry
says "price unknown" so nobody mistakes 0 for free.
"""

from __future__ import annotations

# USD per million tokens (input, output), standard tier, no caching or batch discount.
# Sources: platform.claude.com model pages ("Models & pricing", Opus 5.5 page, checked 2026-09);
# ai.google.dev/gemini-api/docs/pricing (Gemini 2.5 Pro/Flash, prompts <= 200k tokens; checked 2025).
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "claude-fable-5-1": (10.0, 50.0),
    "claude-opus-5-5": (4.0, 20.0),
    "claude-opus-5": (5.0, 25.0),
    "claude-sonnet-5": (2.0, 10.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "gemini-2.5-pro": (1.25, 10.0),
    "gemini-2.5-flash": (0.30, 2.50),
}


def price_for(model: str, override: tuple[float, float] | None = None) -> tuple[float, float] | None:
    """(input, output) USD per million tokens: the override, else the table (also for dated ids), else None."""
    if override is not None:
        inp, out = override
        if inp < 0 or out < 0:
            raise ValueError(
                f"price_per_mtok: expected non-negative (input, output) USD per million tokens, got {override}"
            )
        return float(inp), float(out)
    if model in PRICES_PER_MTOK:
        return PRICES_PER_MTOK[model]
    # dated snapshots ("claude-haiku-4-5-20251001") and preview suffixes price like their family
    best = max((k for k in PRICES_PER_MTOK if model.startswith(k + "-")), key=len, default=None)
    return None if best is None else PRICES_PER_MTOK[best]


def cost_usd(
    model: str, input_tokens: int, output_tokens: int, override: tuple[float, float] | None = None
) -> tuple[float, str]:
    """(USD, note): the note is empty when the price is known, else says the cost was recorded as 0."""
    price = price_for(model, override)
    if price is None:
        return 0.0, f"price unknown for model {model!r}: cost recorded as 0 (pass price_per_mtok)"
    return (input_tokens * price[0] + output_tokens * price[1]) / 1e6, ""
