"""Fault: a feature-store writer killed with SIGKILL mid-write, or a packer killed mid-pack.

Each case kills a real process on a real store and asserts recovery: every visible video is complete
and exactly what was intended, the pack in use is never a half-written one, the next open sweeps the
dead staging, and a rerun ends bit-identical to an uninterrupted run with the integrity check green.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from archsearch.common import REPO_ROOT
from archsearch.features import FeatureStore, feature_key

REPO = REPO_ROOT
SAMPLING = {"fps": 5.0}


def make_group(root: Path, dim: int):
    store = FeatureStore(root)
    attrs = dict(backbone="killtest", weights_digest="ab" * 8, sampling=SAMPLING, feature_rate=5.0, dim=dim)
    return store, store.group("syn", feature_key("killtest", attrs["weights_digest"], SAMPLING), attrs=attrs)


def bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint16) if a.dtype == np.float16 else a.view(np.uint64)


INTENDED_SRC = textwrap.dedent(
    """
    def intended(vid):
        rng = np.random.default_rng(int(vid[1:]))
        T = 40 + int(vid[1:]) % 17
        return rng.standard_normal((T, {dim})).astype(np.float16), np.arange(T) / 5.0
    """
)
WRITER = (
    textwrap.dedent(
        """
    import os, signal, sys, numpy as np
    sys.path.insert(0, {repo!r})
    import archsearch.features.videos as V
    from archsearch.features import FeatureStore
    """
    )
    + INTENDED_SRC
    + textwrap.dedent(
        """
    root, dataset, key, ids, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(","), sys.argv[5]
    if kill_at != "-":
        # Die the hard way after the video is fully staged, just before it is published.
        V.before_publish_hook = lambda vid: os.kill(os.getpid(), signal.SIGKILL) if vid == kill_at else None
    g = FeatureStore(root).group(dataset, key)
    for vid in ids:
        g.write(vid, "d" + vid, *intended(vid))
    """
    )
)
KILL_DIM = 256
_ns: dict = {"np": np}
exec(INTENDED_SRC.format(dim=KILL_DIM), _ns)
intended = _ns["intended"]  # the very function the writer subprocesses use


def spawn(tmp_path, g, ids, kill_at="-"):
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(repo=str(REPO), dim=KILL_DIM))
    return subprocess.Popen([sys.executable, str(script), str(g.store.root), g.dataset, g.key, ",".join(ids), kill_at])


def test_concurrent_writers_survive_sigkill(tmp_path):
    store, g = make_group(tmp_path / "store", dim=KILL_DIM)
    ids = [f"v{i:03d}" for i in range(64)]
    a_ids, b_ids, c_ids = ids[:12], ids[12:24], ids[24:]
    a = spawn(tmp_path, g, a_ids)  # writes all its videos
    b = spawn(tmp_path, g, b_ids, kill_at=b_ids[7])  # SIGKILLs itself with v019 staged
    c = spawn(tmp_path, g, c_ids)  # SIGKILLed by us at an arbitrary point
    deadline = time.time() + 60
    while len(set(g.ids()) & set(c_ids)) < 5 and c.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    c.send_signal(signal.SIGKILL)
    assert a.wait(60) == 0
    assert b.wait(60) == -signal.SIGKILL and c.wait(60) == -signal.SIGKILL

    # Invariant: every visible video is complete and exactly what was intended.
    visible = g.ids()
    assert set(a_ids) <= set(visible) and set(b_ids[:7]) <= set(visible)
    assert not set(b_ids[7:]) & set(visible) and len(set(c_ids) & set(visible)) < len(c_ids)
    for vid in visible:
        f, t = g.read(vid)
        ef, et = intended(vid)
        assert np.array_equal(bits(f), bits(ef)) and np.array_equal(t, et), vid
    staged = [p.name for p in store.tmp_root.iterdir()]
    assert any(f"-{b.pid}-" in n for n in staged)  # b died holding a complete, unpublished video

    # A rerun sweeps the dead staging, reports the rest missing, and finishes the job.
    store2 = FeatureStore(store.root)
    assert any(f"-{b.pid}-" in n for n in store2.swept)
    assert not [p for p in store2.tmp_root.iterdir() if f"-{b.pid}-" in p.name or f"-{c.pid}-" in p.name]
    g2 = store2.group(g.dataset, g.key)
    expected = {v: "d" + v for v in ids}
    done, missing = g2.status(expected)
    assert done == set(visible) and missing == [v for v in ids if v not in done]
    for vid in missing:
        g2.write(vid, "d" + vid, *intended(vid))
    g2.pack(ids)

    # Same arrays as an uninterrupted run.
    _, ref = make_group(tmp_path / "ref", dim=KILL_DIM)
    for vid in ids:
        ref.write(vid, "d" + vid, *intended(vid))
    ref.pack(ids)
    got, ref_out = g2.read_split(ids), ref.read_split(ids)
    assert np.array_equal(bits(got[0]), bits(ref_out[0]))
    assert np.array_equal(got[1], ref_out[1]) and np.array_equal(got[2], ref_out[2])
    assert g2.verify(expected).ok


PACKER = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {repo!r})
    import archsearch.features.packs as P
    from archsearch.features import FeatureStore
    root, dataset, key, mode = sys.argv[1:5]
    if mode == "after-stream":
        # Die the hard way with every row written to staging, before chunk checksums and the rename.
        stream = P.Packs.stream_into
        def dying(self, *a):
            stream(self, *a)
            os.kill(os.getpid(), signal.SIGKILL)
        P.Packs.stream_into = dying
    g = FeatureStore(root).group(dataset, key)
    g.pack(sorted(g.ids(), reverse=True))
    """
)


