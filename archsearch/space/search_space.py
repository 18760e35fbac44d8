"""The search space: which experiment configs exist, and one stable name for each.

A space is a YAML file users edit (``archsearch/config/space.yaml`` is the paper's 108,000-cell
space). Two groups, ``architecture`` and ``training``, hold ordered dimensions, each an ordered
list of values. Everything downstream keys on what this module returns, so it is strict:

* a config is *canonical* when its keys follow the space order and its values are exactly the
  space's values (``0.001``, ``1e-3`` and ``"1e-3"`` all become the listed float; ``16.0``
  becomes the listed int ``16``);
* ``config_id`` hashes the canonical config, so the same cell gets the same experiment
  partition key whatever the key order, float spelling or space name;
* the cells are numbered mixed-radix (first dimension most significant), so a random agent
  can sample *indices* and never materialise the 108,000 configs.

This module is the public face: :class:`SearchSpace` and :func:`load_space` live here, and the
names of its parts are re-exported so ``from archsearch.space import ...`` keeps working. The
parts, one job each: :mod:`archsearch.space_values` (the number rule, ``Dimension``,
``stable_id``), :mod:`archsearch.space_file` (reading and validating space files,
``SpaceError``, ``check_names``) and :mod:`archsearch.space_sampling` (``sample``, ``neighbours``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archsearch import space_sampling
from archsearch.space_file import (
    GROUPS,
    NAMED_SPACES,
    REQUIRED_ARCHITECTURE,
    SPACE_DIR,
    SpaceError,
    check_names,
    parse_space,
    read_space_file,
)
from archsearch.space_values import Dimension, Value, _fmt, _key, _position, stable_id

__all__ = [
    "GROUPS",
    "NAMED_SPACES",
    "REQUIRED_ARCHITECTURE",
    "SPACE_DIR",
    "Dimension",
    "InvalidConfigError",
    "SearchSpace",
    "SpaceError",
    "Value",
    "check_names",
    "load_space",
    "stable_id",
]


class InvalidConfigError(ValueError):
    """A config is not a cell of the space; the message names the key and the allowed values."""


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space; build it with :func:`load_space` or :meth:`from_dict`."""

    name: str
    source: str
    dimensions: tuple[Dimension, ...]
    defaults: tuple[tuple[str, Value], ...]  # every training dim, in space order
    description: str = ""
    _pos: dict = field(init=False, repr=False, compare=False, hash=False)  # dim -> {key(value): position}

    def __post_init__(self) -> None:
        pos = {d.name: {_key(v): i for i, v in enumerate(d.values)} for d in self.dimensions}
        object.__setattr__(self, "_pos", pos)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_dict(cls, raw: Any, source: str = "<space>") -> SearchSpace:
        """Validate a parsed space file; every error starts with ``source`` and names the key (see space_file)."""
        return cls(**parse_space(raw, source))

    def to_dict(self) -> dict[str, Any]:
        """The space as plain data (the file format); ``from_dict(to_dict())`` gives an equal space."""
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        out["groups"] = {g: {d.name: list(d.values) for d in self.dimensions if d.group == g} for g in GROUPS}
        out["defaults"] = dict(self.defaults)
        return out

    # ------------------------------------------------------------------ structure
    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)

    @property
    def size(self) -> int:
        return math.prod(len(d.values) for d in self.dimensions)

    def dimension(self, dim: str) -> Dimension:
        for d in self.dimensions:
            if d.name == dim:
                return d
        raise KeyError(f"{self.source}: no dimension {dim!r}; dimensions: {list(self.dims)}")

    def values(self, dim: str) -> tuple[Value, ...]:
        return self.dimension(dim).values

    def group_of(self, dim: str) -> str:
        return self.dimension(dim).group

    def group_dims(self, group: str) -> tuple[str, ...]:
        if group not in GROUPS:
            raise KeyError(f"unknown group {group!r}; groups: {list(GROUPS)}")
        return tuple(d.name for d in self.dimensions if d.group == group)

    def default_training(self) -> dict[str, Value]:
        """Each training dimension's default (the file's ``defaults:``, else its first value)."""
        return dict(self.defaults)

    # ------------------------------------------------------------------ configs
    def validate_config(self, config: Mapping[str, Any]) -> dict[str, Value]:
        """The canonical form of ``config``, or an :class:`InvalidConfigError` naming the bad key.

        Keys come out in space order and values are the space's own (``"1e-3"`` -> ``0.001``).
        """
        return {d.name: d.values[i] for d, i in zip(self.dimensions, self._positions(config), strict=True)}

    def _positions(self, config: Mapping[str, Any]) -> list[int]:
        """Each dimension's value position in ``config``; errors name the key (see validate_config)."""
        where = f"config for space {self.name!r} ({self.source})"
        if not isinstance(config, Mapping):
            raise InvalidConfigError(f"{where}: expected a mapping of dimension -> value, got {type(config).__name__}")
        unknown = [k for k in config if k not in self._pos]
        if unknown:
            raise InvalidConfigError(f"{where}: unknown key {unknown[0]!r}; dimensions: {list(self.dims)}")
        out = []
        for d in self.dimensions:
            if d.name not in config:
                raise InvalidConfigError(f"{where}: missing key {d.name!r} (allowed values: {list(d.values)})")
            i = _position(d, config[d.name], self._pos[d.name])
            if i is None:
                raise InvalidConfigError(
                    f"{where}: key {d.name!r}: value {config[d.name]!r} is not in the space; allowed: {list(d.values)}"
                )
            out.append(i)
        return out

    canonical = validate_config  # same operation; the name says why a caller wants it

    def config_id(self, config: Mapping[str, Any]) -> str:
        """The experiment key: 12 hex chars, stable across key order, float spelling and space name."""
        return stable_id(self.canonical(config))

    def architecture(self, config: Mapping[str, Any]) -> tuple[Value, ...]:
        """The architecture cell, e.g. ``('vjepa2_vitl', 'zipformer', 'attention')`` (ANOVA groups)."""
        c = self.canonical(config)
        return tuple(c[d] for d in self.group_dims("architecture"))

    def training(self, config: Mapping[str, Any]) -> tuple[Value, ...]:
        """The training knobs in space order, e.g. ``('focal', 0.001, 0.0001, 16, 20)``."""
        c = self.canonical(config)
        return tuple(c[d] for d in self.group_dims("training"))

    # ------------------------------------------------------------------ numbering
    def index_of(self, config: Mapping[str, Any]) -> int:
        """Mixed-radix cell number in [0, size): first dimension most significant."""
        index = 0
        for d, i in zip(self.dimensions, self._positions(config), strict=True):
            index = index * len(d.values) + i
        return index

    def config_at(self, index: int) -> dict[str, Value]:
        """The canonical config of cell ``index`` (inverse of :meth:`index_of`)."""
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"cell index must be an int, got {type(index).__name__}")
        index = int(index)
        if not 0 <= index < self.size:
            raise IndexError(f"cell index {index} is outside [0, {self.size}) of space {self.name!r}")
        picks: list[Value] = []
        for d in reversed(self.dimensions):
            index, r = divmod(index, len(d.values))
            picks.append(d.values[r])
        return dict(zip(self.dims, reversed(picks), strict=True))

    def sample(
        self,
        rng: np.random.Generator,
        n: int,
        exclude: Iterable[str] = (),
        replace: bool = False,
    ) -> list[dict[str, Value]]:
        """``n`` distinct (unless ``replace``) configs uniform over the cells whose id is not in ``exclude``.

        See :func:`archsearch.space_sampling.sample` for the algorithm and when it raises.
        """
        return space_sampling.sample(self, rng, n, exclude, replace)

    def neighbours(
        self,
        config: Mapping[str, Any],
        dims: Iterable[str] | None = None,
        adjacent_only: bool = False,
    ) -> list[dict[str, Value]]:
        """Configs that differ from ``config`` in exactly one dimension (of ``dims``, default all).

        See :func:`archsearch.space_sampling.neighbours` for what ``adjacent_only`` keeps.
        """
        return space_sampling.neighbours(self, config, dims, adjacent_only)

    # ------------------------------------------------------------------ text
    def to_prompt_text(self) -> str:
        """A compact description of the space for people and LLM prompts."""
        radix = " x ".join(str(len(d.values)) for d in self.dimensions)
        lines = [f"Search space {self.name!r}: {self.size:,} configurations ({radix})."]
        if self.description:
            lines.append(self.description.strip())
        defaults = dict(self.defaults)
        for g in GROUPS:
            lines.append(f"{g}:")
            for d in self.dimensions:
                if d.group != g:
                    continue
                vals = ", ".join(_fmt(v) for v in d.values)
                tail = f"  (default {_fmt(defaults[d.name])})" if d.name in defaults else ""
                lines.append(f"  {d.name} [{d.kind}]: {vals}{tail}")
        lines.append("A config gives exactly one listed value for every dimension.")
        return "\n".join(lines)


def load_space(path_or_name: str | Path = "paper") -> SearchSpace:
    """Load a space file; the names ``"paper"`` and ``"demo"`` are the packaged spaces."""
    raw, path = read_space_file(path_or_name)
    return SearchSpace.from_dict(raw, str(path))
