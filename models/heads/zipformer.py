"""A compact Zipformer encoder (Yao et al. 2023, icefall's Zipformer2), written for short masked windows.

Kept from icefall: stacks that run at different frame rates (downsample by a learned softmax-weighted
average of neighbouring frames, upsample by repetition, then a learned per-channel bypass back to the
stack input), BiasNorm instead of LayerNorm, SwooshL/SwooshR activations, a convolution module
(pointwise + GLU-style sigmoid gate + depthwise conv), two feed-forward blocks around self-attention with
relative-position information, and a learned bypass around every layer. Left out: the Balancer/Whiten
regularisers, ScaledAdam, non-linear attention, attention-weight sharing and per-stack widths, which
matter for 1000-frame speech at 100 Hz, not for 20-step windows.

Masking through the rates: a downsampled frame averages only the valid frames of its group (weights
renormalised), it is valid if any of them is; padded frames are zeroed before every depthwise conv
and excluded as attention keys, so no padded value reaches a valid output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .common import DepthwiseConv, TimeDropout, attention, key_padding_bias, zero_masked


class _Swoosh(torch.autograd.Function):
    """softplus(x - shift) - 0.08 x - const with a one-pass backward sigmoid(x - shift) - 0.08.

    A Function (as icefall does) because the autograd graph of the composite costs ~2x on CPU.
    """

    @staticmethod
    def forward(ctx, x: Tensor, shift: float, const: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.shift = shift
        return F.softplus(x - shift).sub_(x, alpha=0.08).sub_(const)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple[Tensor, None, None]:
        (x,) = ctx.saved_tensors
        return torch.sigmoid(x - ctx.shift).sub_(0.08).mul_(g), None, None


def swoosh_l(x: Tensor) -> Tensor:
    """SwooshL(x) = log(1 + e^(x-4)) - 0.08x - 0.035 (icefall): a non-vanishing-gradient swish-like curve."""
    return _Swoosh.apply(x, 4.0, 0.035)


def swoosh_r(x: Tensor) -> Tensor:
    """SwooshR(x) = log(1 + e^(x-1)) - 0.08x - 0.313261687 (icefall; SwooshR(0) = 0)."""
    return _Swoosh.apply(x, 1.0, 0.313261687)


class BiasNorm(nn.Module):
    """x / RMS(x - b) * e^s: LayerNorm without mean removal, keeping a learned bias for the length info."""

    def __init__(self, d: int, eps: float = 1e-5):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(d))
        self.log_scale = nn.Parameter(torch.zeros(()))  # icefall starts at 1.0; 0 keeps unit RMS here
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        scale = ((x - self.bias).pow(2).mean(-1, keepdim=True) + self.eps).rsqrt() * self.log_scale.exp()
        return x * scale


class Bypass(nn.Module):
    """out = x_orig + c * (x_new - x_orig), c a learned per-channel weight kept in [0, 1] (icefall's BypassModule)."""

    def __init__(self, d: int, init: float = 0.5):
        super().__init__()
        self.scale = nn.Parameter(torch.full((d,), init))

    def forward(self, x_orig: Tensor, x_new: Tensor) -> Tensor:
        return x_orig + self.scale.clamp(0.0, 1.0) * (x_new - x_orig)


class FeedForward(nn.Module):
    def __init__(self, d: int, mult: int):
        super().__init__()
        self.inp, self.out = nn.Linear(d, mult * d), nn.Linear(mult * d, d)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(swoosh_l(self.inp(x)))


class ConvModule(nn.Module):
    """Pointwise conv to 2d, sigmoid gate, depthwise conv over time, SwooshR, pointwise conv back to d."""

    def __init__(self, d: int, kernel: int):
        super().__init__()
        self.inp = nn.Linear(d, 2 * d)
        self.depthwise = DepthwiseConv(d, kernel, causal=False)
        self.out = nn.Linear(d, d)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        a, s = self.inp(x).chunk(2, dim=-1)  # (B, T, d) each
        a = zero_masked(a * torch.sigmoid(s), mask)  # padded frames must not enter the conv
        a = self.depthwise(a)  # (B, T, d), centred (non-causal) kernel
        return self.out(swoosh_r(a))


class RelPosSelfAttention(nn.Module):
    """Multi-head self-attention plus a learned per-head bias for each clipped offset j - i (T5-style)."""

    def __init__(self, d: int, n_heads: int, max_offset: int = 16):
        super().__init__()
        self.h, self.max_offset = n_heads, max_offset
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.rel_bias = nn.Parameter(torch.zeros(n_heads, 2 * max_offset + 1))  # (H, 2R+1)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        B, T, d = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)  # 3 x (B, H, T, dh)
        idx = torch.arange(T, device=x.device)
        off = (idx[None, :] - idx[:, None]).clamp(-self.max_offset, self.max_offset) + self.max_offset  # (T, T)
        bias = self.rel_bias[:, off].to(x.dtype)[None] + key_padding_bias(mask, x.dtype)  # (B, H, T, T)
        y = attention(q, k, v, bias)  # (B, H, T, dh)
        return self.out(y.transpose(1, 2).reshape(B, T, d))


class ZipformerLayer(nn.Module):
    """x -> +FF1 -> +MHSA -> +Conv -> +FF2 -> BiasNorm, then a learned bypass to the layer input."""

    def __init__(self, d: int, n_heads: int, ff_mult: int, kernel: int, dropout: float):
        super().__init__()
        self.ff1 = FeedForward(d, ff_mult)
        self.attn = RelPosSelfAttention(d, n_heads)
        self.conv = ConvModule(d, kernel)
        self.ff2 = FeedForward(d, ff_mult)
        self.norm = BiasNorm(d)
        self.bypass = Bypass(d)
        self.drop = TimeDropout(dropout)  # on the residual branches only

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x0 = x
        x = x + self.drop(self.ff1(x))
        x = x + self.drop(self.attn(x, mask))
        x = x + self.drop(self.conv(x, mask))
        x = x + self.drop(self.ff2(x))
        return zero_masked(self.bypass(x0, self.norm(x)), mask)


class MaskedDownsample(nn.Module):
    """Group r consecutive frames into one by a learned softmax-weighted average over the valid ones.

    The window is padded at the START to a multiple of r, so the newest frames always form a full group.
    """

    def __init__(self, r: int):
        super().__init__()
        self.r = r
        self.weights = nn.Parameter(torch.zeros(r))  # softmax -> plain mean at init

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        B, T, d = x.shape
        r, pad = self.r, (-T) % self.r
        x = F.pad(x, (0, 0, pad, 0))  # (B, T + pad, d)
        m = F.pad(mask, (pad, 0), value=False).view(B, -1, r)  # (B, T', r)
        w = torch.softmax(self.weights, 0).to(x.dtype) * m  # (B, T', r) weights of valid frames only
        w = w / w.sum(-1, keepdim=True).clamp_min(1e-6)
        y = (x.view(B, -1, r, d) * w.unsqueeze(-1)).sum(2)  # (B, T', d)
        return y, m.any(-1)


class ZipformerStack(nn.Module):
    """Layers running at 1/r of the input frame rate; r > 1 stacks are bypass-combined with their input."""

    def __init__(self, d: int, r: int, n_layers: int, n_heads: int, ff_mult: int, kernel: int, dropout: float):
        super().__init__()
        self.r = r
        self.layers = nn.ModuleList(ZipformerLayer(d, n_heads, ff_mult, kernel, dropout) for _ in range(n_layers))
        self.down = MaskedDownsample(r) if r > 1 else None
        self.combine = Bypass(d) if r > 1 else None

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        T = x.shape[1]
        y, m = self.down(x, mask) if self.down is not None else (x, mask)
        for layer in self.layers:
            y = layer(y, m)
        if self.down is None:
            return y
        pad = (-T) % self.r
        y = y.repeat_interleave(self.r, dim=1)[:, pad:]  # upsample by repetition, drop the start padding
        return zero_masked(self.combine(x, y), mask)


class ZipformerEncoder(nn.Module):
    """Stacks at the given rates (default 1, 2, 1) applied in sequence, each `n_layers` layers deep."""

    def __init__(
        self,
        d: int,
        n_layers: int,
        n_heads: int,
        ff_mult: int,
        kernel: int,
        dropout: float,
        rates: tuple[int, ...] = (1, 2, 1),
    ):
        super().__init__()
        kernel = kernel + 1 - kernel % 2  # odd, so the centred depthwise conv keeps the length
        self.stacks = nn.ModuleList(ZipformerStack(d, r, n_layers, n_heads, ff_mult, kernel, dropout) for r in rates)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        for stack in self.stacks:
            x = stack(x, mask)
        return x
