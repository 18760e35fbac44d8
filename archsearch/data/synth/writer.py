"""Writing a synthetic dataset to disk: H.264 encoding, worker processes, resumability, the CSV.

Per-video randomness comes from ``SeedSequence(spec.seed, spawn_key=(index, stream))``, so video
k never depends on another video and workers can render in any order. ``generate_dataset``
calls ``write_video`` through this module's globals, which lets tests intercept it.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path

from archsearch.data.synth.clip import build_clip
from archsearch.data.synth.render import render_frames
from archsearch.data.synth.spec import SyntheticSpec, VideoPlan, assign_scenarios
from archsearch.data.synth.truth import TRUTH_FILE, truth_csv_text

FORMAT = "archsearch-synthetic/1"


# ---------------------------------------------------------------------------------------------
# Writing the dataset


def x264_params(spec: SyntheticSpec) -> str:
    """x264 settings under which the bytes depend only on the frames.

    veryfast, trimmed (no B-frames, one reference, cheap motion search and partitions): ~0.3 ms a
    frame. Stock veryfast's B-frames gave different bytes from run to run on small frames. The
    macroblock-tree rate control reads memory x264 never wrote unless the width is a multiple of
    128 px (its half-resolution lookahead rows are then exactly aligned): at 64-320 px wide, 1-6 of
    6 clips changed bytes when the heap held other data, at 128 / 256 / 384 / 512 / 640 none did
    (tests/archsearch/data/test_synthetic_encoding.py). It is off at other widths, which costs
    about 1.8x the bytes at the same crf.
    """
    params = "ref=1:subme=1:me=dia:trellis=0:bframes=0:weightp=0:partitions=none:no-8x8dct=1"
    return params if spec.width % 128 == 0 else params + ":mbtree=0"


def encode_clip(frames_yuv, path: Path, spec: SyntheticSpec) -> None:
    """Write I420 frames ((H * 3 // 2, W) uint8 each) as an H.264 mp4."""
    import av

    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(int(spec.fps)))
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
        # One thread (parallelism comes from the workers); a GOP of 2 s keeps seeking cheap for
        # decoders that sample windows.
        stream.options = {
            "preset": "veryfast",
            "crf": "23",
            "g": str(2 * int(spec.fps)),
            "threads": "1",
            "x264-params": x264_params(spec),
        }
        for yuv in frames_yuv:
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_video(spec: SyntheticSpec, index: int, out_dir: Path) -> str:
    """Render one clip to a temp file, then move it into place (never a half-written mp4)."""
    clip = build_clip(spec, index)
    final = out_dir / "train" / f"{clip.plan.id}.mp4"
    tmp = final.with_name(f".{clip.plan.id}.{os.getpid()}.tmp.mp4")
    try:
        encode_clip(render_frames(clip.scene, "yuv420p"), tmp, spec)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
    return clip.plan.id


def _render_in_subprocesses(out: Path, spec: SyntheticSpec, pending: list[int], n_workers: int, bar) -> None:
    """Render ``pending`` videos in ``n_workers`` child interpreters (``python -m archsearch.data.synth.worker``).

    Plain subprocesses rather than multiprocessing: "spawn" re-imports the caller's main
    script (breaking unguarded scripts) and "fork" is unsafe inside threaded hosts such as a
    Dagster run worker. Each child prints one line per finished video.
    """
    import subprocess
    import sys
    import tempfile
    import threading

    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[3])  # the repository
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    lock = threading.Lock()
    procs, logs, threads = [], [], []

    def pump(proc) -> None:
        for _ in proc.stdout:
            with lock:
                bar.update()

    try:
        for w in range(n_workers):
            chunk = ",".join(str(i) for i in pending[w::n_workers])
            log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 -- closed in the finally below
            cmd = [sys.executable, "-m", "archsearch.data.synth.worker", str(out), json.dumps(spec.to_dict()), chunk]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
            procs.append(proc)
            logs.append(log)
            threads.append(threading.Thread(target=pump, args=(proc,), daemon=True))
            threads[-1].start()
        for proc, thread in zip(procs, threads):
            proc.wait()
            thread.join()
        failed = [(p, log) for p, log in zip(procs, logs) if p.returncode != 0]
        if failed:
            proc, log = failed[0]
            log.seek(0)
            tail = log.read()[-3000:]
            raise RuntimeError(f"{out}: synthetic video worker exited with code {proc.returncode}:\n{tail}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()


def video_is_complete(path: Path, n_frames: int) -> bool:
    """Cheap check (container header only) that ``path`` holds ``n_frames`` frames."""
    if not path.is_file():
        return False
    try:
        import av

        with av.open(str(path)) as c:
            return int(c.streams.video[0].frames) == n_frames
    except Exception:  # noqa: BLE001 - any unreadable file is simply regenerated
        return False


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except (OSError, OverflowError):
        return False
    return True


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _csv_text(plans: list[VideoPlan]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "target", "time_of_event", "time_of_alert"])
    for p in plans:
        fmt = lambda x: "" if x is None else f"{x:.3f}"
        w.writerow([p.id, p.target, fmt(p.event_time), fmt(p.alert_time)])
    return buf.getvalue()


