"""Benchmark: what the per-file container scan (frame times, edit list, rotation) adds to a decode.

decode_video demuxes every packet once to take frame times from the container and to decide
whether decord may decode the file; this prints ONE JSON line with the medians per clip of that
scan, of the header-only probe it replaced, and of the whole decode, plus the scan's share.

    .venv/bin/python bench/decode_scan.py                      # 20 synthetic 256x144 clips, 10 s
    .venv/bin/python bench/decode_scan.py --videos DIR --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archsearch.data.decode import decode_video, probe_video, scan_container
from bench.decode import write_synthetic


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=Path, help="folder of .mp4 files (default: synthetic clips)")
    ap.add_argument("--n-videos", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--size", type=int, nargs=2, default=(224, 224), metavar=("H", "W"))
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_scan_") as tmp:
        paths = (
            sorted(args.videos.glob("*.mp4"))
            if args.videos
            else write_synthetic(Path(tmp), args.n_videos, 256, 144, 20, 10.0)
        )
        steps = {
            "scan_ms": lambda p: scan_container(p),
            "header_probe_ms": lambda p: probe_video(p),
            "decode_ms": lambda p: decode_video(p, args.fps, size=tuple(args.size)),
        }
        times: dict[str, list[float]] = {k: [] for k in steps}
        for _ in range(args.repeats):
            for p in paths:  # interleaved, so load from other processes hits every step alike
                for name, fn in steps.items():
                    t0 = time.perf_counter()
                    fn(p)
                    times[name].append(1000 * (time.perf_counter() - t0))
        backends = sorted({decode_video(p, args.fps, size=tuple(args.size)).backend for p in paths})
    med = {k: round(statistics.median(v), 3) for k, v in times.items()}
    added = med["scan_ms"] - med["header_probe_ms"]
    print(
        json.dumps(
            {
                **med,
                "added_ms": round(added, 3),
                "added_share_of_decode": round(added / med["decode_ms"], 4),
                "clips": len(paths),
                "repeats": args.repeats,
                "backends": backends,
                "source": str(args.videos) if args.videos else "synthetic 256x144 @ 20 fps, 10 s",
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
