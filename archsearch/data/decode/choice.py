"""Which decoder may read a file: decord only where it provably returns PyAV's frames at PyAV's times.

decord indexes frames by packet and takes their times from its own ffmpeg; PyAV follows the
container (edit lists, display rotation). They agree unless the container trims packets (an
edit list that cuts the start: decord then returns frames from later in the clip), asks for a
rotation (decord ignores it), or lacks timestamps. ``choose_backend`` decides per file from
those container facts; ``decord_disagreement`` compares decord's own frame times with the
container's, which the decord path checks again on every decode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsearch.data.decode.container import ContainerFacts
from archsearch.data.decode.decord_backend import decord_available, open_reader, reader_times
from archsearch.data.decode.errors import VideoDecodeError, short_error

BACKEND_MODES = ("auto", "pyav", "decord")
TIMES_AGREE_S = 1e-3  # decord's float frame times vs the container's: far below any frame period


@dataclass(frozen=True)
class BackendChoice:
    """The decoder one file is read with, and why (shown in the manifest and by check-data)."""

    name: str  # "decord" | "pyav"
    reason: str


def check_mode(mode: str) -> str:
    """``mode`` if it is one of BACKEND_MODES, else a ValueError naming the choices."""
    if mode not in BACKEND_MODES:
        raise ValueError(f"backend: expected one of {', '.join(map(repr, BACKEND_MODES))}, got {mode!r}")
    return mode


def decord_hazards(facts: ContainerFacts) -> list[str]:
    """Container features that make decord return other frames or other times than the container's."""
    out = []
    if facts.discarded:
        late = f"{facts.discarded_lead:.3f} s late" if facts.discarded_lead > 0 else "at the wrong times"
        out.append(
            f"edit list trims {facts.discarded} packet(s) that decord counts as frames (its frames would come {late})"
        )
    if facts.rotation:
        out.append(f"display rotation {facts.rotation} deg (decord returns the stored, unrotated frames)")
    if facts.missing_pts:
        out.append(f"{facts.missing_pts} packet(s) without timestamps")
    return out


def decord_disagreement(frame_times: np.ndarray, facts: ContainerFacts) -> str | None:
    """None when decord's frame times (s) equal the container's; else what differs."""
    n, m = len(frame_times), facts.n_frames
    if n != m:
        return f"decord counts {n} frames where the container presents {m}"
    bad = np.flatnonzero(~(np.abs(frame_times - facts.frame_times) <= TIMES_AGREE_S))
    if bad.size:
        i = int(bad[0])
        return (
            f"decord's frame times differ from the container's at {bad.size} frame(s), e.g. frame {i}: "
            f"{frame_times[i]:.4g} s vs {facts.frame_times[i]:.4f} s"
        )
    return None


def choose_backend(facts: ContainerFacts, mode: str = "auto", *, verify: bool = False) -> BackendChoice:
    """The decoder for this file under ``mode`` (auto | pyav | decord), with the reason.

    ``verify=True`` also opens the file with decord and compares its frame times with the
    container's (a manifest does this once per file; a decode does it on every call anyway).
    Forcing decord on a file where it would return wrong frames raises VideoDecodeError.
    """
    check_mode(mode)
    if mode == "pyav":
        return BackendChoice("pyav", "decode.backend is pyav")
    hazards = decord_hazards(facts)
    if mode == "decord" and not decord_available():
        raise ValueError("decode.backend is decord but decord is not importable here (x86-64 Linux wheels only)")
    if not hazards and verify and decord_available():
        problem = decord_verification(facts)
        hazards = [problem] if problem else []
    if mode == "decord":
        if hazards:
            raise VideoDecodeError(
                f"{facts.path}: decode.backend is decord but decord would return wrong frames "
                f"for this file: {'; '.join(hazards)}; use auto or pyav"
            )
        return BackendChoice("decord", "decode.backend is decord")
    if hazards:
        return BackendChoice("pyav", "; ".join(hazards))
    if not decord_available():
        return BackendChoice("pyav", "decord is not installed")
    checked = "decord's frame times equal the container's" if verify else "container frame times need no correction"
    return BackendChoice("decord", f"no trimmed packets, no rotation; {checked}")


def decord_verification(facts: ContainerFacts) -> str | None:
    """Open the file with decord and compare its frame times with the container's (None: equal)."""
    try:
        return decord_disagreement(reader_times(open_reader(facts.path, None, 0)), facts)
    except Exception as e:  # noqa: BLE001 - a file decord cannot open is one it must not decode
        return f"decord cannot open it ({short_error(e)})"
