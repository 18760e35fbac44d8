"""Rendering of synthetic dashcam frames: a pinhole camera over a road, vehicles and lighting.

The public face of the renderer, kept so ``from archsearch.data.synthetic_scene import ...``
keeps working; the code lives in ``archsearch.data.synth``, one job per module:
``camera`` (pinhole projection, near-plane clipping, per-frame pose), ``scene`` (what a clip
contains, as plain data), ``raster`` (anti-aliased 2-D drawing), ``ground`` (sky, road,
facades), ``objects`` (vehicles, lights, props) and ``render`` (the frame loop and the I420
conversion for the encoder). The geometry is separate from the scenario logic so it can be
tested on its own: a vehicle's projected size must grow like 1/distance, or "looming" would
be an artefact of the drawing code.
"""

from __future__ import annotations

from archsearch.data.synth.camera import NEAR_Z, Camera, camera_coords, project_points
from archsearch.data.synth.render import Renderer, float_rgb_to_yuv420p, render_frames
from archsearch.data.synth.scene import VEHICLE_SIZES, Look, Prop, RoadLayout, Scene, Vehicle

__all__ = [
    "NEAR_Z", "VEHICLE_SIZES", "Camera", "Look", "Prop", "Renderer", "RoadLayout", "Scene", "Vehicle",
    "camera_coords", "float_rgb_to_yuv420p", "project_points", "render_frames",
]
