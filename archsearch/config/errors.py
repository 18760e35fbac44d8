"""The project configuration's one error type: every message starts with the file and names the key."""

from __future__ import annotations


class ConfigError(ValueError):
    """The project configuration is invalid; the message names the file and the key."""


def config_error(source: str, key: str, msg: str) -> ConfigError:
    """``<file>: <key>: <what was expected, what was found>``."""
    return ConfigError(f"{source}: {key}: {msg}")
