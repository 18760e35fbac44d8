"""The space file format: find and read a space YAML file, and validate its contents strictly.

Everything downstream keys on the parsed space, so a bad file must fail here, at load, with an
error that names the file and the key (``groups.training.lr[2]``) and says what was expected,
rather than later as an odd config id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from archsearch.common import did_you_mean
from archsearch.space.values import Dimension, Value, as_number, lookup_key, value_kind, value_position

GROUPS = ("architecture", "training")
REQUIRED_ARCHITECTURE = ("backbone", "encoder", "pooling")
SPACE_DIR = Path(__file__).resolve().parent.parent / "config"  # the packaged space files
NAMED_SPACES = {"paper": SPACE_DIR / "space.yaml", "demo": SPACE_DIR / "space_demo.yaml"}

_DIM_NAME = re.compile(r"[a-z][a-z0-9_]*")
_TOP_KEYS = ("name", "description", "groups", "defaults")


class SpaceError(ValueError):
    """The space file is invalid; the message names the file and the bad key or value."""


def parse_space(raw: Any, source: str) -> dict[str, Any]:
    """Validate a parsed space file into ``SearchSpace`` fields; every error starts with ``source``, naming the key."""

    def err(key: str, msg: str) -> SpaceError:
        return SpaceError(f"{source}: {key}: {msg}")

    if not isinstance(raw, Mapping):
        raise SpaceError(f"{source}: expected a mapping with 'groups' at the top level, got {type(raw).__name__}")
    unknown = [k for k in raw if k not in _TOP_KEYS]
    if unknown:
        raise err(
            str(unknown[0]), f"unknown top-level key{did_you_mean(unknown[0], _TOP_KEYS)}; allowed: {list(_TOP_KEYS)}"
        )
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
            raise err(f"groups.{g}", f"unknown group{did_you_mean(g, GROUPS)}; allowed: {list(GROUPS)}")

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
            raise err(
                f"defaults.{dim}",
                f"unknown dimension{did_you_mean(dim, by_name)}; training dimensions: {_names(dims, 'training')}",
            )
        if by_name[dim].group != "training":
            raise err(f"defaults.{dim}", "defaults are for training dimensions only")
    defaults = []
    for d in dims:
        if d.group != "training":
            continue
        if d.name not in raw_defaults:  # rule: no default given -> the first listed value
            defaults.append((d.name, d.values[0]))
            continue
        i = value_position(d, raw_defaults[d.name], {lookup_key(x): j for j, x in enumerate(d.values)})
        if i is None:
            raise err(f"defaults.{d.name}", f"{raw_defaults[d.name]!r} is not among the values {list(d.values)}")
        defaults.append((d.name, d.values[i]))
    return dict(name=name, source=source, dimensions=tuple(dims), defaults=tuple(defaults), description=description)


def _names(dims: list[Dimension], group: str) -> list[str]:
    return [d.name for d in dims if d.group == group]


def _parse_dimension(dim: str, group: str, vals: Any, err) -> Dimension:
    key = f"groups.{group}.{dim}"
    if not isinstance(vals, list | tuple):
        raise err(key, f"expected a list of values, got {vals!r}")
    if not vals:
        raise err(key, "empty dimension; give at least one value")
    vals = [as_number(v) for v in vals]
    kinds = []
    for i, v in enumerate(vals):
        k = value_kind(v)
        if k is None:
            hint = " (quote it if you mean the string)" if isinstance(v, bool) else ""
            raise err(f"{key}[{i}]", f"{v!r} is not a value; use a non-empty string or a finite number{hint}")
        kinds.append(k)
    if "str" in kinds and len(set(kinds)) > 1:
        i = next(i for i, k in enumerate(kinds) if k != kinds[0])
        raise err(
            f"{key}[{i}]",
            f"mixed value types: {vals[i]!r} is a {kinds[i]} but {vals[0]!r} is a {kinds[0]}; "
            "a dimension holds only strings or only numbers",
        )
    kind = "float" if "float" in kinds else kinds[0]
    if kind == "float":
        vals = [float(v) for v in vals]
    seen: dict[Value, int] = {}
    for i, v in enumerate(vals):
        if lookup_key(v) in seen:
            raise err(f"{key}[{i}]", f"duplicate value {v!r} (same as item {seen[lookup_key(v)]})")
        seen[lookup_key(v)] = i
    return Dimension(name=dim, group=group, values=tuple(vals), kind=kind)


def read_space_file(path_or_name: str | Path) -> tuple[Any, Path]:
    """The parsed YAML of a space file and its path; the names ``"paper"`` and ``"demo"`` are the packaged spaces."""
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
    return raw, path
