"""Hybrid encoder: retention and bidirectional Mamba blocks interleaved (R, M, R, M, ...).

Retention gives content-based mixing with fixed per-head decays; the Mamba block gives an
input-dependent (selective) recurrence in both directions, so the pair covers what either lacks.
"""

from __future__ import annotations

from torch import Tensor, nn

from .mamba import BiMambaBlock
from .retention import RetentionBlock


class HybridEncoder(nn.Module):
    """n_layers blocks alternating retention (even index) and bidirectional Mamba (odd index)."""

    def __init__(
        self, d: int, n_layers: int, n_heads: int, ff_mult: int, d_state: int, conv_kernel: int, dropout: float
    ):
        super().__init__()
        self.blocks = nn.ModuleList(
            RetentionBlock(d, n_heads, ff_mult, dropout)
            if i % 2 == 0
            else BiMambaBlock(d, d_state, conv_kernel=conv_kernel, dropout=dropout)
            for i in range(n_layers)
        )

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x, mask)
        return x
