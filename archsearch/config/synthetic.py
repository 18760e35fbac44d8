"""A dataset's ``synthetic:`` settings, checked when the config loads rather than when videos are made.

The generator's own spec (``archsearch.data.synth.spec.SyntheticSpec``) sits above config in the
layers, so config cannot build it; instead it declares the settings a user may give, with their
types and plain ranges, and checks them here. A typo (``n_video``) or a wrong type now fails at
load with the file and the key, not minutes later in the `videos` run. The finer rules (even frame
sizes, a whole number of frames) stay with the spec. tests/faults/test_config_validation.py checks
that this table and the spec agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from archsearch.config.errors import config_error
from archsearch.config.keys import unknown_key_error


@dataclass(frozen=True)
class Setting:
    """One generator setting: its kind ('int', 'number' or 'choice') and allowed range or choices."""

    kind: str
    lo: float = -math.inf
    hi: float = math.inf
    choices: tuple[str, ...] = ()

    def expected(self) -> str:
        if self.kind == "choice":
            return f"one of {list(self.choices)}"
        what = "an integer" if self.kind == "int" else "a number"
        return f"{what} in [{self.lo:g}, {self.hi:g}]"

    def accepts(self, value: Any) -> bool:
        if self.kind == "choice":
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, int if self.kind == "int" else int | float):
            return False
        return math.isfinite(value) and self.lo <= value <= self.hi


# The settings of SyntheticSpec a config may give (its `name` is the dataset's name).
SYNTHETIC_SETTINGS: dict[str, Setting] = {
    "variant": Setting("choice", choices=("front", "side")),
    "n_videos": Setting("int", 1, 100_000),
    "duration_s": Setting("number", 2.0, 120.0),
    "fps": Setting("number", 1.0, 60.0),
    "width": Setting("int", 32, 1920),
    "height": Setting("int", 24, 1080),
    "positive_fraction": Setting("number", 0.0, 1.0),
    "near_miss_fraction": Setting("number", 0.0, 1.0),
    "difficulty": Setting("number", 0.0, 1.0),
    "seed": Setting("int", 0, 2**63 - 1),
}


def check_synthetic(source: str, where: str, raw: Any) -> dict[str, Any]:
    """The ``synthetic:`` mapping at ``where`` (e.g. ``datasets[0].synthetic``), checked; None means {}."""
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise config_error(source, where, f"expected a mapping of generator settings, got {raw!r}")
    for key, value in raw.items():
        setting = SYNTHETIC_SETTINGS.get(key)
        if setting is None:
            raise unknown_key_error(source, where, key, SYNTHETIC_SETTINGS)
        if not setting.accepts(value):
            raise config_error(source, f"{where}.{key}", f"expected {setting.expected()}, got {value!r}")
    return dict(raw)
