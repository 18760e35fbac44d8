"""Masking and position helpers shared by the encoders.

Convention everywhere: `mask` is (B, T) bool, True = a real step. Windows are left-padded when a
clip's history is short, so padding can sit at either end; every helper here is written so that the
values at padded steps can never reach a valid step's output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def zero_masked(x: Tensor, mask: Tensor) -> Tensor:
    """Set padded steps to 0. `where`, not a multiply, so NaN/inf at padded steps cannot leak."""
    return torch.where(mask.unsqueeze(-1), x, torch.zeros((), dtype=x.dtype, device=x.device))


def key_padding_bias(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """Additive attention bias (B, 1, 1, T): 0 for valid keys, the dtype's most negative value for padded ones.

    A finite value (not -inf) keeps softmax NaN-free for a window with no valid step at all.
    """
    neg = torch.finfo(dtype).min
    bias = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, neg)
    return bias[:, None, None, :]  # (B, 1, 1, T)


def attention(q: Tensor, k: Tensor, v: Tensor, bias: Tensor) -> Tensor:
    """softmax(q k^T / sqrt(dh) + bias) v for (B, H, Tq, dh) inputs and a broadcastable additive bias.

    Written out rather than F.scaled_dot_product_attention: for T ~ 20 the fused CPU kernel plus its
    mask checks is ~2x slower forward+backward than these three ops.
    """
    scores = torch.baddbmm(
        bias.expand(*q.shape[:-1], k.shape[-2]).reshape(-1, q.shape[-2], k.shape[-2]),
        q.reshape(-1, *q.shape[-2:]),
        k.reshape(-1, *k.shape[-2:]).transpose(-1, -2),
        alpha=q.shape[-1] ** -0.5,
    )  # (B*H, Tq, Tk)
    return (torch.softmax(scores, dim=-1) @ v.reshape(-1, *v.shape[-2:])).view(q.shape[:-1] + v.shape[-1:])


def last_valid_index(mask: Tensor) -> Tensor:
    """Index (B,) of the last True step of each row (T-1 for a row with none)."""
    T = mask.shape[1]
    return T - 1 - torch.flip(mask, dims=[1]).to(torch.int8).argmax(dim=1)


def compact_order(mask: Tensor, *, reverse: bool = False) -> Tensor:
    """Permutation (B, T) that moves the valid steps to the front, in time order (or reversed).

    Gathering with it turns any padding (left, right, holes) into right padding, so a plain
    unidirectional recurrence over the result never sees a padded step before a valid one.
    """
    B, T = mask.shape
    t = torch.arange(T, device=mask.device).expand(B, T)
    key = torch.where(mask, (T - 1 - t) if reverse else t, T + t)  # valid first, padded after
    return key.argsort(dim=1)


def check_inputs(x: Tensor, mask: Tensor | None, input_dim: int) -> Tensor:
    """Validate (B, T, D) input and (B, T) bool mask; return the mask (all True when None)."""
    if x.ndim != 3 or x.shape[-1] != input_dim:
        raise ValueError(f"head input: expected a (B, T, {input_dim}) float tensor, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"head input: expected a floating-point tensor, got dtype {x.dtype}")
    if mask is None:
        return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    if mask.shape != x.shape[:2]:
        raise ValueError(f"head mask: expected shape (B, T) = {tuple(x.shape[:2])}, got {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        raise ValueError(f"head mask: expected dtype torch.bool (True = valid step), got {mask.dtype}")
    return mask


def rotary_tables(
    T: int, dim: int, device: torch.device, dtype: torch.dtype, base: float = 10000.0
) -> tuple[Tensor, Tensor]:
    """cos, sin tables (T, dim) for rotary position embedding over interleaved channel pairs."""
    inv = 1.0 / base ** (torch.arange(0, dim, 2, device=device, dtype=torch.float32) / dim)  # (dim/2,)
    ang = torch.arange(T, device=device, dtype=torch.float32)[:, None] * inv[None, :]  # (T, dim/2)
    ang = ang.repeat_interleave(2, dim=-1)  # (T, dim)
    return ang.cos().to(dtype), ang.sin().to(dtype)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate channel pairs of x (..., T, dim) by position: q·k then depends only on the offset n - m."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    rot = torch.stack((-x2, x1), dim=-1).flatten(-2)  # (..., T, dim): (-x2, x1) interleaved
    return x * cos + rot * sin


class NormLinear(nn.Module):
    """LayerNorm without affine (D) followed by Linear(D, d), computed without materialising LN(x).

    Why: at D=1024 and d=32 the normalised copy of x costs more than the projection itself. Since
    LN(x) W^T = (x W^T - mu * W 1) / sigma, we need only two cheap row reductions of x (mean and norm)
    and the matmul on raw x; autograd then reads x once more for the weight gradient and never writes
    a (B, T, D) temporary. Both the one-pass variance E[x^2] - mu^2 and the subtraction lose precision
    when |mu| >> sigma, so a batch with such a row takes the plain LayerNorm path. Off the CPU the
    plain path is always used (speed there is ample and the check would cost a device sync).
    """

    def __init__(self, d_in: int, d_out: int, eps: float = 1e-5):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.d_in, self.eps = d_in, eps

    def forward(self, x: Tensor) -> Tensor:
        exact = x.device.type != "cpu"
        if not exact:
            with torch.no_grad():  # x is data: its statistics need no gradient
                mu = x.mean(-1, keepdim=True)  # (B, T, 1)
                ms = torch.linalg.vector_norm(x, dim=-1, keepdim=True).square() / self.d_in  # E[x^2]
                var = (ms - mu.square()).clamp_min(0)
                exact = bool((mu.square() > 1e3 * var).any())  # |mu| > 30 sigma somewhere: cancellation risk
        if exact:
            return self.linear(F.layer_norm(x, (self.d_in,), eps=self.eps))
        rstd = (var + self.eps).rsqrt()
        w = self.linear.weight  # (d, D)
        return torch.addcmul(self.linear.bias, F.linear(x, w) - mu * w.sum(1), rstd)  # (B, T, d)


class TimeDropout(nn.Module):
    """Dropout whose mask is drawn per (sample, channel) and shared by all T steps ("locked" dropout).

    Why: CPU random-number generation costs ~3 ns per element, so i.i.d. masks on every (B, T, d)
    activation were a third of a head's training step; one (B, 1, d) mask is T times cheaper and is the
    standard regulariser for recurrent nets (Gal & Ghahramani 2016). (B, d) inputs get plain dropout.
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        shape = (x.shape[0], 1, x.shape[-1]) if x.ndim == 3 else x.shape
        keep = torch.rand(shape, device=x.device) >= self.p
        return x * (keep.to(x.dtype) / (1.0 - self.p))


