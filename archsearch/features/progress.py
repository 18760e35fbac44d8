"""Progress of a feature extraction: clips done / total, frames/s and ETA.

Shown two ways: a tqdm bar when stderr is a terminal (silent in logs and tests), and a log line
through the caller's callback at most every `every_s` seconds plus once at the end, so a Dagster
run's event log gets a readable trace without one event per clip.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

LOG_EVERY_S = 10.0


def format_eta(seconds: float) -> str:
    """`1h02m`, `3m05s`, `42s`; `?` while there is no rate yet."""
    if not math.isfinite(seconds):  # no rate yet
        return "?"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class ExtractionProgress:
    """Counts clips and frames; `line()` is the text both the bar and the log show."""

    def __init__(
        self,
        total: int,
        desc: str,
        log: Callable[[str], None] | None = None,
        *,
        bar: bool = True,
        every_s: float = LOG_EVERY_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.total, self.desc, self.log, self.every_s, self.clock = total, desc, log, every_s, clock
        self.done = self.frames = 0
        self.t0 = self.last_log = clock()
        self.bar = None
        if bar and total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="clip", leave=False, disable=None)  # None: off unless a tty

    def frames_per_s(self) -> float:
        elapsed = self.clock() - self.t0
        return self.frames / elapsed if elapsed > 0 else 0.0

    def eta_s(self) -> float:
        elapsed = self.clock() - self.t0
        if self.done == 0 or elapsed <= 0:
            return float("inf")
        return (self.total - self.done) * elapsed / self.done

    def line(self) -> str:
        return (
            f"{self.desc}: {self.done}/{self.total} clips, {self.frames_per_s():.1f} frames/s, "
            f"ETA {format_eta(self.eta_s())}"
        )

    def step(self, frames: int) -> None:
        """One clip finished (stored or failed) after decoding `frames` frames."""
        self.done += 1
        self.frames += int(frames)
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.frames_per_s():.1f} frames/s", refresh=False)
            self.bar.update(1)
        now = self.clock()
        if self.log is not None and (now - self.last_log >= self.every_s or self.done == self.total):
            self.last_log = now
            self.log(self.line())

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
