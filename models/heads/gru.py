"""Bidirectional GRU encoder that never reads a padded step.

Instead of packed sequences (which need the lengths on the CPU, a device sync on CUDA, and run a
slower per-step kernel), each direction gathers its valid steps to the front (`compact_order`), runs a
plain unidirectional nn.GRU over the right-padded result, and scatters the outputs back. Trailing
padding cannot reach an earlier output of a forward recurrence, so valid outputs are exact for left,
right or any other padding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .common import TimeDropout, compact_order, zero_masked


def _permute(x: Tensor, order: Tensor) -> Tensor:
    """x (B, T, d) gathered along T by order (B, T)."""
    return x.gather(1, order.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class BiGRUEncoder(nn.Module):
    """n_layers of (forward GRU ‖ backward GRU), d/2 hidden units each, so the output width stays d."""

    def __init__(self, d: int, n_layers: int, dropout: float):
        super().__init__()
        self.fwd = nn.ModuleList(nn.GRU(d, d // 2, batch_first=True) for _ in range(n_layers))
        self.bwd = nn.ModuleList(nn.GRU(d, d // 2, batch_first=True) for _ in range(n_layers))
        self.drop = TimeDropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        order_f = compact_order(mask)  # (B, T) valid steps first, in time order
        order_b = compact_order(mask, reverse=True)  # valid steps first, newest first
        inv_f, inv_b = order_f.argsort(dim=1), order_b.argsort(dim=1)
        for i, (gf, gb) in enumerate(zip(self.fwd, self.bwd)):
            if i:
                x = self.drop(x)
            yf = _permute(gf(_permute(x, order_f))[0], inv_f)  # (B, T, d/2)
            yb = _permute(gb(_permute(x, order_b))[0], inv_b)
            x = zero_masked(torch.cat([yf, yb], dim=-1), mask)  # (B, T, d)
        return x
