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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np
import yaml

Value = Union[str, int, float]

GROUPS = ("architecture", "training")
REQUIRED_ARCHITECTURE = ("backbone", "encoder", "pooling")
SPACE_DIR = Path(__file__).with_name("config")
NAMED_SPACES = {"paper": SPACE_DIR / "space.yaml", "demo": SPACE_DIR / "space_demo.yaml"}

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_DIM_NAME = re.compile(r"[a-z][a-z0-9_]*")
_TOP_KEYS = ("name", "description", "groups", "defaults")


class SpaceError(ValueError):
    """The space file is invalid; the message names the file and the bad key or value."""


class InvalidConfigError(ValueError):
    """A config is not a cell of the space; the message names the key and the allowed values."""


def _as_number(v: Any) -> Any:
    """Apply the number rule: a numeric-literal string becomes an int or float; else unchanged."""
    if isinstance(v, str) and _NUMBER.fullmatch(v.strip()):
        s = v.strip()
        return float(s) if any(c in s for c in ".eE") else int(s)
    return v


def _kind(v: Any) -> str | None:
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


def _key(v: Value) -> Value:
    """A lookup key robust to float noise (3 * 1e-4 finds 3e-4); ints and strings unchanged."""
    return float(f"{v:.12g}") if isinstance(v, float) else v


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
        """Validate a parsed space file; every error starts with ``source`` and names the key."""

        def err(key: str, msg: str) -> SpaceError:
            return SpaceError(f"{source}: {key}: {msg}")

        if not isinstance(raw, Mapping):
            raise SpaceError(f"{source}: expected a mapping with 'groups' at the top level, got {type(raw).__name__}")
        unknown = [k for k in raw if k not in _TOP_KEYS]
        if unknown:
            raise err(str(unknown[0]), f"unknown top-level key; allowed: {list(_TOP_KEYS)}")
        name = raw.get("name", Path(source).stem if source.endswith((".yaml", ".yml")) else "custom")
        if not isinstance(name, str) or not name:
            raise err("name", f"expected a non-empty string, got {name!r}")
        description = raw.get("description", "") or ""
        if not isinstance(description, str):
            raise err("description", f"expected a string, got {description!r}")
        groups = raw.get("groups")
        if not isinstance(groups, Mapping) or not groups:
            raise err("groups", f"expected a mapping with groups {list(GROUPS)}, got {groups!r}")
        for g in groups:
            if g not in GROUPS:
                raise err(f"groups.{g}", f"unknown group; allowed: {list(GROUPS)}")

        dims: list[Dimension] = []
        seen: dict[str, str] = {}
        for g in GROUPS:  # fixed group order: architecture first, whatever the file order
            body = groups.get(g)
            if not isinstance(body, Mapping) or not body:
                raise err(f"groups.{g}", f"expected a non-empty mapping of dimension -> list of values, got {body!r}")
            for dim, vals in body.items():
                key = f"groups.{g}.{dim}"
                if not isinstance(dim, str) or not _DIM_NAME.fullmatch(dim):
                    raise err(key, "dimension names are lower-case identifiers (letters, digits, _)")
                if dim in seen:
                    raise err(key, f"dimension {dim!r} is already in group {seen[dim]!r}; a dimension belongs to one group")
                seen[dim] = g
                dims.append(_parse_dimension(dim, g, vals, err))

        for dim in REQUIRED_ARCHITECTURE:
            if seen.get(dim) != "architecture":
                where = f"it is in group {seen[dim]!r}" if dim in seen else "it is missing"
                raise err(f"groups.architecture.{dim}", f"required architecture dimension; {where}")

        by_name = {d.name: d for d in dims}
        raw_defaults = raw.get("defaults") or {}
        if not isinstance(raw_defaults, Mapping):
            raise err("defaults", f"expected a mapping of training dimension -> value, got {raw_defaults!r}")
        for dim in raw_defaults:
            if dim not in by_name:
                raise err(f"defaults.{dim}", f"unknown dimension; training dimensions: {_names(dims, 'training')}")
            if by_name[dim].group != "training":
                raise err(f"defaults.{dim}", "defaults are for training dimensions only")
        defaults = []
        for d in dims:
            if d.group != "training":
                continue
            if d.name not in raw_defaults:  # rule: no default given -> the first listed value
                defaults.append((d.name, d.values[0]))
                continue
            i = _position(d, raw_defaults[d.name], {_key(x): j for j, x in enumerate(d.values)})
            if i is None:
                raise err(f"defaults.{d.name}", f"{raw_defaults[d.name]!r} is not among the values {list(d.values)}")
            defaults.append((d.name, d.values[i]))
        return cls(name=name, source=source, dimensions=tuple(dims), defaults=tuple(defaults), description=description)

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
        if replace or (len(exclude) + n) * 2 <= self.size:
            out = self._sample_by_rejection(rng, n, exclude, replace)
            if out is not None:
                return out
        free = [i for i in range(self.size) if stable_id(self.config_at(i)) not in exclude]
        if len(free) < (1 if replace else n):
            raise ValueError(
                f"space {self.name!r}: asked for {n} new configs but only {len(free)} of {self.size:,} cells are free"
            )
        return [self.config_at(int(i)) for i in rng.choice(free, size=n, replace=replace)]

    def _sample_by_rejection(
        self, rng: np.random.Generator, n: int, exclude: set[str], replace: bool
    ) -> list[dict[str, Value]] | None:
        """Draw indices, skip used ones; None when it takes too long (most cells excluded)."""
        chosen: set[int] = set()
        out: list[dict[str, Value]] = []
        budget = 20 * n + 1_000
        while len(out) < n:
            if budget <= 0:
                return None
            batch = rng.integers(0, self.size, size=min(budget, 2 * (n - len(out)) + 8))
            budget -= len(batch)
            for i in batch.tolist():
                if not replace and i in chosen:
                    continue
                cfg = self.config_at(i)
                if exclude and stable_id(cfg) in exclude:
                    continue
                chosen.add(i)
                out.append(cfg)
                if len(out) == n:
                    break
        return out

    def neighbours(
        self,
        config: Mapping[str, Any],
        dims: Iterable[str] | None = None,
        adjacent_only: bool = False,
    ) -> list[dict[str, Value]]:
        """Configs that differ from ``config`` in exactly one dimension (of ``dims``, default all).

        With ``adjacent_only``, a numeric dimension contributes only the next lower and next
        higher value (in numeric order); string dimensions have no order and give all others.
        """
        c = self.canonical(config)
        names = self.dims if dims is None else tuple(dims)
        for dim in names:
            if dim not in self._pos:
                raise KeyError(f"{self.source}: no dimension {dim!r}; dimensions: {list(self.dims)}")
        out = []
        for dim in (d for d in self.dims if d in names):  # space order
            d = self.dimension(dim)
            others = [v for v in d.values if v != c[dim]]
            if adjacent_only and d.numeric:
                ordered = sorted(d.values)
                i = ordered.index(c[dim])
                others = [ordered[j] for j in (i - 1, i + 1) if 0 <= j < len(ordered)]
            out.extend({**c, dim: v} for v in others)
        return out

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


