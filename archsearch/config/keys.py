"""Unknown keys are errors: one check walks the whole project config before any section is parsed.

A misspelt key (``skip_bad_row``, ``splits: {fraction: ...}``) used to be ignored, so the default
silently applied; here it fails at load with the file, the dotted key and the closest allowed key.
Which keys a section allows comes from the dataclass that holds it (``SplitConfig``,
``FeatureConfig``, ...), so a field added to one of them is an allowed key with no second list to
keep in sync. Sections that check their own keys (``campaign``, each dataset's ``synthetic``) are
skipped here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields, is_dataclass
from typing import Any

from archsearch.common import did_you_mean
from archsearch.config.errors import config_error

# A schema maps each allowed key to the schema of its value: None (not checked here), a dataclass
# type (its field names), a dict (nested), a one-element list (every list item), or {"*": s} (every value).
Schema = Any


def unknown_key_error(source: str, where: str, key: object, allowed: Iterable[str]):
    """``<file>: <where>.<key>: unknown key (did you mean 'x'?); allowed: a, b, c``."""
    allowed = list(allowed)
    path = f"{where}.{key}" if where else str(key)
    return config_error(source, path, f"unknown key{did_you_mean(key, allowed)}; allowed: {', '.join(allowed)}")


def check_keys(source: str, where: str, mapping: Any, allowed: Iterable[str]) -> None:
    """Raise for the first key of ``mapping`` not in ``allowed`` (a non-mapping is the parser's to reject)."""
    allowed = list(allowed)
    if isinstance(mapping, Mapping):
        for key in mapping:
            if key not in allowed:
                raise unknown_key_error(source, where, key, allowed)


def dataclass_keys(cls: type, exclude: Iterable[str] = ()) -> tuple[str, ...]:
    """The field names of a config dataclass: the keys its section allows."""
    skip = set(exclude)
    return tuple(f.name for f in fields(cls) if f.name not in skip)


def check_tree(raw: Any, source: str, schema: Schema, where: str = "") -> None:
    """Check ``raw`` against ``schema`` recursively; values of the wrong type are left to the parsers."""
    if schema is None:
        return
    if isinstance(schema, type) and is_dataclass(schema):
        check_keys(source, where, raw, dataclass_keys(schema, exclude=("source",)))  # provenance, not a key
        return
    if isinstance(schema, list):
        if isinstance(raw, list):
            for i, item in enumerate(raw):
                check_tree(item, source, schema[0], f"{where}[{i}]")
        return
    if not isinstance(raw, Mapping):
        return
    if "*" in schema:
        for key, value in raw.items():
            check_tree(value, source, schema["*"], f"{where}.{key}" if where else str(key))
        return
    check_keys(source, where, raw, schema)
    for key, value in raw.items():
        check_tree(value, source, schema[key], f"{where}.{key}" if where else str(key))


def sections_of(cls: type, explicit: Mapping[str, Schema], exclude: Iterable[str] = ()) -> dict[str, Schema]:
    """A top-level schema: every field of ``cls`` (minus ``exclude``); a field whose default is a
    config dataclass is checked against that dataclass's fields unless ``explicit`` says otherwise."""
    out: dict[str, Schema] = {}
    skip = set(exclude)
    for f in fields(cls):
        if f.name in skip:
            continue
        auto = type(f.default) if is_dataclass(f.default) else None  # MISSING (a default_factory) is not one
        out[f.name] = explicit.get(f.name, auto)
    return out