class _DepthwiseConvFn(torch.autograd.Function):
    """y_t = b + sum_j w_j x_{t - left + j} on (B, T, C) with zero padding; a hand-written backward
    avoids autograd's k zero-filled slice gradients."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, b: Tensor, left: int) -> Tensor:
        k, T = w.shape[0], x.shape[1]
        xp = F.pad(x, (0, 0, left, k - 1 - left))  # (B, T + k - 1, C)
        y = torch.addcmul(b, xp[:, 0:T], w[0])
        for j in range(1, k):
            y.addcmul_(xp[:, j : j + T], w[j])
        ctx.save_for_backward(xp, w)
        ctx.left = left
        return y

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple[Tensor, Tensor, Tensor, None]:
        xp, w = ctx.saved_tensors
        k, T = w.shape[0], g.shape[1]
        g = g.contiguous()
        gxp = torch.zeros_like(xp)
        for j in range(k):
            gxp[:, j : j + T].addcmul_(g, w[j])
        gw = torch.stack([(g * xp[:, j : j + T]).sum((0, 1)) for j in range(k)])  # (k, C)
        return gxp[:, ctx.left : ctx.left + T], gw, g.sum((0, 1)), None


class DepthwiseConv(nn.Module):
    """Depthwise conv over time on (B, T, C), as k shifted multiply-adds.

    Why not nn.Conv1d: for T ~ 20 and C ~ 32 its CPU forward+backward is ~2-3x slower than k addcmuls
    with a hand-written backward, and it needs two transposes. `causal=True` pads k-1 steps on the left
    (output t sees inputs <= t); otherwise the kernel is centred (k odd). Callers zero padded steps
    first, as zero padding assumes.
    """

    def __init__(self, channels: int, kernel: int, *, causal: bool):
        super().__init__()
        if not causal and kernel % 2 == 0:
            raise ValueError(f"DepthwiseConv: a centred kernel must have odd size, got {kernel}")
        self.k, self.causal = kernel, causal
        # (k, C): tap j is a contiguous row, so each multiply-add is a plain broadcast over channels
        self.weight = nn.Parameter(torch.empty(kernel, channels).uniform_(-(kernel**-0.5), kernel**-0.5))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        left = self.k - 1 if self.causal else self.k // 2
        return _DepthwiseConvFn.apply(x, self.weight, self.bias, left)  # (B, T, C)
