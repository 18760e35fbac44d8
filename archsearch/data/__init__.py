"""Videos in, one checked manifest out: loading, probing, anchors, splits, decoding and the synthetic set.

  ``datasets``   build_manifest (every configured source -> one manifest), read/write_manifest
  ``manifest``   the manifest schema and the Nexar / generic CSV loaders; ``rows`` validates rows,
                 ``clip_probe`` probes each file once (frames, timing, codec, digest, backend)
  ``anchors``    anchor times by matched views, so window position never tells the label
  ``splits``     per-video hashed splits, their class check and small-split warnings, the split hash
  ``check``      check-data: per clip and per dataset, what archsearch makes of the data
  ``decode``     frames on the container's clock (PyAV, or decord where provably equal)
  ``synth``      the embedded synthetic dashcam generator
  ``thumbnails`` PNG previews for the UI

Submodules are imported where used (``from archsearch.data.decode import decode_video``), so a
decode worker does not load polars or the generator.
"""
