"""Which runtime computes a backbone's features: eager torch (the reference) or OpenVINO (torch-free).

A backbone's features are a function of normalised clips, `clip_model(clips) -> (B, D)`. The eager
torch engine runs it as written (bf16 autocast on CUDA). The OpenVINO engine runs the same torch
weights converted once, fp32 or bf16, several times faster on CPU. Because a runtime changes the
numbers (slightly), the resolved (runtime, precision) pair is part of every feature cache key.

Requested runtimes:
- "torch": eager torch.
- "openvino": OpenVINO fp32 (CPU only).
- "openvino-bf16": OpenVINO with bf16 matmuls/convolutions (CPU only; needs a CPU with bf16 units).
- "auto": eager torch on CUDA and for weight-free backbones; otherwise OpenVINO at the backbone's
  `fast_precision` (measured to agree with fp32 eager to cosine >= 0.999), fp32 where the CPU has
  no bf16 units, and eager torch when OpenVINO is not installed.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

RUNTIMES = ("auto", "torch", "openvino", "openvino-bf16")


class RuntimeUnavailableError(ValueError):
    """Raised when a requested runtime cannot run this backbone here; the message says why and what works."""


@dataclass(frozen=True)
class RuntimeChoice:
    """The runtime that actually computes the features, and at which precision."""

    runtime: str  # "torch" | "openvino"
    precision: str  # "fp32" | "bf16"

    def to_dict(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "precision": self.precision}

    def __str__(self) -> str:
        return f"{self.runtime}-{self.precision}"


def openvino_installed() -> bool:
    return importlib.util.find_spec("openvino") is not None


def resolve_runtime(
    requested: str, *, who: str, device: Any, exportable: bool, fast_precision: str, torch_precision: str
) -> RuntimeChoice:
    """Turn a requested runtime into the one that will run (RuntimeUnavailableError when it cannot).

    `device` is a torch.device (only its `.type` is read); `torch_precision` is what eager torch
    computes in on it ("bf16" under CUDA autocast).
    """
    if requested not in RUNTIMES:
        raise RuntimeUnavailableError(f"{who}: unknown runtime {requested!r}; expected one of {', '.join(RUNTIMES)}")
    torch_choice = RuntimeChoice("torch", torch_precision)
    if requested == "torch" or not exportable:
        return torch_choice  # weight-free backbones are plain torch ops: nothing to convert
    if requested == "auto":
        if device.type != "cpu" or not openvino_installed():
            return torch_choice
        from .openvino_engine import cpu_has_bf16

        return RuntimeChoice("openvino", "bf16" if fast_precision == "bf16" and cpu_has_bf16() else "fp32")
    if device.type != "cpu":
        raise RuntimeUnavailableError(
            f"{who}: runtime {requested!r} runs on CPU only, but device is {device}; use runtime torch or auto on CUDA"
        )
    if not openvino_installed():
        raise RuntimeUnavailableError(
            f"{who}: runtime {requested!r} needs the 'openvino' package (pip install openvino); or use runtime torch"
        )
    if requested == "openvino-bf16":
        from .openvino_engine import cpu_has_bf16

        if not cpu_has_bf16():
            raise RuntimeUnavailableError(
                f"{who}: runtime 'openvino-bf16' needs a CPU with bf16 units (AVX512-BF16 or AMX), "
                "which this one lacks; use runtime openvino (fp32)"
            )
        return RuntimeChoice("openvino", "bf16")
    return RuntimeChoice("openvino", "fp32")
