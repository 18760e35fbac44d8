"""Values of a search space: the number rule, one dimension, and the stable id of a canonical config.

Everything else in the space (file parsing, the ``SearchSpace`` API, sampling) leans on these few
rules, so they live in one place where they are easy to check.

Number rule: YAML 1.1 (PyYAML) reads ``1e-4`` as the string ``"1e-4"`` (it wants ``1.0e-4``).
So in space files and in configs, a string that is a plain decimal number literal (``"1e-4"``,
``"0.001"``, ``"16"``) is read as that number: a float if it has a ``.`` or an exponent, else
an int. Booleans, nulls, NaN and infinities are never values.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Value = str | int | float

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def as_number(v: Any) -> Any:
    """Apply the number rule: a numeric-literal string becomes an int or float; else unchanged."""
    if isinstance(v, str) and _NUMBER.fullmatch(v.strip()):
        s = v.strip()
        return float(s) if any(c in s for c in ".eE") else int(s)
    return v


def value_kind(v: Any) -> str | None:
    """'str', 'int' or 'float' for a legal value; None for anything else (bool, None, nan, lists...)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, str):
        return "str" if v else None
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float" if math.isfinite(v) else None
    return None


def lookup_key(v: Value) -> Value:
    """A lookup key robust to float noise (3 * 1e-4 finds 3e-4); ints and strings unchanged."""
    return float(f"{v:.12g}") if isinstance(v, float) else v


def format_value(v: Value) -> str:
    return repr(v) if isinstance(v, float) else str(v)


def stable_id(canonical: Mapping[str, Value]) -> str:
    """12 hex of sha256 over sorted-key JSON; integral floats hash as ints (``0.0`` == ``0``).

    Takes an already canonical config (see :meth:`SearchSpace.canonical`); it does not depend
    on key order or on the space's name, only on the dimension names and values.
    """
    norm = {k: (int(v) if isinstance(v, float) and v.is_integer() else v) for k, v in canonical.items()}
    text = json.dumps(norm, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Dimension:
    """One axis of the space: its group, its ordered values and their type ('str'|'int'|'float')."""

    name: str
    group: str
    values: tuple[Value, ...]
    kind: str

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float")


def value_position(d: Dimension, v: Any, pos: Mapping[Value, int]) -> int | None:
    """Where ``v`` sits in ``d.values`` under the number rule (``pos`` maps value keys), or None."""
    if d.kind == "str":  # numeric-looking strings never reach a string dimension (see the rule)
        return pos.get(v) if isinstance(v, str) else None
    v = as_number(v)
    k = value_kind(v)
    if k == "float" and d.kind == "int":
        if not v.is_integer():
            return None
        v = int(v)
    elif k == "int" and d.kind == "float":
        v = float(v)
    elif k != d.kind:
        return None
    return pos.get(lookup_key(v))
