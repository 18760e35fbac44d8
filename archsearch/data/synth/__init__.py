"""The embedded synthetic dashcam dataset, in the Nexar collision-prediction format.

The demo must run with no downloads, yet the architecture search only means something if the
task is not trivially separable. So every clip comes from one generative process per traffic
situation (a lead vehicle braking, a cut-in, crossing traffic at an intersection, an oncoming
car drifting, a merge), simulated in the road frame; whether it ends in contact, a near miss or
a comfortable pass is *decided by the simulation* and clips are drawn by rejection until the
wanted outcome appears. Collisions, near misses and many normal clips therefore share their
early history: all of them loom, brake and swerve; the jolt comes only at contact, after every
anticipation window.

Generation, in the order a clip is made:
  ``spec``        what to generate (SyntheticSpec, VideoPlan), class draw, per-video seeds
  ``variants``    per-variant tables: camera rig, situation mix, speeds, lighting, paint
  ``situations``  kinematics helpers and one builder per traffic situation (road frame)
  ``simulate``    separation, road layouts, outcome classification, rejection sampling
  ``dressing``    look, roadside props, skyline, background traffic (label-neutral)
  ``clip``        resampling at frame times, alert time, camera motion -> Clip(plan, scene)
  ``writer``      encoding, worker processes (``worker``), resumability, train.csv, synthetic.json

Rendering, which only reads a ``scene.Scene``:
  ``camera``      pinhole intrinsics and point projection
  ``scene``       plain data: RoadLayout, Vehicle, Prop, Look, Scene
  ``projector``   per-frame road-to-pixel transform, near-plane clipping
  ``raster``      anti-aliased polygons, rectangles, ellipses, glows on a float canvas
  ``ground``      sky, skyline, road surface and markings, building facades (painter mixin)
  ``objects``     vehicles with cabins and lights, poles, trees, lamps (painter mixin)
  ``render``      Renderer (the frame loop), I420 conversion, render_frames

The geometry is separate from the scenario logic so it can be tested on its own: a vehicle's
projected size must grow like 1/distance, or "looming" would be an artefact of the drawing code.
"""

from archsearch.data.synth.camera import Camera, camera_coords, project_points
from archsearch.data.synth.clip import (
    BUMP_MAX_DEG,
    JOLT_MIN_DEG,
    Clip,
    build_clip,
    camera_motion,
    plan_dataset,
    render_video,
)
from archsearch.data.synth.kinematics import DT
from archsearch.data.synth.projector import NEAR_Z
from archsearch.data.synth.render import Renderer, float_rgb_to_yuv420p, render_frames
from archsearch.data.synth.scene import VEHICLE_SIZES, Look, Prop, RoadLayout, Scene, Vehicle
from archsearch.data.synth.simulate import NEAR_MISS_M, SAFE_M, separation
from archsearch.data.synth.spec import (
    DEFAULT_SPECS,
    SCENARIOS,
    VARIANTS,
    SyntheticSpec,
    SyntheticSpecError,
    VideoPlan,
    assign_scenarios,
    scenario_counts,
)
from archsearch.data.synth.writer import FORMAT, generate_dataset, video_is_complete, write_video

__all__ = [
    "BUMP_MAX_DEG",
    "DEFAULT_SPECS",
    "DT",
    "FORMAT",
    "JOLT_MIN_DEG",
    "NEAR_MISS_M",
    "NEAR_Z",
    "SAFE_M",
    "SCENARIOS",
    "VARIANTS",
    "VEHICLE_SIZES",
    "Camera",
    "Clip",
    "Look",
    "Prop",
    "Renderer",
    "RoadLayout",
    "Scene",
    "SyntheticSpec",
    "SyntheticSpecError",
    "Vehicle",
    "VideoPlan",
    "assign_scenarios",
    "build_clip",
    "camera_coords",
    "camera_motion",
    "float_rgb_to_yuv420p",
    "generate_dataset",
    "plan_dataset",
    "project_points",
    "render_frames",
    "render_video",
    "scenario_counts",
    "separation",
    "video_is_complete",
    "write_video",
]
