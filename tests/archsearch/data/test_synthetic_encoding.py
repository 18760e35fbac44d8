"""The H.264 writer's bytes depend only on the frames and the spec, never on what the process did before.

x264's lookahead reads memory it never wrote at some frame widths; an encoder setting that lets such bytes
reach the stream makes a regenerated dataset differ from the first one depending on the heap's history
(seen in CI: a dataset rendered in-process after other tests differed from one rendered by fresh workers).
Here the heap is filled with garbage between encodes, which makes that dependence show up within a few tries.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib

import numpy as np
import pytest

from archsearch.data.synth.clip import build_clip
from archsearch.data.synth.render import render_frames
from archsearch.data.synth.spec import SyntheticSpec
from archsearch.data.synth.writer import encode_clip, x264_params

_LIBC_NAME = ctypes.util.find_library("c")
pytestmark = pytest.mark.skipif(_LIBC_NAME is None, reason="needs the C library to fill the heap with garbage")


def dirty_heap(seed: int) -> None:
    """malloc blocks of many sizes, fill them with a byte pattern, free them: later mallocs reuse that memory."""
    libc = ctypes.CDLL(_LIBC_NAME)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    rng = np.random.default_rng(seed)
    blocks = []
    for n in rng.integers(16, 200_000, 300):
        p = libc.malloc(int(n))
        ctypes.memset(p, int(rng.integers(1, 256)), int(n))
        blocks.append(p)
    for p in blocks:
        libc.free(p)


@pytest.mark.parametrize("width", [96, 160])  # widths (not multiples of 128 px) where x264 read garbage
def test_the_encoded_bytes_do_not_depend_on_the_heap(tmp_path, width):
    spec = SyntheticSpec(name="enc", n_videos=4, duration_s=3.0, fps=20.0, width=width, height=48)
    for index in range(4):
        frames = list(render_frames(build_clip(spec, index).scene, "yuv420p"))
        digests = set()
        for trial in range(8):
            dirty_heap(trial)
            encode_clip(iter(frames), tmp_path / "clip.mp4", spec)
            digests.add(hashlib.md5((tmp_path / "clip.mp4").read_bytes()).hexdigest())
        assert len(digests) == 1, f"video {index} at {width}x48: {len(digests)} different encodings of the same frames"


def test_the_macroblock_tree_is_used_only_where_it_is_deterministic():
    """Widths that are multiples of 128 px (the embedded datasets' 256) keep x264's macroblock-tree rate control,
    so their videos are unchanged; at other widths it is off."""
    for width, mbtree in [(256, True), (128, True), (384, True), (64, False), (96, False), (320, False)]:
        params = dict(kv.split("=") for kv in x264_params(SyntheticSpec(name="p", width=width)).split(":"))
        assert params.get("mbtree") == (None if mbtree else "0"), width
