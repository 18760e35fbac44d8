"""Frame times from the container: a corpus of awkward files, each decoded with `auto` and compared with
an independent PyAV decode (its own pts and pixels, display rotation applied by the test).

The corpus is built here with PyAV: an edit-list MP4 whose start is trimmed (packets before the
cut carry negative timestamps, so the mov muxer writes an ``elst`` with a media time), B-frames,
variable frame rate, rotation metadata, 29.97 and 23.976 fps, MPEG-4 Part 2 in MP4 and AVI, H.264 and
HEVC (B-frames) in Matroska, HEVC in MP4, 1080p.
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from archsearch.data.decode import (
    VideoDecodeError,
    choose_backend,
    decode_video,
    decord_available,
    probe_video,
    scan_container,
)

W, H = 64, 48
X264 = {"crf": "12", "preset": "medium", "bf": "0", "g": "100", "x264-params": "scenecut=0"}
H264_BF = {"crf": "12", "bf": "2"}
X265 = {"crf": "12", "x265-params": "log-level=error:bframes=3"}
MS_20FPS = [50 * i for i in range(60)]  # Matroska counts milliseconds
needs_decord = pytest.mark.skipif(not decord_available(), reason="decord not installed")


def pattern(i: int, w: int = W, h: int = H) -> np.ndarray:
    """Frame i: two grey halves that encode i (mod 64), and a bright marker in the top-left corner."""
    img = np.empty((h, w, 3), np.uint8)  # (H, W, 3)
    img[: h // 2] = 16 + 28 * ((i // 8) % 8)
    img[h // 2 :] = 16 + 28 * (i % 8)
    img[: h // 4, : w // 8] = 250
    return img


def codes(frames: np.ndarray) -> np.ndarray:
    """The frame index (mod 64) each (T, h, w, 3) upright frame encodes, read at the halves' centres."""
    h, w = frames.shape[1:3]
    top = frames[:, h // 4, w // 2].mean(axis=-1)
    bottom = frames[:, (3 * h) // 4, w // 2].mean(axis=-1)
    return (np.round((top - 16) / 28) * 8 + np.round((bottom - 16) / 28)).astype(int)


def write(
    path: Path,
    pts: list[int],
    time_base: Fraction,
    rate,
    *,
    codec: str = "libx264",
    options=None,
    rotation: int | None = None,
    size: tuple[int, int] = (W, H),
    fmt: str | None = None,
) -> Path:
    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=rate)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        s.codec_context.time_base = time_base
        s.options = dict(options or {})
        if rotation is not None:
            s.set_display_rotation(rotation)
        for i, p in enumerate(pts):
            frame = av.VideoFrame.from_ndarray(pattern(i, *size), format="rgb24")
            frame.pts = p
            for pkt in s.encode(frame):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def edit_list_media_time(path: Path) -> int | None:
    """media_time of the first edit of the video track's ``elst`` box (None: no edit list)."""
    data = path.read_bytes()

    def walk(off: int, end: int) -> int | None:
        while off + 8 <= end:
            size, kind = struct.unpack(">I4s", data[off : off + 8])
            size = size or end - off
            if kind in (b"moov", b"trak", b"edts"):
                found = walk(off + 8, off + size)
                if found is not None:
                    return found
            if kind == b"elst":
                version = data[off + 8]
                first = off + 16
                return struct.unpack(
                    ">q" if version else ">i", data[first + (8 if version else 4) : first + (16 if version else 8)]
                )[0]
            off += size
        return None

    return walk(0, len(data))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("containers")
    rng = np.random.default_rng(0)
    vfr = np.concatenate([[0], np.cumsum(rng.choice([20, 33, 50, 80], size=79))])
    return {
        # 60 frames before the cut: an editor's trim without re-encoding; 2 s hidden by the edit list
        "edit_list": write(d / "edit_list.mp4", list(range(-60, 90)), Fraction(1, 30), 30, options=X264),
        "edit_list_bframes": write(
            d / "edit_bf.mp4", list(range(-45, 90)), Fraction(1, 30), 30, options={**X264, "bf": "3"}
        ),
        "bframes": write(
            d / "bframes.mp4", list(range(60)), Fraction(1, 20), 20, options={"crf": "12", "bf": "3", "g": "12"}
        ),
        "vfr": write(d / "vfr.mp4", [int(p) for p in vfr], Fraction(1, 1000), 30, options={"crf": "12", "bf": "2"}),
        "ntsc_29.97": write(
            d / "ntsc.mp4",
            [i * 1001 for i in range(90)],
            Fraction(1, 30000),
            Fraction(30000, 1001),
            options={"crf": "12", "bf": "2"},
        ),
        "film_23.976": write(
            d / "film.mp4",
            [i * 1001 for i in range(72)],
            Fraction(1, 24000),
            Fraction(24000, 1001),
            options={"crf": "12", "bf": "2"},
        ),
        "rotated_90": write(
            d / "rotated.mp4", list(range(40)), Fraction(1, 20), 20, options={"crf": "12"}, rotation=90
        ),
        "mpeg4_part2": write(
            d / "mpeg4.mp4", list(range(60)), Fraction(1, 25), 25, codec="mpeg4", options={"qscale": "2", "bf": "2"}
        ),
        "mpeg4_avi": write(
            d / "mpeg4.avi",
            list(range(60)),
            Fraction(1, 25),
            25,
            codec="mpeg4",
            options={"qscale": "2", "bf": "2"},
            fmt="avi",
        ),
        "h264_mkv": write(d / "h264.mkv", MS_20FPS, Fraction(1, 1000), 20, options=H264_BF, fmt="matroska"),
        "hevc_mkv": write(
            d / "hevc.mkv", MS_20FPS, Fraction(1, 1000), 20, codec="libx265", options=X265, fmt="matroska"
        ),
        "hevc_mp4": write(d / "hevc.mp4", list(range(60)), Fraction(1, 20), 20, codec="libx265", options=X265),
        "1080p": write(
            d / "hd.mp4",
            list(range(10)),
            Fraction(1, 30),
            30,
            size=(1920, 1080),
            options={"crf": "20", "preset": "ultrafast"},
        ),
    }


def pyav_reference(path: Path) -> tuple[np.ndarray, list[np.ndarray]]:
    """Independent decode: (N,) presentation times from the first frame, and the frames as displayed."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        decoded = [(f.pts, f.rotation, f.to_ndarray(format="rgb24")) for f in c.decode(s)]
        tb = float(s.time_base)
    pts = np.array([p for p, _, _ in decoded], dtype=np.float64)
    order = np.argsort(pts)
    times = (pts[order] - pts[order][0]) * tb
    frames = [np.rot90(decoded[i][2], int(decoded[i][1]) // 90 % 4) for i in order]
    return times, frames


@pytest.mark.parametrize(
    "name",
    [
        "edit_list",
        "edit_list_bframes",
        "bframes",
        "vfr",
        "ntsc_29.97",
        "film_23.976",
        "rotated_90",
        "mpeg4_part2",
        "mpeg4_avi",
        "h264_mkv",
        "hevc_mkv",
        "hevc_mp4",
        "1080p",
    ],
)
def test_auto_gives_the_frame_on_screen_at_each_time(corpus, name):
    path = corpus[name]
    ref_times, ref_frames = pyav_reference(path)
    period = float(np.median(np.diff(ref_times)))
    clip = decode_video(path, fps=2.5 / period)  # several samples per source frame: every frame is used
    assert len(clip) > 2 * len(ref_times)
    # the frame on screen at t: the latest presented at or before it
    shown = np.clip(np.searchsorted(ref_times, clip.timestamps + 1e-6, side="right") - 1, 0, len(ref_times) - 1)
    assert np.all(np.abs(clip.frame_times - ref_times[shown]) <= period / 2), f"{name}: frame times off"
    assert np.all(clip.frame_times <= clip.timestamps + 1e-6), f"{name}: a frame from the future"
    assert clip.frames.shape[1:] == ref_frames[0].shape
    np.testing.assert_array_equal(
        codes(clip.frames), codes(np.stack([ref_frames[i] for i in shown])), err_msg=f"{name} ({clip.backend})"
    )
    limit = 0 if clip.backend == "pyav" else 6  # decord's ffmpeg converts YUV to RGB a little differently
    first = np.unique(shown, return_index=True)[1]  # one sample per source frame
    for k in first:
        diff = np.abs(clip.frames[k].astype(np.int16) - ref_frames[shown[k]].astype(np.int16)).max()
        assert diff <= limit, f"{name}: sample {k} differs from PyAV's frame by {diff} levels"


def test_edit_list_file_is_what_the_issue_describes(corpus):
    path = corpus["edit_list"]
    assert edit_list_media_time(path) > 0, "the mov muxer wrote an edit list that trims the start"
    facts = scan_container(path)
    assert facts.discarded == 60 and facts.n_frames == 90 and facts.discarded_lead == pytest.approx(2.0)
    choice = choose_backend(facts, "auto")
    assert choice.name == "pyav" and "edit list trims 60 packet(s)" in choice.reason and "2.000 s late" in choice.reason
    info = probe_video(path, full=True)  # honest: 90 frames presented, not 150 packets, and not truncated
    assert (info.n_frames, info.duration, info.fps) == (90, pytest.approx(3.0), pytest.approx(30.0))
    assert probe_video(path).n_frames == 150, "the header counts the trimmed packets too"


@needs_decord
def test_decord_alone_returns_frames_from_later_in_the_clip(corpus):
    """Without the per-file decision, decord's indexing puts the trimmed start's frames 2 s late."""
    from archsearch.data.decode.decord_backend import open_reader, reader_times
    from archsearch.data.decode.times import causal_indices

    path = corpus["edit_list"]
    reader = open_reader(path, None, 0)
    times = np.arange(0, 2.9, 0.2)
    idx = causal_indices(reader_times(reader), times)
    got = codes(reader.get_batch(idx.tolist()).asnumpy())
    truth = codes(decode_video(path, fps=5.0, end=2.8).frames)
    # codes count frames mod 64: 60 frames (2.0 s at 30 fps) later reads as truth + 60 (mod 64)
    np.testing.assert_array_equal(got[:5], (truth[:5] + 60) % 64, err_msg="decord was not 2 s late")
    assert (got[:7] != truth[:7]).all()
    with pytest.raises(VideoDecodeError, match="decode.backend is decord but decord would return wrong frames"):
        decode_video(path, backend="decord")


@needs_decord
@pytest.mark.parametrize(
    "name, backend",
    [
        ("bframes", "decord"),
        ("vfr", "decord"),
        ("ntsc_29.97", "decord"),
        ("film_23.976", "decord"),
        ("mpeg4_part2", "decord"),
        ("1080p", "decord"),
        ("edit_list", "pyav"),
        ("rotated_90", "pyav"),
        ("mpeg4_avi", "pyav"),
    ],
)
def test_auto_uses_decord_only_where_it_is_provably_right(corpus, name, backend):
    facts = scan_container(corpus[name])
    assert choose_backend(facts, "auto", verify=True).name == backend
    assert decode_video(corpus[name], fps=5.0).backend == backend
    assert choose_backend(facts, "pyav").name == "pyav"


def test_rotation_is_applied_as_a_player_would(corpus):
    clip = decode_video(corpus["rotated_90"], fps=5.0)
    assert clip.frames.shape[1:3] == (W, H), "a 90 degree rotation swaps width and height"
    marker = clip.frames[0, ..., 0] > 200  # (W, H) where the top-left marker of the stored frame landed
    rows, cols = np.nonzero(marker)
    # 90 degrees counter-clockwise: the stored top-left corner is shown bottom-left
    assert rows.min() >= W - W // 8 - 1 and cols.max() < H // 4 + 1
    info = probe_video(corpus["rotated_90"], full=True)
    assert (info.width, info.height, info.rotation) == (H, W, 90)
