"""Build a head from a HeadConfig: input norm + projection D -> d_model, encoder, masked pooling, 1 logit."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from .common import NormLinear, TimeDropout, check_inputs, zero_masked
from .config import ENCODERS, HeadConfig
from .gru import BiGRUEncoder
from .hybrid import HybridEncoder
from .mamba import BiMambaEncoder
from .pooling import build_pooling
from .retention import RetentionEncoder
from .zipformer import ZipformerEncoder

# name -> builder(cfg) of an encoder mapping ((B, T, d), (B, T) mask) -> (B, T, d), zeros at padded steps.
ENCODER_BUILDERS: dict[str, Callable[[HeadConfig], nn.Module]] = {
    "zipformer": lambda c: ZipformerEncoder(
        c.d_model, c.layers, c.n_heads, c.ff_mult, c.conv_kernel, c.dropout, c.zipformer_rates
    ),
    "retention": lambda c: RetentionEncoder(c.d_model, c.layers, c.n_heads, c.ff_mult, c.dropout),
    "bimamba": lambda c: BiMambaEncoder(c.d_model, c.layers, c.d_state, c.conv_kernel, c.dropout),
    "hybrid": lambda c: HybridEncoder(c.d_model, c.layers, c.n_heads, c.ff_mult, c.d_state, c.conv_kernel, c.dropout),
    "gru": lambda c: BiGRUEncoder(c.d_model, c.layers, c.dropout),
}
assert tuple(ENCODER_BUILDERS) == ENCODERS


class TemporalHead(nn.Module):
    """Window of frozen features (B, T, D) + mask (B, T) -> collision logit (B,)."""

    def __init__(self, cfg: HeadConfig):
        super().__init__()
        self.cfg = cfg
        self.in_proj = NormLinear(cfg.input_dim, cfg.d_model)
        self.drop = TimeDropout(cfg.dropout)
        self.encoder = ENCODER_BUILDERS[cfg.encoder](cfg)
        self.out_norm = nn.LayerNorm(cfg.d_model)
        self.pool = build_pooling(cfg.pooling, cfg.d_model, cfg.n_heads, cfg.dropout)
        self.classifier = nn.Linear(cfg.d_model, 1)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Logits (B,). Padded steps (mask False) may hold any finite values: they never reach the output."""
        mask = check_inputs(x, mask, self.cfg.input_dim)
        return self.forward_projected(self.project(x), mask)

    def project(self, x: Tensor) -> Tensor:
        """The input layer, step by step: (..., D) -> (..., d). Each step is normalised and projected on its own,
        so a trainer may project each distinct feature row once and gather windows afterwards."""
        return self.in_proj(x)

    def forward_projected(self, h: Tensor, mask: Tensor) -> Tensor:
        """Everything after the input layer: projected steps (B, T, d) + mask (B, T) -> logits (B,)."""
        h = zero_masked(self.drop(h), mask)  # (B, T, d)
        h = zero_masked(self.out_norm(self.encoder(h, mask)), mask)  # (B, T, d)
        return self.classifier(self.pool(h, mask)).squeeze(-1)  # (B,)


def build_head(cfg: HeadConfig) -> TemporalHead:
    """The head for `cfg` (parameters drawn from torch's global RNG: seed it first for reproducibility)."""
    if not isinstance(cfg, HeadConfig):
        raise TypeError(f"build_head: expected a HeadConfig, got {type(cfg).__name__}")
    return TemporalHead(cfg)


def count_parameters(module: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable) scalars in module."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
