"""Head configuration and the names the search space may use (no torch import, so it is cheap to load).

One frozen dataclass describes a whole head; the search space varies only `encoder` and `pooling`,
the other fields are defaults sized for the speed target (~5,000 training samples/s forward+backward
on a 2-core CPU at T=20, D=1024), so thousands of heads can be trained over cached features.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ENCODERS: tuple[str, ...] = ("zipformer", "retention", "bimamba", "hybrid", "gru")
POOLINGS: tuple[str, ...] = ("attention", "mean", "last", "max")

# Layers per encoder when HeadConfig.n_layers is None. For zipformer it is layers *per stack*
# (stacks at rates 1, 2, 1 -> three layers in all); hybrid alternates retention and mamba blocks.
DEFAULT_LAYERS: dict[str, int] = {"zipformer": 1, "retention": 2, "bimamba": 2, "hybrid": 2, "gru": 1}


class HeadConfigError(ValueError):
    """A HeadConfig field is out of range; the message names the field, the value and what was expected."""


@dataclass(frozen=True)
class HeadConfig:
    """Everything needed to build one temporal head: input norm/projection -> encoder -> pooling -> 1 logit."""

    encoder: str
    pooling: str
    input_dim: int
    d_model: int = 32  # width of every encoder; 32 gives ~2.8k-7k training samples/s per CPU core
    n_layers: int | None = None  # None -> DEFAULT_LAYERS[encoder]
    n_heads: int = 4  # attention / retention heads (d_model must be divisible by it)
    dropout: float = 0.1
    ff_mult: int = 2  # feed-forward expansion
    d_state: int = 8  # mamba state size per channel
    conv_kernel: int = 4  # mamba causal conv width; zipformer uses the next odd size (centred conv)
    zipformer_rates: tuple[int, ...] = field(default=(1, 2, 1))  # one stack per rate

    def __post_init__(self) -> None:
        def bad(name: str, expected: str) -> HeadConfigError:
            return HeadConfigError(f"HeadConfig field '{name}': expected {expected}, got {getattr(self, name)!r}")

        if self.encoder not in ENCODERS:
            raise bad("encoder", f"one of {ENCODERS}")
        if self.pooling not in POOLINGS:
            raise bad("pooling", f"one of {POOLINGS}")
        for name in ("input_dim", "d_model", "n_heads", "ff_mult", "d_state", "conv_kernel"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise bad(name, "a positive integer")
        if self.n_layers is not None and (not isinstance(self.n_layers, int) or self.n_layers < 1):
            raise bad("n_layers", "None or a positive integer")
        if self.d_model % self.n_heads:
            raise bad("d_model", f"a multiple of n_heads={self.n_heads}")
        if self.encoder == "gru" and self.d_model % 2:
            raise bad("d_model", "an even number for the bidirectional gru (d_model/2 per direction)")
        if not (isinstance(self.dropout, (int, float)) and 0.0 <= self.dropout < 1.0):
            raise bad("dropout", "a number in [0, 1)")
        rates = self.zipformer_rates
        if not (isinstance(rates, tuple) and rates and all(isinstance(r, int) and r >= 1 for r in rates)):
            raise bad("zipformer_rates", "a non-empty tuple of positive integers, e.g. (1, 2, 1)")

    @property
    def layers(self) -> int:
        """The resolved number of layers (n_layers, or the encoder's default)."""
        return self.n_layers if self.n_layers is not None else DEFAULT_LAYERS[self.encoder]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["zipformer_rates"] = list(self.zipformer_rates)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HeadConfig:
        d = dict(d)
        if "zipformer_rates" in d:
            d["zipformer_rates"] = tuple(d["zipformer_rates"])
        return cls(**d)
