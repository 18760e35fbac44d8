"""Tests for archsearch.data.decode against synthetic clips whose pixels encode the frame index."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from archsearch.data.decode import (
    DecodedClip,
    VideoDecodeError,
    decode_video,
    decord_available,
    probe_video,
    resize_frames,
    sample_times,
)

SRC_FPS, N_FRAMES, W, H = 20, 60, 64, 48  # 3.0 s clip
BACKENDS = [
    pytest.param("decord", marks=pytest.mark.skipif(not decord_available(), reason="decord not installed")),
    "pyav",
]


# ----------------------------------------------------------------------------- fixtures


def _levels(i: int) -> tuple[int, int]:
    """Frame index -> (top, bottom) gray levels, 28 apart: survives YUV rounding and resizing."""
    return 16 + 28 * (i // 8), 16 + 28 * (i % 8)


def _frame(i: int, h: int = H, w: int = W) -> np.ndarray:
    top, bottom = _levels(i)
    img = np.empty((h, w, 3), np.uint8)  # (H, W, 3)
    img[: h // 2] = top
    img[h // 2 :] = bottom
    return img


def frame_codes(frames: np.ndarray) -> np.ndarray:
    """Read back the frame index of each (T, H, W, 3) frame from the centres of its halves."""
    h, w = frames.shape[1:3]
    top = frames[:, h // 4, w // 2].mean(axis=-1)  # (T,)
    bottom = frames[:, (3 * h) // 4, w // 2].mean(axis=-1)
    return (np.round((top - 16) / 28) * 8 + np.round((bottom - 16) / 28)).astype(int)


def write_clip(
    path: Path,
    n: int = N_FRAMES,
    *,
    fps: int = SRC_FPS,
    gop: int | None = None,
    bframes: int = 0,
    faststart: bool = False,
    pts_offset: int = 0,
) -> Path:
    import av

    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.codec_context.time_base = Fraction(1, fps)
        opts = {"crf": "12", "preset": "medium", "bf": str(bframes)}
        if gop:
            opts["g"] = str(gop)
        s.options = opts
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(_frame(i), format="rgb24")
            frame.pts = i + pts_offset
            for pkt in s.encode(frame):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def write_audio_only(path: Path) -> Path:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=16000)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            for pkt in s.encode(frame):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    out = {
        "plain": write_clip(d / "plain.mp4"),
        # B-frames + short GOPs: decode order != presentation order, seeks land on keyframes
        "bframes": write_clip(d / "bframes.mp4", gop=12, bframes=3),
        "offset": write_clip(d / "offset.mp4", pts_offset=20),  # stream starts at 1.0 s
        "faststart": write_clip(d / "faststart.mp4", faststart=True),
        "audio_only": write_audio_only(d / "audio_only.mp4"),
    }
    for name in ("plain", "faststart"):  # cut at 60 %
        data = out[name].read_bytes()
        out[f"{name}_trunc"] = d / f"{name}_trunc.mp4"
        out[f"{name}_trunc"].write_bytes(data[: int(len(data) * 0.6)])
    data = out["faststart"].read_bytes()  # cut inside the last frame only
    out["tail_trunc"] = d / "tail_trunc.mp4"
    out["tail_trunc"].write_bytes(data[:-20])
    out["random"] = d / "random.mp4"
    out["random"].write_bytes(np.random.default_rng(0).bytes(4096))
    out["empty"] = d / "empty.mp4"
    out["empty"].write_bytes(b"")
    out["text"] = d / "notes.txt"
    out["text"].write_text("not a video\n" * 20)
    out["missing"] = d / "missing.mp4"
    return out


# ----------------------------------------------------------------------------- sampling grid


def test_sample_times_grid() -> None:
    np.testing.assert_array_equal(sample_times(3.0, 5.0), np.arange(16) / 5.0)
    np.testing.assert_allclose(sample_times(3.0, 5.0, 0.3, 1.0), [0.4, 0.6, 0.8, 1.0])
    # 0.6 * 5 == 3.0000000000000004 in floats: the grid point 0.6 must still be included
    assert sample_times(3.0, 5.0, 0.6, 0.6).tolist() == [0.6]
    np.testing.assert_allclose(sample_times(1.0, 30.0, 0.1, 0.2), np.arange(3, 7) / 30.0)
    assert sample_times(3.0, 5.0, 0.1, 0.15).shape == (0,)
    ts = sample_times(10.0, 5.0)
    assert ts.dtype == np.float64 and len(ts) == 51


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(duration=3.0, fps=0.0),
        dict(duration=3.0, fps=5.0, start=-0.1),
        dict(duration=3.0, fps=5.0, start=2.0, end=1.0),
        dict(duration=3.0, fps=5.0, end=3.5),
        dict(duration=-1.0, fps=5.0),
    ],
)
def test_sample_times_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        sample_times(**kwargs)


# ----------------------------------------------------------------------------- probing


def test_probe_reads_container_facts(clips: dict[str, Path]) -> None:
    for full in (False, True):
        info = probe_video(clips["bframes"], full=full)
        assert (info.n_frames, info.fps, info.width, info.height) == (N_FRAMES, 20.0, W, H)
        assert info.duration == pytest.approx(3.0)
        assert info.path == clips["bframes"]


# ----------------------------------------------------------------------------- frame mapping


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("clip", ["plain", "bframes", "offset"])
@pytest.mark.parametrize("fps", [5.0, 7.0, 30.0])
def test_causal_frame_mapping(clips: dict[str, Path], backend: str, clip: str, fps: float) -> None:
    out = decode_video(clips[clip], fps, backend=backend)
    assert isinstance(out, DecodedClip)
    # the offset clip's stream starts at 1.0 s: times are relative to the stream start
    np.testing.assert_array_equal(out.timestamps, sample_times(N_FRAMES / SRC_FPS, fps))
    assert out.frames.dtype == np.uint8 and out.frames.shape == (len(out.timestamps), H, W, 3)
    got = frame_codes(out.frames)
    # latest source frame presented at or before t (frame j is presented at j / 20 s)
    expected = np.minimum(np.floor(out.timestamps * SRC_FPS + 1e-6), N_FRAMES - 1).astype(int)
    np.testing.assert_array_equal(got, expected)
    assert np.all(got / SRC_FPS <= out.timestamps + 1e-9), "a sample used a frame from the future"
    assert out.source_fps == 20.0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("window", [(1.1, 2.3), (0.0, 0.4), (2.5, None), (0.75, 0.8)])
def test_window_is_slice_of_whole_clip(
    clips: dict[str, Path], backend: str, window: tuple[float, float | None]
) -> None:
    start, end = window
    whole = decode_video(clips["bframes"], 5.0, backend=backend)
    part = decode_video(clips["bframes"], 5.0, start=start, end=end, backend=backend)
    hi = 3.0 if end is None else end
    keep = (whole.timestamps >= start - 1e-9) & (whole.timestamps <= hi + 1e-9)
    np.testing.assert_array_equal(part.timestamps, whole.timestamps[keep])
    np.testing.assert_array_equal(part.frames, whole.frames[keep])


def test_empty_window_and_out_of_range(clips: dict[str, Path]) -> None:
    out = decode_video(clips["plain"], 5.0, start=0.75, end=0.79, size=(24, 32))
    assert out.frames.shape == (0, 24, 32, 3) and out.timestamps.shape == (0,)
    with pytest.raises(ValueError, match="beyond the clip end"):
        decode_video(clips["plain"], 5.0, start=0.0, end=4.0)
    with pytest.raises(ValueError, match="after the clip end"):
        decode_video(clips["plain"], 5.0, start=3.5)
    # within half a source frame of the end: clamped to the clip's duration
    assert decode_video(clips["plain"], 5.0, start=2.9, end=3.01).timestamps.tolist() == [3.0]
    with pytest.raises(ValueError, match="backend"):
        decode_video(clips["plain"], backend="opencv")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- resize, backends


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("size", [(30, 40), (224, 224), (24, 48)])  # width 48 trips decord's scaler
def test_resize_shape_and_content(clips: dict[str, Path], backend: str, size: tuple[int, int]) -> None:
    out = decode_video(clips["plain"], 5.0, size=size, backend=backend)
    assert out.frames.shape == (16, *size, 3) and out.frames.dtype == np.uint8
    np.testing.assert_array_equal(frame_codes(out.frames), np.minimum(np.arange(16) * 4, 59))


def test_resize_frames_torch() -> None:
    frames = np.stack([_frame(i) for i in (0, 9, 59)])  # (3, 48, 64, 3)
    small = resize_frames(frames, (12, 20))
    assert small.shape == (3, 12, 20, 3) and small.dtype == np.uint8
    np.testing.assert_array_equal(frame_codes(small), [0, 9, 59])
    flat = np.full((2, 48, 64, 3), 77, np.uint8)
    np.testing.assert_array_equal(resize_frames(flat, (7, 9)), 77)  # squash, no border/padding
    with pytest.raises(ValueError, match="size"):
        decode_video(Path(__file__), size=(0, 10))


@pytest.mark.skipif(not decord_available(), reason="decord not installed")
@pytest.mark.parametrize("clip", ["plain", "bframes"])
def test_backends_agree(clips: dict[str, Path], clip: str) -> None:
    for kwargs in (dict(), dict(size=(30, 40), start=0.5, end=2.2), dict(fps=12.0, start=1.0)):
        a = decode_video(clips[clip], backend="decord", **kwargs)
        b = decode_video(clips[clip], backend="pyav", **kwargs)
        np.testing.assert_array_equal(a.timestamps, b.timestamps)
        np.testing.assert_array_equal(frame_codes(a.frames), frame_codes(b.frames))
        diff = np.abs(a.frames.astype(int) - b.frames.astype(int))
        assert diff.max() <= 6, f"{kwargs}: backends differ by {diff.max()} levels"


@pytest.mark.skipif(not decord_available(), reason="decord not installed")
def test_concurrent_decoding_in_threads(clips: dict[str, Path]) -> None:
    """One VideoReader per call: threads sharing the module never share decoder state."""
    ref = decode_video(clips["bframes"], 5.0, size=(30, 40))
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(decode_video(clips["bframes"], 5.0, size=(30, 40)).frames)
        except BaseException as e:  # noqa: BLE001 - surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4
    for r in results:
        np.testing.assert_array_equal(r, ref.frames)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "name, reason",
    [
        ("missing", "file not found"),
        ("empty", "empty file"),
        ("text", "cannot open as a video"),
        ("random", "cannot open as a video"),
        ("plain_trunc", "cannot open as a video"),  # moov atom at the end: cut away
        ("audio_only", "no video stream"),
    ],
)
@pytest.mark.parametrize("call", ["probe", "probe_full", "decord", "pyav"])
def test_bad_files_raise_named_errors(clips: dict[str, Path], name: str, reason: str, call: str) -> None:
    if call == "decord" and not decord_available():
        pytest.skip("decord not installed")
    path = clips[name]
    with pytest.raises(VideoDecodeError, match=reason) as exc:
        if call.startswith("probe"):
            probe_video(path, full=call == "probe_full")
        else:
            decode_video(path, backend=call)
    assert str(path) in str(exc.value)
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize("name", ["faststart_trunc", "tail_trunc"])
def test_truncation_is_caught(clips: dict[str, Path], name: str) -> None:
    """Header intact, data cut: the quick probe passes, the full probe and decoding fail."""
    path = clips[name]
    assert probe_video(path).n_frames == N_FRAMES  # the header still claims every frame
    with pytest.raises(VideoDecodeError, match="truncated") as exc:
        probe_video(path, full=True)
    assert str(path) in str(exc.value)
    for backend in ["pyav"] + (["decord"] if decord_available() else []):
        with pytest.raises(VideoDecodeError) as exc:
            decode_video(path, backend=backend)
        assert str(path) in str(exc.value)
