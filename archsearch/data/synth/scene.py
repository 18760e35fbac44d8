"""What one clip contains, as plain data: road layout, vehicles, props, look, and the Scene.

The simulation (``clip.build_clip``) fills these in and the renderer only reads them, so the
two sides meet at this module and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from archsearch.data.synth.camera import Camera

# Vehicle body styles: (length, width, height) in metres and the height where the cabin starts.
VEHICLE_SIZES: dict[str, tuple[float, float, float, float]] = {
    "car": (4.5, 1.8, 1.45, 0.8),
    "suv": (4.8, 1.95, 1.75, 1.0),
    "van": (5.2, 2.0, 2.2, 2.2),  # no separate cabin: body goes to the roof
    "truck": (8.0, 2.5, 3.3, 3.3),
}


@dataclass
class Vehicle:
    """One vehicle's track in the road frame, sampled at the video's frame times."""

    kind: str
    color: tuple[float, float, float]
    x: np.ndarray  # (T,) lateral position of the footprint centre (m)
    p: np.ndarray  # (T,) distance of the centre ahead of the camera along the road (m)
    heading: np.ndarray  # (T,) rad vs the road: 0 same way as ego, pi oncoming, +pi/2 moving right
    brake: np.ndarray  # (T,) bool, brake lights on

    @property
    def size(self) -> tuple[float, float, float]:
        L, W, H, _ = VEHICLE_SIZES[self.kind]
        return L, W, H


@dataclass(frozen=True)
class RoadLayout:
    """Lanes are 3.5 m wide; the ego lane is index 0, same-direction lanes -n_left..n_right."""

    setting: str  # highway | urban | rural
    n_left: int
    n_right: int
    n_oncoming: int
    curvature: float  # 1/m
    shoulder: float = 0.5  # paved strip right of the last lane (parking lane in town)
    lane_w: float = 3.5

    @property
    def x_divider(self) -> float:
        return -self.lane_w * (self.n_left + 0.5)

    @property
    def x_left(self) -> float:
        return self.x_divider - self.lane_w * self.n_oncoming

    @property
    def x_right(self) -> float:
        return self.lane_w * (self.n_right + 0.5)


@dataclass(frozen=True)
class Look:
    """Colours and light levels of one clip (lighting + setting + per-clip variation)."""

    lighting: str  # day | dusk | night
    sky_top: tuple[float, float, float]
    sky_horizon: tuple[float, float, float]
    skyline: tuple[float, float, float]
    asphalt: tuple[float, float, float]
    offroad: tuple[float, float, float]
    ambient: float  # multiplies everything not self-lit
    fog_m: float  # distance at which the scene fades to the horizon colour
    headlight: float  # strength of the ego's beam on the road (night/dusk)
    lamp_pool: float  # strength of street-lamp pools on the road
    glow: float  # size/strength of light glows (0 in daylight)


@dataclass
class Prop:
    """A static roadside object at world position ``zw`` along the road (m)."""

    kind: str  # pole | tree | building
    x: float  # lateral, road frame (m)
    zw: float
    size: tuple[float, float]  # (width or length along the road, height)
    color: tuple[float, float, float]


@dataclass
class Scene:
    """Everything the renderer needs for one clip; built by ``clip.build_clip``."""

    camera: Camera
    road: RoadLayout
    look: Look
    n_frames: int
    odometer: np.ndarray  # (T,) ego distance travelled (m)
    ego_x: np.ndarray  # (T,) ego lateral position, road frame (m)
    yaw_px: np.ndarray  # (T,) image shift from ego heading and shake (px)
    pitch_deg: np.ndarray  # (T,) pitch offset from shake, braking dive and the contact jolt
    blur: np.ndarray  # (T,) weight of the previous frame (motion-blur-ish smear)
    gain: np.ndarray  # (T,) exposure
    vehicles: list[Vehicle]
    props: list[Prop]
    intersections: list[float]  # world positions of cross-street centres (m)
    skyline_px: np.ndarray  # (W + 2 * margin,) silhouette height above the horizon (px)
    noise_sigma: float
    render_seed: int
    smudges: list[tuple[float, float, float, float]] = field(default_factory=list)  # (u, v, r, a)
    pillar: float = 0.0  # width fraction of a dark A-pillar on the left edge (0 = none)
    rain: float = 0.0  # rain intensity in [0, 1]: streaks over the image, new ones every frame (0 = dry)
