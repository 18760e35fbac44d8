"""RetNet multi-scale retention, parallel form (Sun et al. 2023), with a key-padding mask.

Retention is causal: step n mixes steps m <= n with weight (q_n·k_m) gamma_h^(n-m). Each head has its
own decay gamma_h = 1 - 2^(-5-h), so heads see different time scales. Rotary phases on q and k make
q·k depend on n - m only (the xPos rotation; the gamma decay plays the role of xPos's scaling), so a
left-padded window gives the same result as the unpadded one. Windows are short (T <= 24), so the
O(T^2) parallel form is the fastest on CPU; no recurrent/chunked form is needed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .common import TimeDropout, apply_rotary, rotary_tables, zero_masked


class MultiScaleRetention(nn.Module):
    """Multi-scale retention: per-head decays, rotary q/k, per-head group norm, swish output gate."""

    def __init__(self, d: int, n_heads: int, value_factor: int = 2):
        super().__init__()
        self.h, self.dk, self.dv = n_heads, d // n_heads, d * value_factor // n_heads
        self.qkvg = nn.Linear(d, 2 * d + 2 * d * value_factor, bias=False)  # q, k, v, gate in one matmul
        self.out = nn.Linear(d * value_factor, d, bias=False)
        gammas = 1.0 - 2.0 ** (-5.0 - torch.arange(n_heads, dtype=torch.float32))
        self.register_buffer("log_gamma", gammas.log(), persistent=False)  # (H,)

    def decay_matrix(self, mask: Tensor, dtype: torch.dtype) -> Tensor:
        """D[b, h, n, m] = gamma_h^(n-m) for m <= n and m valid, else 0; rows scaled by 1/sqrt(row sum)."""
        T = mask.shape[1]
        idx = torch.arange(T, device=mask.device)
        diff = idx[:, None] - idx[None, :]  # (T, T) n - m
        causal = diff >= 0
        D = torch.exp(diff.clamp_min(0).to(torch.float32)[None] * self.log_gamma[:, None, None])  # (H, T, T)
        D = D * causal  # zero the future (exp of a clamped exponent is finite, so no inf * 0)
        D = D[None] * mask[:, None, None, :]  # (B, H, T, T) padded keys get weight 0
        D = D / D.sum(-1, keepdim=True).clamp_min(1e-6).sqrt()
        return D.to(dtype)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        B, T, _ = x.shape
        H, dk, dv = self.h, self.dk, self.dv
        qk, v, g = self.qkvg(x).split([2 * H * dk, H * dv, H * dv], dim=-1)
        qk = qk.view(B, T, 2, H, dk).permute(2, 0, 3, 1, 4)  # (2, B, H, T, dk)
        cos, sin = rotary_tables(T, dk, x.device, x.dtype)
        q, k = apply_rotary(qk, cos, sin).unbind(0)  # (B, H, T, dk) each
        v = v.view(B, T, H, dv).transpose(1, 2)  # (B, H, T, dv)
        s = (q @ k.transpose(-1, -2)).mul_(dk**-0.5) * self.decay_matrix(mask, x.dtype)  # (B, H, T, T)
        # RetNet's normaliser: keeps the retention output bounded; detached as in the reference.
        s = s / s.detach().abs().sum(-1, keepdim=True).clamp(min=1.0, max=5e4)
        y = F.rms_norm(s @ v, (dv,))  # (B, H, T, dv) group norm = per-head norm, no affine
        y = y.transpose(1, 2).reshape(B, T, H * dv)
        return self.out(F.silu(g) * y)  # (B, T, d)


class FeedForward(nn.Module):
    def __init__(self, d: int, mult: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, mult * d), nn.GELU(), nn.Linear(mult * d, d))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class RetentionBlock(nn.Module):
    """Pre-norm RetNet layer: x + MSR(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, d: int, n_heads: int, ff_mult: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.msr = MultiScaleRetention(d, n_heads)
        self.ffn = FeedForward(d, ff_mult)
        self.drop = TimeDropout(dropout)  # on the residual branches only

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = x + self.drop(self.msr(self.norm1(x), mask))
        x = x + self.drop(self.ffn(self.norm2(x)))
        return zero_masked(x, mask)


class RetentionEncoder(nn.Module):
    """A stack of retention blocks (causal: with `last` pooling the last step summarises the window)."""

    def __init__(self, d: int, n_layers: int, n_heads: int, ff_mult: int, dropout: float):
        super().__init__()
        self.blocks = nn.ModuleList(RetentionBlock(d, n_heads, ff_mult, dropout) for _ in range(n_layers))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x, mask)
        return x
