"""The one error type of the decode package, and how native errors are shortened into it."""

from __future__ import annotations

import re


class VideoDecodeError(ValueError):
    """A video file could not be read; the message names the path and what was wrong."""


def short_error(err: BaseException) -> str:
    """One readable line from a (possibly multi-line, log-prefixed) native error."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    text = lines[-1] if lines else type(err).__name__
    text = re.sub(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ", "", text)  # decord's "[time] file.cc:N: "
    return f"{type(err).__name__}: {text[:200]}"
