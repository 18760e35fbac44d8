"""Decode dashcam clips into frames at a fixed rate, causally, on the container's clock.

Every backbone sees frames sampled the same way, so a feature at time t can be trusted to
contain nothing after t (windows end at anchor - horizon and must never see the future).

Time convention
    Frame times come from the container: presentation timestamps with edit lists applied,
    relative to the first presented frame (time 0). Sample times lie on a grid anchored at 0,
    t_k = k / fps; a [start, end] window keeps the grid points inside it, so a window decode is
    exactly a slice of the whole-clip decode. Each t maps to the frame on screen at t: the latest
    frame whose presentation time is <= t (it may repeat a frame when fps exceeds the source
    rate). A 1 us tolerance absorbs float rounding between k / fps and pts * time_base.

Geometry
    Frames are returned as a player shows them: the container's display rotation is applied.
    ``size=(H, W)`` then squashes the full frame to H x W (no crop, no letterbox): dashcam
    hazards appear at the edges of the field of view, so nothing may be cut off.

Backends
    "decord" resizes inside its ffmpeg scaler (the fast path) but counts packets, not presented
    frames, and ignores rotation; "pyav" follows the container and resizes in torch. ``auto``
    (the default) uses decord only for files where it provably returns the same frames at the
    same times (no edit-list trimming, no rotation, every timestamp present, and decord's frame
    times equal to the container's), else PyAV; each DecodedClip says which one and why.
    Resized pixels can differ by a few levels between the two because the scalers differ.

Errors
    Every file problem (missing, empty, not a video, no video stream, corrupt, truncated)
    raises VideoDecodeError naming the path. Files are opened with PyAV first: decord prints
    native log lines on bad input and misreads some non-videos, so it only sees files PyAV accepted.
"""

from archsearch.data.decode.choice import BACKEND_MODES, BackendChoice, choose_backend, decord_hazards
from archsearch.data.decode.clip import DecodedClip, decode_video
from archsearch.data.decode.container import ContainerFacts, scan_container
from archsearch.data.decode.decord_backend import decord_available
from archsearch.data.decode.errors import VideoDecodeError
from archsearch.data.decode.probe import VideoInfo, probe_video
from archsearch.data.decode.resize import resize_frames
from archsearch.data.decode.times import causal_indices, sample_times

__all__ = [
    "BACKEND_MODES",
    "BackendChoice",
    "ContainerFacts",
    "DecodedClip",
    "VideoDecodeError",
    "VideoInfo",
    "causal_indices",
    "choose_backend",
    "decode_video",
    "decord_available",
    "decord_hazards",
    "probe_video",
    "resize_frames",
    "sample_times",
    "scan_container",
]