def _fmt(v: Value) -> str:
    return repr(v) if isinstance(v, float) else str(v)


def _names(dims: list[Dimension], group: str) -> list[str]:
    return [d.name for d in dims if d.group == group]


def _parse_dimension(dim: str, group: str, vals: Any, err) -> Dimension:
    key = f"groups.{group}.{dim}"
    if not isinstance(vals, list | tuple):
        raise err(key, f"expected a list of values, got {vals!r}")
    if not vals:
        raise err(key, "empty dimension; give at least one value")
    vals = [_as_number(v) for v in vals]
    kinds = []
    for i, v in enumerate(vals):
        k = _kind(v)
        if k is None:
            hint = " (quote it if you mean the string)" if isinstance(v, bool) else ""
            raise err(f"{key}[{i}]", f"{v!r} is not a value; use a non-empty string or a finite number{hint}")
        kinds.append(k)
    if "str" in kinds and len(set(kinds)) > 1:
        i = next(i for i, k in enumerate(kinds) if k != kinds[0])
        raise err(f"{key}[{i}]", f"mixed value types: {vals[i]!r} is a {kinds[i]} but {vals[0]!r} is a {kinds[0]}; "
                  "a dimension holds only strings or only numbers")
    kind = "float" if "float" in kinds else kinds[0]
    if kind == "float":
        vals = [float(v) for v in vals]
    seen: dict[Value, int] = {}
    for i, v in enumerate(vals):
        if _key(v) in seen:
            raise err(f"{key}[{i}]", f"duplicate value {v!r} (same as item {seen[_key(v)]})")
        seen[_key(v)] = i
    return Dimension(name=dim, group=group, values=tuple(vals), kind=kind)


def _position(d: Dimension, v: Any, pos: Mapping[Value, int]) -> int | None:
    """Where ``v`` sits in ``d.values`` under the number rule (``pos`` maps value keys), or None."""
    if d.kind == "str":  # numeric-looking strings never reach a string dimension (see the rule)
        return pos.get(v) if isinstance(v, str) else None
    v = _as_number(v)
    k = _kind(v)
    if k == "float" and d.kind == "int":
        if not v.is_integer():
            return None
        v = int(v)
    elif k == "int" and d.kind == "float":
        v = float(v)
    elif k != d.kind:
        return None
    return pos.get(_key(v))


def load_space(path_or_name: str | Path = "paper") -> SearchSpace:
    """Load a space file; the names ``"paper"`` and ``"demo"`` are the packaged spaces."""
    if isinstance(path_or_name, str) and path_or_name in NAMED_SPACES:
        path = NAMED_SPACES[path_or_name]
    else:
        path = Path(path_or_name).expanduser()
    if not path.is_file():
        raise SpaceError(f"{path}: space file not found (give a path or one of {sorted(NAMED_SPACES)})")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpaceError(f"{path}: not valid YAML: {exc}") from exc
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
        known = set(known)
        bad = [v for v in space.values(dim) if v not in known]
        if bad:
            raise SpaceError(
                f"{space.source}: groups.{space.group_of(dim)}.{dim}: {bad} not implemented; known: {sorted(known)}"
            )
