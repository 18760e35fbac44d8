"""Masked poolings (B, T, d) -> (B, d): attention (V-JEPA attentive probe), mean, last valid step, max.

A window with no valid step pools to zeros (mean/max/last) or to a constant that does not depend on the
input (attention): finite, never NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .common import TimeDropout, attention, key_padding_bias, last_valid_index


class MeanPool(nn.Module):
    """Average over valid steps."""

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        m = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
        return (x * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, d)


class MaxPool(nn.Module):
    """Channel-wise max over valid steps."""

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        neg = torch.finfo(x.dtype).min
        out = x.masked_fill(~mask.unsqueeze(-1), neg).amax(dim=1)  # (B, d)
        return torch.where(mask.any(1, keepdim=True), out, torch.zeros_like(out))


class LastPool(nn.Module):
    """The last valid step: with left padding that is the newest frame, with right padding the last real one."""

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        idx = last_valid_index(mask)  # (B,)
        out = x[torch.arange(x.shape[0], device=x.device), idx]  # (B, d)
        return torch.where(mask.any(1, keepdim=True), out, torch.zeros_like(out))


class AttentivePool(nn.Module):
    """A learned query cross-attends to the steps, then an MLP refines it (V-JEPA 2's attentive probe, one query)."""

    def __init__(self, d: int, n_heads: int, mlp_mult: int = 2, dropout: float = 0.0):
        super().__init__()
        self.n_heads = n_heads
        self.query = nn.Parameter(torch.randn(1, 1, d) * 0.02)  # (1, 1, d)
        self.norm_kv = nn.LayerNorm(d)
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.proj = nn.Linear(d, d)
        self.norm_mlp = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_mult * d), nn.GELU(), nn.Linear(mlp_mult * d, d))
        self.drop = TimeDropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        B, T, d = x.shape
        H = self.n_heads
        q = self.q(self.query).view(1, 1, H, d // H).transpose(1, 2).expand(B, H, 1, d // H)  # (B, H, 1, dh)
        k, v = self.kv(self.norm_kv(x)).view(B, T, 2, H, d // H).permute(2, 0, 3, 1, 4)  # 2 x (B, H, T, dh)
        att = attention(q, k, v, key_padding_bias(mask, x.dtype))  # (B, H, 1, dh)
        out = self.query.squeeze(1) + self.drop(self.proj(att.reshape(B, d)))  # (B, d)
        return out + self.drop(self.mlp(self.norm_mlp(out)))


def build_pooling(name: str, d: int, n_heads: int, dropout: float) -> nn.Module:
    if name == "attention":
        return AttentivePool(d, n_heads, dropout=dropout)
    if name == "mean":
        return MeanPool()
    if name == "last":
        return LastPool()
    if name == "max":
        return MaxPool()
    raise ValueError(f"pooling: expected one of attention, mean, last, max, got {name!r}")
