"""What to generate: the validated SyntheticSpec, the per-video plan, and the class draw.

Kept apart from the simulation so that loaders (``archsearch.data.datasets``) and the dataset
writer can read and validate a spec without pulling in the kinematics or the renderer. Also
home of the per-video random streams: ``SeedSequence(spec.seed, spawn_key=(index, stream))``
makes video k independent of every other video, so workers can render in any order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

import numpy as np

VARIANTS = ("front", "side")
SCENARIOS = ("collision", "near_miss", "normal")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class SyntheticSpecError(ValueError):
    """A SyntheticSpec field is out of range; the message names the field."""


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate. Defaults give the Nexar-like 10 s, 20 fps front-camera set."""

    name: str
    variant: str = "front"
    n_videos: int = 240
    duration_s: float = 10.0
    fps: float = 20.0
    width: int = 256
    height: int = 144
    positive_fraction: float = 0.5
    near_miss_fraction: float = 0.5
    difficulty: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        def bad(name: str, expected: str) -> SyntheticSpecError:
            return SyntheticSpecError(f"SyntheticSpec field {name!r}: expected {expected}, got {getattr(self, name)!r}")

        def number(name: str, lo: float, hi: float, expected: str) -> None:
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, (int, float)) or not (lo <= val <= hi):
                raise bad(name, expected)
            object.__setattr__(self, name, float(val))

        def integer(name: str, lo: int, hi: int, expected: str) -> None:
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or not (lo <= val <= hi):
                raise bad(name, expected)

        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise bad("name", "a non-empty name of letters, digits, '_', '-' or '.' (it names a folder)")
        if self.variant not in VARIANTS:
            raise bad("variant", f"one of {VARIANTS}")
        integer("n_videos", 1, 100_000, "an integer in [1, 100000]")
        number("duration_s", 2.0, 120.0, "a clip length in seconds within [2, 120]")
        number("fps", 1.0, 60.0, "a whole number of frames per second in [1, 60]")
        if not float(self.fps).is_integer():
            raise bad("fps", "a whole number of frames per second in [1, 60]")
        if abs(self.duration_s * self.fps - round(self.duration_s * self.fps)) > 1e-6:
            raise bad("duration_s", f"a whole number of frames at {self.fps:g} fps (duration_s * fps integral)")
        integer("width", 32, 1920, "an even integer in [32, 1920] (H.264 yuv420p needs even sizes)")
        integer("height", 24, 1080, "an even integer in [24, 1080] (H.264 yuv420p needs even sizes)")
        if self.width % 2:
            raise bad("width", "an even integer in [32, 1920] (H.264 yuv420p needs even sizes)")
        if self.height % 2:
            raise bad("height", "an even integer in [24, 1080] (H.264 yuv420p needs even sizes)")
        number("positive_fraction", 0.0, 1.0, "a fraction in [0, 1]")
        number("near_miss_fraction", 0.0, 1.0, "a fraction of the negatives in [0, 1]")
        number("difficulty", 0.0, 1.0, "a level in [0, 1]")
        integer("seed", 0, 2**63 - 1, "a non-negative integer")

    @property
    def n_frames(self) -> int:
        return int(round(self.duration_s * self.fps))

    @property
    def event_window(self) -> tuple[float, float]:
        """Where events (and negatives' reference moments) fall: late enough that every anchor has the
        views' full 6.5 s of history when the clip is long enough (``archsearch.data.anchors``),
        and 0.3 s or more before the end: [6.6, 6.7] s of a 7 s clip, [6.6, 9.7] s of a 10 s one,
        [1.6, 1.7] s of a 2 s one."""
        d = self.duration_s
        return max(0.65 * d, min(6.6, d - 0.4)), d - 0.3

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


DEFAULT_SPECS: dict[str, SyntheticSpec] = {
    "synth_front": SyntheticSpec(name="synth_front", variant="front", n_videos=560, duration_s=7.0, fps=10.0, seed=0),
    "synth_side": SyntheticSpec(name="synth_side", variant="side", n_videos=520, duration_s=7.0, fps=10.0, seed=1),
}


@dataclass(frozen=True)
class VideoPlan:
    """One clip's label and timing (what train.csv and synthetic.json say about it)."""

    id: str
    index: int
    scenario: str  # collision | near_miss | normal
    family: str  # the traffic situation it was drawn from
    lighting: str
    setting: str
    weather: str  # dry | rain
    event_time: float | None  # contact (collisions only)
    alert_time: float | None  # collisions only
    closest_approach_time: float | None  # near misses (pseudo-event; not in train.csv)
    anchor_time: float  # event, closest approach, or the normal clip's salient moment
    decision_time: float  # when the other party committed to what decides the outcome (2-4 s before a
    # collision or near miss): from then on the true trajectories determine the label
    min_distance_m: float  # closest approach between the ego and the main actor (<= 0: contact)

    @property
    def target(self) -> int:
        return int(self.scenario == "collision")


def video_rng(spec: SyntheticSpec, index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(index, stream)))


def scenario_counts(spec: SyntheticSpec) -> dict[str, int]:
    n_pos = int(round(spec.positive_fraction * spec.n_videos))
    n_near = int(round(spec.near_miss_fraction * (spec.n_videos - n_pos)))
    return {"collision": n_pos, "near_miss": n_near, "normal": spec.n_videos - n_pos - n_near}


def assign_scenarios(spec: SyntheticSpec) -> list[str]:
    """Exact class counts, shuffled by the spec seed."""
    counts = scenario_counts(spec)
    labels = [s for s in SCENARIOS for _ in range(counts[s])]
    order = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(2**32 - 1,))).permutation(len(labels))
    return [labels[i] for i in order]