def _meta_text(spec: SyntheticSpec, plans: list[VideoPlan], complete: bool) -> str:
    videos = [{k: v for k, v in asdict(p).items() if k != "index"} | {"target": p.target} for p in plans]
    meta = {"format": FORMAT, "spec": spec.to_dict(), "n_frames": spec.n_frames, "complete": complete, "videos": videos}
    return json.dumps(meta, indent=1) + "\n"


def generate_dataset(out_dir, spec: SyntheticSpec, *, workers: int | None = None, progress: bool = True) -> Path:
    """Write ``out_dir/train/<id>.mp4``, ``train.csv`` (Nexar columns), ``synthetic.json`` and ``truth.csv``
    (every cue of the main actor, frame by frame: ``truth.CUES``).

    Resumable: videos already present with the right frame count are kept; others (missing,
    truncated, foreign) are rendered again. Each mp4 is written under a temp name and moved
    into place, so an interrupted run never leaves a half file behind. ``workers=None`` uses
    every core; ``workers<=1`` renders in this process.
    """
    out = Path(out_dir)
    meta_path = out / "synthetic.json"
    if (out / "train.csv").exists() and not meta_path.is_file():
        raise ValueError(
            f"{out}: holds a train.csv but no synthetic.json, so it is not a synthetic dataset "
            "(a real Nexar folder?); refusing to overwrite it -- choose another folder"
        )
    (out / "train").mkdir(parents=True, exist_ok=True)
    if meta_path.is_file():
        try:
            old = json.loads(meta_path.read_text()).get("spec")
        except (json.JSONDecodeError, AttributeError):
            old = None
        if old is not None and old != spec.to_dict():
            diff = sorted(k for k in spec.to_dict() if old.get(k) != spec.to_dict()[k])
            raise ValueError(
                f"{meta_path}: folder holds synthetic dataset {old.get('name')!r} made with other settings "
                f"(field(s) {diff}: {[old.get(k) for k in diff]} here vs "
                f"{[spec.to_dict()[k] for k in diff]} requested); "
                "use another folder or delete this one"
            )
    clips = [build_clip(spec, i, s) for i, s in enumerate(assign_scenarios(spec))]  # kinematics only: cheap
    plans = [c.plan for c in clips]
    _atomic_write(meta_path, _meta_text(spec, plans, complete=False))
    _atomic_write(out / TRUTH_FILE, truth_csv_text(spec, clips))
    for stale in (out / "train").glob(".*.tmp.mp4"):  # left by a killed run (not a live one)
        pid = stale.name.split(".")[2]
        if not (pid.isdigit() and _pid_alive(int(pid))):
            stale.unlink(missing_ok=True)
    pending = [p.index for p in plans if not video_is_complete(out / "train" / f"{p.id}.mp4", spec.n_frames)]
    from tqdm.auto import tqdm

    bar = tqdm(
        total=len(pending), desc=f"synthetic {spec.name}", unit="video", disable=None if progress and pending else True
    )  # None: off when not a terminal
    n_workers = min(os.cpu_count() or 1, len(pending)) if workers is None else min(workers, len(pending))
    try:
        if n_workers <= 1:
            for i in pending:
                write_video(spec, i, out)
                bar.update()
        else:
            _render_in_subprocesses(out, spec, pending, n_workers, bar)
    finally:
        bar.close()
    _atomic_write(out / "train.csv", _csv_text(plans))
    _atomic_write(meta_path, _meta_text(spec, plans, complete=True))
    return out
