"""OpenVINO engine: a backbone's clip model converted from its torch weights, cached on disk.

Conversion traces the torch module (10-20 s), so the converted model (OpenVINO IR with the full fp32
weights) is saved once per (backbone, weights digest, input shape, library versions, sampling) under
`cache_dir/openvino/` and reused by later runs and by every worker process; OpenVINO keeps its
compiled blobs (one per precision and thread count) in `compiled/` beside it. A fresh conversion is
checked against eager torch on two batch sizes before it is saved, so a tracing mistake (a batch size
baked into the graph, a branch taken at trace time) fails loudly instead of caching wrong features.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata as md
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

CONVERSION_MIN_COSINE = 0.99999  # fp32 OpenVINO vs eager torch on the check batch
PRECISION_HINT = {"fp32": "f32", "bf16": "bf16"}


@functools.cache
def cpu_has_bf16() -> bool:
    """True when OpenVINO's CPU plugin can compute in bf16 natively (AVX512-BF16 or AMX)."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def library_versions() -> dict[str, str]:
    out = {}
    for pkg in ("openvino", "torch", "transformers"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    return out


def ir_folder(cache_dir: Path, name: str, digest: str, shape: tuple[int, ...], identity: dict[str, Any]) -> Path:
    """`cache_dir/openvino/<name>-<digest12>-<F>x3x<H>x<W>-<hash of versions + sampling>/`."""
    blob = json.dumps({"versions": library_versions(), **identity}, sort_keys=True, default=str)
    tag = hashlib.sha256(blob.encode()).hexdigest()[:10]
    dims = "x".join(str(d) for d in shape)
    return Path(cache_dir) / "openvino" / f"{name}-{digest[:12]}-{dims}-{tag}"


def _cosine_min(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    num = (a64 * b64).sum(1)
    den = np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)
    return float(np.min(num / np.maximum(den, 1e-30)))


def convert_checked(clip_model: torch.nn.Module, shape: tuple[int, ...], who: str):
    """Trace `clip_model` for inputs (batch, *shape) with a free batch size and check it against eager torch."""
    import openvino as ov

    gen = torch.Generator().manual_seed(0)
    example = torch.randn(2, *shape, generator=gen)  # (2, F, 3, H, W)
    check = torch.randn(3, *shape, generator=gen)  # another batch size: catches batch sizes baked in
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about Python shape arithmetic (fixed H, W)
        model = ov.convert_model(clip_model, example_input=example, input=[(-1, *shape)])
        want = clip_model(check).float().numpy()  # (3, D)
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    got = compiled.create_infer_request().infer({0: check.numpy()})[0]
    cos = _cosine_min(got, want) if got.shape == want.shape else float("nan")
    if not cos >= CONVERSION_MIN_COSINE:
        raise RuntimeError(
            f"{who}: the OpenVINO conversion disagrees with eager torch (output {got.shape} vs {want.shape}, "
            f"cosine {cos:.6f} < {CONVERSION_MIN_COSINE}); use runtime torch for this backbone"
        )
    return model


def load_or_convert(clip_model: torch.nn.Module, shape: tuple[int, ...], who: str, folder: Path | None):
    """The converted model from `folder` when cached there, else a fresh checked conversion saved atomically."""
    import openvino as ov

    if folder is not None and (folder / "model.xml").is_file():
        return ov.Core().read_model(folder / "model.xml")
    model = convert_checked(clip_model, shape, who)
    if folder is None:
        return model
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    ov.save_model(model, tmp / "model.xml", compress_to_fp16=False)  # keep fp32 weights
    (tmp / "versions.json").write_text(json.dumps(library_versions(), indent=1))
    try:
        os.rename(tmp, folder)  # atomic: another process may have won the race, its copy is as good
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    # Compile what later runs will read: a model read back from disk can differ from the in-memory
    # conversion in the last bits, and the first run must give the same features as every rerun.
    return ov.Core().read_model(folder / "model.xml")


class OpenVINOEngine:
    """Runs a converted clip model on CPU at the given precision with `threads` threads."""

    def __init__(
        self,
        clip_model: torch.nn.Module,
        *,
        shape: tuple[int, ...],
        precision: str,
        who: str,
        folder: Path | None = None,
        threads: int | None = None,
    ) -> None:
        import openvino as ov

        model = load_or_convert(clip_model, shape, who, folder)
        core = ov.Core()
        if folder is not None:
            core.set_property({"CACHE_DIR": str(folder.parent / "compiled")})
        config = {
            "INFERENCE_PRECISION_HINT": PRECISION_HINT[precision],
            "INFERENCE_NUM_THREADS": int(threads or torch.get_num_threads()),
            "PERFORMANCE_HINT": "LATENCY",  # one stream: the caller's processes are the parallelism
        }
        self.compiled = core.compile_model(model, "CPU", config)
        self.request = self.compiled.create_infer_request()
        actual = self.compiled.get_property("INFERENCE_PRECISION_HINT")  # an ov.Type
        if actual != getattr(ov.Type, PRECISION_HINT[precision]):
            raise RuntimeError(f"{who}: asked OpenVINO for {precision}, it compiled for {actual}")
        self.precision = precision

    def __call__(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, F, 3, H, W) normalised float32 on CPU -> (B, D) float32."""
        x = np.ascontiguousarray(clips.numpy(), dtype=np.float32)
        out = self.request.infer({0: x})[0]  # a view into the request's buffer: copy before the next call
        return torch.from_numpy(np.array(out, dtype=np.float32, copy=True))
