"""The synthetic dashcam generator, one responsibility per module.

Import the public names from ``archsearch.data.synthetic`` (generation and dataset writing)
or ``archsearch.data.synthetic_scene`` (rendering); this package holds the parts.

Generation, in the order a clip is made:
  ``spec``        what to generate (SyntheticSpec, VideoPlan), class draw, per-video seeds
  ``variants``    per-variant tables: camera rig, situation mix, speeds, lighting, paint
  ``situations``  kinematics helpers and one builder per traffic situation (road frame)
  ``simulate``    separation, road layouts, outcome classification, rejection sampling
  ``dressing``    look, roadside props, skyline, background traffic (label-neutral)
  ``clip``        resampling at frame times, alert time, camera motion -> Clip(plan, scene)

Rendering, which only reads a ``scene.Scene``:
  ``camera``      pinhole projection, near-plane clipping, per-frame road-to-camera pose
  ``scene``       plain data: RoadLayout, Vehicle, Prop, Look, Scene
  ``raster``      anti-aliased polygons, rectangles, ellipses, glows on a float canvas
  ``ground``      sky, skyline, road surface and markings, building facades (mixin)
  ``objects``     vehicles with cabins and lights, poles, trees, lamps (mixin)
  ``render``      Renderer (the frame loop), I420 conversion, render_frames

Nothing here imports ``archsearch.data.synthetic`` or ``synthetic_scene``, so the two public
modules can re-export from it without import cycles.
"""
