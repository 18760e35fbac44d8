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
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.common import did_you_mean
from archsearch.space.file_format import (
    GROUPS,
    SpaceError,
    parse_space,
    read_space_file,
)
from archsearch.space.values import Dimension, Value, format_value, lookup_key, stable_id, value_position


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
        pos = {d.name: {lookup_key(v): i for i, v in enumerate(d.values)} for d in self.dimensions}
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
            i = value_position(d, config[d.name], self._pos[d.name])
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

        See :func:`archsearch.space.sampling.sample` for the algorithm and when it raises.
        """
        return sample(self, rng, n, exclude, replace)

    def neighbours(
        self,
        config: Mapping[str, Any],
        dims: Iterable[str] | None = None,
        adjacent_only: bool = False,
    ) -> list[dict[str, Value]]:
        """Configs that differ from ``config`` in exactly one dimension (of ``dims``, default all).

        See :func:`archsearch.space.sampling.neighbours` for what ``adjacent_only`` keeps.
        """
        return neighbours(self, config, dims, adjacent_only)

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
                vals = ", ".join(format_value(v) for v in d.values)
                tail = f"  (default {format_value(defaults[d.name])})" if d.name in defaults else ""
                lines.append(f"  {d.name} [{d.kind}]: {vals}{tail}")
        lines.append("A config gives exactly one listed value for every dimension.")
        return "\n".join(lines)


def load_space(path_or_name: str | Path = "paper") -> SearchSpace:
    """Load a space file; the names ``"paper"`` and ``"demo"`` are the packaged spaces."""
    raw, path = read_space_file(path_or_name)
    return SearchSpace.from_dict(raw, str(path))


def check_names(
    space: SearchSpace,
    *,
    backbones: Iterable[str] | None = None,
    encoders: Iterable[str] | None = None,
    poolings: Iterable[str] | None = None,
    losses: Iterable[str] | None = None,
) -> None:
    """Check the space's names against registries the caller knows (this module imports no models).

    Each argument is the set of implemented names for one dimension (``backbone``, ``encoder``,
    ``pooling``, ``loss``); ``None`` skips it, and so does a dimension the space lacks.
    """
    for dim, known in (("backbone", backbones), ("encoder", encoders), ("pooling", poolings), ("loss", losses)):
        if known is None or dim not in space.dims:
            continue
        known = sorted(set(known))
        for i, v in enumerate(space.values(dim)):
            if v not in known:
                raise SpaceError(
                    f"{space.source}: groups.{space.group_of(dim)}.{dim}[{i}]: {v!r} is not implemented"
                    f"{did_you_mean(v, known)}; known: {known}"
                )


# ---------------------------------------------------------------------- sampling (what agents do with a space)


def sample(
    space: SearchSpace,
    rng: np.random.Generator,
    n: int,
    exclude: Iterable[str] = (),
    replace: bool = False,
) -> list[dict[str, Value]]:
    """``n`` configs uniform over the cells whose id is not in ``exclude`` (config ids).

    Without replacement the result has no duplicates. Indices are drawn, not configs: while
    fewer than half the cells are taken, rejection sampling costs O(n); past that the free
    cells are enumerated once. Raises if fewer than ``n`` free cells remain.
    """
    exclude = set(exclude)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n == 0:
        return []
    if replace or (len(exclude) + n) * 2 <= space.size:
        out = _sample_by_rejection(space, rng, n, exclude, replace)
        if out is not None:
            return out
    free = [i for i in range(space.size) if stable_id(space.config_at(i)) not in exclude]
    if len(free) < (1 if replace else n):
        raise ValueError(
            f"space {space.name!r}: asked for {n} new configs but only {len(free)} of {space.size:,} cells are free"
        )
    return [space.config_at(int(i)) for i in rng.choice(free, size=n, replace=replace)]


def _sample_by_rejection(
    space: SearchSpace, rng: np.random.Generator, n: int, exclude: set[str], replace: bool
) -> list[dict[str, Value]] | None:
    """Draw indices, skip used ones; None when it takes too long (most cells excluded)."""
    chosen: set[int] = set()
    out: list[dict[str, Value]] = []
    budget = 20 * n + 1_000
    while len(out) < n:
        if budget <= 0:
            return None
        batch = rng.integers(0, space.size, size=min(budget, 2 * (n - len(out)) + 8))
        budget -= len(batch)
        for i in batch.tolist():
            if not replace and i in chosen:
                continue
            cfg = space.config_at(i)
            if exclude and stable_id(cfg) in exclude:
                continue
            chosen.add(i)
            out.append(cfg)
            if len(out) == n:
                break
    return out


def neighbours(
    space: SearchSpace,
    config: Mapping[str, Any],
    dims: Iterable[str] | None = None,
    adjacent_only: bool = False,
) -> list[dict[str, Value]]:
    """Configs that differ from ``config`` in exactly one dimension (of ``dims``, default all).

    With ``adjacent_only``, a numeric dimension contributes only the next lower and next
    higher value (in numeric order); string dimensions have no order and give all others.
    """
    c = space.canonical(config)
    names = space.dims if dims is None else tuple(dims)
    known = set(space.dims)
    for dim in names:
        if dim not in known:
            raise KeyError(f"{space.source}: no dimension {dim!r}; dimensions: {list(space.dims)}")
    out = []
    for dim in (d for d in space.dims if d in names):  # space order
        d = space.dimension(dim)
        others = [v for v in d.values if v != c[dim]]
        if adjacent_only and d.numeric:
            ordered = sorted(d.values)
            i = ordered.index(c[dim])
            others = [ordered[j] for j in (i - 1, i + 1) if 0 <= j < len(ordered)]
        out.extend({**c, dim: v} for v in others)
    return out
