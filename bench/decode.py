"""Benchmark: archsearch's decode path vs bare decord on the same files, frames and size.

Prints ONE JSON line. pipeline_fps / decord_fps are output frames per second (frames sampled
at --fps and resized to --size), medians over --repeats interleaved runs after one warm-up.
ratio = pipeline_fps / decord_fps; the overhead we accept for the PyAV guard, causal
timestamp mapping and error handling is ratio >= 0.8.

    .venv/bin/python bench/decode.py                      # 20 synthetic 256x144 clips, 10 s
    .venv/bin/python bench/decode.py --videos DIR --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_synthetic(out_dir: Path, n: int, width: int, height: int, fps: int, seconds: float) -> list[Path]:
    """Clips with a moving gradient and a moving box (frames differ, codec does real work)."""
    import av

    yy, xx = np.mgrid[0:height, 0:width]
    paths = []
    for v in range(n):
        path = out_dir / f"clip_{v:03d}.mp4"
        with av.open(str(path), "w") as c:
            s = c.add_stream("libx264", rate=fps)
            s.width, s.height, s.pix_fmt = width, height, "yuv420p"
            # 1 s GOPs, like dashcams
            s.options = {"preset": "veryfast", "crf": "23", "g": str(fps)}
            for i in range(int(round(seconds * fps))):
                shift = 3 * i + 17 * v
                img = np.empty((height, width, 3), np.uint8)  # (H, W, 3)
                img[..., 0] = (xx + shift) % 256
                img[..., 1] = (yy * 2 + shift // 2) % 256
                img[..., 2] = (xx + yy + v * 31) % 256
                bx = (5 * i) % max(1, width - 24)
                img[height // 3 : height // 3 + 24, bx : bx + 24] = 255
                for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    c.mux(pkt)
            for pkt in s.encode():
                c.mux(pkt)
        paths.append(path)
    return paths


def run_pipeline(paths: list[Path], fps: float, size: tuple[int, int], threads: int, backend: str) -> list[np.ndarray]:
    from archsearch.data.decode import decode_video

    return [decode_video(p, fps, size=size, num_threads=threads, backend=backend).frames for p in paths]


def run_bare_decord(paths: list[Path], fps: float, size: tuple[int, int], threads: int) -> list[np.ndarray]:
    """What a hand-rolled loader does: index = floor(t * avg_fps) on the same k / fps grid."""
    import decord

    out = []
    for p in paths:
        vr = decord.VideoReader(str(p), width=size[1], height=size[0], num_threads=threads)
        n, src_fps = len(vr), vr.get_avg_fps()
        times = np.arange(int(np.floor(n / src_fps * fps + 1e-9)) + 1) / fps
        idx = np.minimum(np.floor(times * src_fps + 1e-6).astype(int), n - 1)
        out.append(vr.get_batch(idx.tolist()).asnumpy())  # (T, H, W, 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=Path, help="folder of .mp4 files (default: synthetic clips)")
    ap.add_argument("--n-videos", type=int, default=20)
    ap.add_argument("--src-size", type=int, nargs=2, default=(256, 144), metavar=("W", "H"))
    ap.add_argument("--src-fps", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=float, default=5.0, help="output frame rate")
    ap.add_argument("--size", type=int, nargs=2, default=(224, 224), metavar=("H", "W"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--num-threads", type=int, default=0, help="decoder threads (0 = auto)")
    ap.add_argument("--backend", default="auto", choices=["auto", "decord", "pyav"])
    args = ap.parse_args(argv)

    try:
        import decord
    except ImportError:
        print("bench/decode.py compares against bare decord: not installed", file=sys.stderr)
        return 2
    decord.logging.set_level(decord.logging.QUIET)
    size = (args.size[0], args.size[1])
    with tempfile.TemporaryDirectory(prefix="bench_decode_") as tmp:
        if args.videos:
            paths = sorted(args.videos.glob("*.mp4"))
            if not paths:
                print(f"{args.videos}: no .mp4 files found", file=sys.stderr)
                return 2
            source = str(args.videos)
        else:
            w, h = args.src_size
            paths = write_synthetic(Path(tmp), args.n_videos, w, h, args.src_fps, args.seconds)
            source = f"synthetic {len(paths)} x {w}x{h} @ {args.src_fps} fps, {args.seconds} s"

        def pipe(ps: list[Path]) -> list[np.ndarray]:
            return run_pipeline(ps, args.fps, size, args.num_threads, args.backend)

        def bare(ps: list[Path]) -> list[np.ndarray]:
            return run_bare_decord(ps, args.fps, size, args.num_threads)

        a, b = pipe(paths), bare(paths)  # warm-up (page cache, lazy init) + correctness check
        frames_equal = len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
        n_frames = sum(len(x) for x in a)
        t_pipe, t_bare = [], []
        for r in range(args.repeats):
            # interleave per file, alternating who goes first, so load from other processes
            # on a shared machine hits both paths alike
            tp = tb = 0.0
            for i, path in enumerate(paths):
                order = [(pipe, "p"), (bare, "b")]
                for fn, tag in order if (r + i) % 2 == 0 else order[::-1]:
                    t0 = time.perf_counter()
                    fn([path])
                    dt = time.perf_counter() - t0
                    if tag == "p":
                        tp += dt
                    else:
                        tb += dt
            t_pipe.append(tp)
            t_bare.append(tb)
    med_pipe, med_bare = statistics.median(t_pipe), statistics.median(t_bare)
    result = {
        "pipeline_fps": round(n_frames / med_pipe, 1),
        "decord_fps": round(n_frames / med_bare, 1),
        "ratio": round(med_bare / med_pipe, 3),
        "frames_per_run": n_frames,
        "n_videos": len(paths),
        "pipeline_s": round(med_pipe, 4),
        "decord_s": round(med_bare, 4),
        "frames_equal": frames_equal,
        "fps": args.fps,
        "size": list(size),
        "repeats": args.repeats,
        "num_threads": args.num_threads,
        "backend": args.backend,
        "source": source,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