def spawn_packer(tmp_path, g, mode: str) -> subprocess.Popen:
    script = tmp_path / "packer.py"
    script.write_text(PACKER.format(repo=str(REPO)))
    return subprocess.Popen([sys.executable, str(script), str(g.store.root), g.dataset, g.key, mode])


def assert_intact(g, ids):
    """Every id reads back (pack and own arrays) exactly as intended, and the full check is green."""
    data, offsets, times = g.read_split(ids)
    for i, vid in enumerate(ids):
        ef, et = intended(vid)
        assert np.array_equal(bits(data[offsets[i] : offsets[i + 1]]), bits(ef)), vid
        assert np.array_equal(times[offsets[i] : offsets[i + 1]], et), vid
    assert g.verify({v: "d" + v for v in ids}).ok


def test_packer_killed_mid_pack_leaves_the_previous_pack_in_use(tmp_path):
    store, g = make_group(tmp_path / "store", dim=KILL_DIM)
    ids = [f"v{i:03d}" for i in range(24)]
    for vid in ids:
        g.write(vid, "d" + vid, *intended(vid))
    before = g.pack(ids)
    proc = spawn_packer(tmp_path, g, "after-stream")
    assert proc.wait(60) == -signal.SIGKILL
    assert any(f"-{proc.pid}-" in p.name for p in store.tmp_root.iterdir())  # the half-built pack, in staging
    reopened = FeatureStore(store.root)
    assert any(f"-{proc.pid}-" in name for name in reopened.swept)
    g2 = reopened.group(g.dataset, g.key)
    assert g2.pack_info().pack_id == before.pack_id  # readers never saw the half-built one
    assert_intact(g2, ids)
    assert g2.status({v: "d" + v for v in ids}) == (set(ids), []) and reopened.repairs == []
    g2.pack(ids)
    assert_intact(g2, ids)


@pytest.mark.slow
def test_packer_killed_at_random_moments_never_breaks_the_group(tmp_path):
    """SIGKILL lands wherever it lands (streaming, checksums, rename, pointer swap, cleanup), ten times."""
    store, g = make_group(tmp_path / "store", dim=KILL_DIM)
    ids = [f"v{i:03d}" for i in range(160)]
    for vid in ids:
        g.write(vid, "d" + vid, *intended(vid))
    g.pack(ids)
    t0 = time.perf_counter()
    assert spawn_packer(tmp_path, g, "whole").wait(120) == 0
    full_s = time.perf_counter() - t0  # interpreter start plus one whole pack
    rng = random.Random(0)
    for _ in range(10):
        proc = spawn_packer(tmp_path, g, "whole")
        time.sleep(rng.uniform(0.3, 1.1) * full_s)
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
        reopened = FeatureStore(store.root)
        g2 = reopened.group(g.dataset, g.key)
        assert g2.pack_info() is not None
        assert_intact(g2, ids)
        assert reopened.repairs == []
    assert list(store.tmp_root.iterdir()) == []  # every killed packer's staging was swept
