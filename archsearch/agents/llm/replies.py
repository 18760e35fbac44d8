"""What an LLM must return, and how its reply is checked: schemas from the space, parsing, validation.

Why so strict: every accepted config becomes an experiment partition and costs training time, so
a config is accepted only if it is a cell of the space (``space.canonical``), new (not already
run, queued or proposed, not repeated in the same reply) and within the ``n`` asked. Everything
else is rejected with a reason a model can act on, because the reasons are fed back once for a
repair.

The schema constrains the model where the provider allows it (enums per dimension), but the
validator never trusts it: a schema is a request, not a guarantee.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from archsearch.space import InvalidConfigError, SearchSpace, Value

TOOL_NAME = "propose_experiments"
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_ITEM_CHARS = 300


def _json_type(kind: str) -> str:
    return {"str": "string", "int": "integer", "float": "number"}[kind]


def json_schema(space: SearchSpace) -> dict[str, Any]:
    """JSON Schema of a reply: {"proposals": [{"config": {dim: enum}, "hypothesis": str}]} (numbers as numbers)."""
    config = {
        "type": "object",
        "properties": {
            d.name: {"type": _json_type(d.kind), "enum": list(d.values), "description": f"{d.group} dimension"}
            for d in space.dimensions
        },
        "required": list(space.dims),
        "additionalProperties": False,
    }
    item = {
        "type": "object",
        "properties": {
            "config": config,
            "hypothesis": {"type": "string", "description": "one sentence: what this run tells us and why"},
        },
        "required": ["config", "hypothesis"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"proposals": {"type": "array", "items": item}},
        "required": ["proposals"],
        "additionalProperties": False,
    }


def value_text(v: Value) -> str:
    """A value as the string enum Gemini sees; ``space.canonical`` reads it back (number rule)."""
    return repr(v) if isinstance(v, float) else str(v)


def gemini_schema(space: SearchSpace) -> dict[str, Any]:
    """The same reply shape as a Gemini (OpenAPI subset) schema; enums must be strings there."""
    config = {
        "type": "OBJECT",
        "properties": {d.name: {"type": "STRING", "enum": [value_text(v) for v in d.values]} for d in space.dimensions},
        "required": list(space.dims),
        "property_ordering": list(space.dims),
    }
    item = {
        "type": "OBJECT",
        "properties": {"config": config, "hypothesis": {"type": "STRING"}},
        "required": ["config", "hypothesis"],
        "property_ordering": ["config", "hypothesis"],
    }
    return {"type": "OBJECT", "properties": {"proposals": {"type": "ARRAY", "items": item}}, "required": ["proposals"]}


def parse_json_text(text: str | None) -> tuple[Any, str | None]:
    """(payload, None) from JSON text (code fences and prose around one object tolerated), else (None, reason)."""
    if text is None or not text.strip():
        return None, "malformed JSON: empty reply"
    body = text.strip()
    m = _FENCE.match(body)
    if m:
        body = m.group(1)
    try:
        return json.loads(body), None
    except json.JSONDecodeError as exc:
        first, last = body.find("{"), body.rfind("}")
        if 0 <= first < last:
            try:
                return json.loads(body[first : last + 1]), None
            except json.JSONDecodeError:
                pass
        return None, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"


def items_of(payload: Any) -> tuple[list[Any], str | None]:
    """The list of proposal items in a parsed reply, or ([], reason) when its shape is wrong."""
    if isinstance(payload, dict) and "proposals" in payload:
        items = payload["proposals"]
        if isinstance(items, str):  # some models double-encode the array
            items, err = parse_json_text(items)
            if err:
                return [], f"'proposals' is a string that is not a JSON array ({err})"
    elif isinstance(payload, list):
        items = payload
    else:
        keys = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        return [], f"expected an object with a 'proposals' array, got {keys}"
    if not isinstance(items, list):
        return [], f"'proposals' must be an array, got {type(items).__name__}"
    return items, None


@dataclass
class Validation:
    """The outcome of checking one reply: what was accepted (canonical config, hypothesis) and why not the rest."""

    parsed: list[Any] = field(default_factory=list)
    accepted: list[tuple[dict[str, Value], str]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, index: int | None, item: Any, reason: str) -> None:
        text = item if isinstance(item, str) else json.dumps(item, default=str)
        self.rejections.append({"index": index, "item": text[:_ITEM_CHARS], "reason": reason})


def validate(items: Sequence[Any], space: SearchSpace, taken: Iterable[str], n: int) -> Validation:
    """Accept up to ``n`` new, distinct cells of ``space`` from ``items``; record a reason for each rejection.

    ``taken`` holds the config ids already run, queued, proposed, or accepted earlier in this round.
    """
    out = Validation(parsed=list(items))
    taken = set(taken)
    first_at: dict[str, int] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("config"), dict):
            out.reject(i, item, 'expected an object {"config": {dimension: value, ...}, "hypothesis": "..."}')
            continue
        extra = sorted(set(item) - {"config", "hypothesis"})
        if extra:
            out.reject(i, item, f"unknown item keys {extra}; allowed: ['config', 'hypothesis']")
            continue
        try:
            config = space.canonical(item["config"])
        except InvalidConfigError as exc:
            out.reject(i, item, _short(str(exc)))
            continue
        cid = space.config_id(config)
        if cid in first_at:
            out.reject(i, item, f"duplicate of item {first_at[cid]} in this reply (config id {cid})")
            continue
        first_at[cid] = i
        if cid in taken:
            out.reject(i, item, f"already run, queued or proposed in this campaign (config id {cid})")
            continue
        if len(out.accepted) >= n:
            out.reject(i, item, f"more than the {n} configs asked for")
            continue
        hypothesis = item.get("hypothesis")
        hypothesis = " ".join(hypothesis.split()) if isinstance(hypothesis, str) else ""
        out.accepted.append((config, hypothesis or "(no hypothesis given)"))
    return out


def _short(message: str) -> str:
    """An InvalidConfigError message without the space preamble (the model knows which space)."""
    return message.split("): ", 1)[-1] if "): " in message else message
