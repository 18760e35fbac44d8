"""The project's search space, checked when the config loads: every name must be one we can run.

Without this an encoder typo in a space file (``zipformr``) was accepted, every experiment that drew
it failed, and the run still exited 0. Here the space file is read with the config and each
dimension is checked against what implements it: backbones against the backbone registry (plus the
configured ``precomputed:<name>`` features), encoders and poolings against the head registry, losses
against the loss registry, and the dimension names against those an experiment reads (a training
dimension it does not read would be searched yet never change anything). ``campaign.backbones``
must be backbones of the space whose features are configured.
"""

from __future__ import annotations

from collections.abc import Iterable

from archsearch.common import did_you_mean
from archsearch.config.errors import config_error
from archsearch.space import SearchSpace, SpaceError, check_names, load_space

# The dimensions an experiment reads (archsearch.experiments.spec.CONFIG_KEYS, plus the backbone).
EXPERIMENT_DIMENSIONS = ("backbone", "encoder", "pooling", "loss", "lr", "weight_decay", "window_length", "epochs")
# Numeric dimensions and the values that make sense for them: (lowest allowed, whether the lowest is allowed, int).
NUMERIC_RULES = {
    "lr": (0.0, False, False),
    "weight_decay": (0.0, True, False),
    "window_length": (1, True, True),
    "epochs": (1, True, True),
}


def registries(precomputed: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Implemented names per dimension: backbones, encoders, poolings, losses."""
    from models.backbones.registry import available_backbones
    from models.heads import ENCODERS, POOLINGS
    from models.loss_names import LOSSES

    backbones = (*available_backbones(), *(f"precomputed:{n}" for n in precomputed))
    return {"backbone": tuple(backbones), "encoder": tuple(ENCODERS), "pooling": tuple(POOLINGS), "loss": LOSSES}


def check_space_dimensions(space: SearchSpace) -> None:
    """Every dimension is one experiments read, and numeric ones hold sensible values."""
    for d in space.dimensions:
        key = f"groups.{d.group}.{d.name}"
        if d.name not in EXPERIMENT_DIMENSIONS:
            raise SpaceError(
                f"{space.source}: {key}: unknown dimension{did_you_mean(d.name, EXPERIMENT_DIMENSIONS)}; "
                f"experiments read: {', '.join(EXPERIMENT_DIMENSIONS)}"
            )
        rule = NUMERIC_RULES.get(d.name)
        if rule is None:
            continue
        lo, inclusive, integral = rule
        for i, v in enumerate(d.values):
            ok = isinstance(v, int | float) and not isinstance(v, str) and (v >= lo if inclusive else v > lo)
            if ok and integral:
                ok = float(v).is_integer()
            if not ok:
                what = "an integer" if integral else "a number"
                raise SpaceError(
                    f"{space.source}: {key}[{i}]: expected {what} {'>=' if inclusive else '>'} {lo:g}, got {v!r}"
                )


def load_project_space(
    source: str,
    space: str,
    backbones: tuple[str, ...],
    precomputed: Iterable[str],
    campaign_backbones: tuple[str, ...] | None,
) -> SearchSpace:
    """Load the configured space and check its names; errors name the config file and the space file."""
    try:
        loaded = load_space(space)
        check_space_dimensions(loaded)
        names = registries(precomputed)
        check_names(
            loaded,
            backbones=names["backbone"],
            encoders=names["encoder"],
            poolings=names["pooling"],
            losses=names["loss"],
        )
    except SpaceError as exc:
        raise config_error(source, "space", str(exc)) from exc
    if campaign_backbones is not None:
        in_space = loaded.values("backbone")
        for i, name in enumerate(campaign_backbones):
            if name not in in_space:
                raise config_error(
                    source,
                    f"campaign.backbones[{i}]",
                    f"{name!r} is not a backbone of space "
                    f"{loaded.name!r}{did_you_mean(name, in_space)}; its backbones: {list(in_space)}",
                )
            if name not in backbones:
                raise config_error(
                    source,
                    f"campaign.backbones[{i}]",
                    f"{name!r} is not in `backbones` {list(backbones)}: add it there so its features get extracted",
                )
    return loaded
