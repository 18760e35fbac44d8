"""The campaign's search space: the project's space, optionally restricted to some backbones.

Restricting (e.g. to the backbones whose features exist) keeps config ids unchanged -- ids hash the
config, not the space -- so results stay comparable with campaigns over the full space.
"""

from __future__ import annotations

from archsearch.config import ConfigError, ProjectConfig
from archsearch.space import SearchSpace


def restrict_backbones(
    space: SearchSpace, backbones: tuple[str, ...] | list[str], where: str = "backbones"
) -> SearchSpace:
    """The sub-space whose backbone dimension holds only ``backbones`` (space order kept)."""
    allowed = space.values("backbone")
    unknown = [b for b in backbones if b not in allowed]
    if unknown or not backbones:
        raise ConfigError(
            f"{where}: backbone(s) {unknown or list(backbones)} are not in space {space.name!r}; "
            f"its backbones: {list(allowed)}"
        )
    raw = space.to_dict()
    raw["groups"]["architecture"]["backbone"] = [b for b in allowed if b in backbones]
    return SearchSpace.from_dict(raw, f"{space.source} (backbones {list(backbones)})")


def campaign_space(project: ProjectConfig) -> SearchSpace:
    """The project's space, restricted to ``campaign.backbones`` when set."""
    space = project.search_space()
    backbones = project.campaign.backbones
    if backbones is None:
        return space
    return restrict_backbones(space, backbones, f"{project.source}: campaign.backbones")
