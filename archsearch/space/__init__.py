"""The search space: the configs that exist, their canonical form and stable ids, sampling and neighbours.

:class:`SearchSpace` (built by :func:`load_space` from a YAML file users edit) is what agents search
and what every experiment key is derived from. ``values`` holds the number rule and ``stable_id``;
``file_format`` reads and validates space files; ``search_space`` is the API on top.
"""

from archsearch.space.file_format import GROUPS, NAMED_SPACES, REQUIRED_ARCHITECTURE, SPACE_DIR, SpaceError
from archsearch.space.search_space import InvalidConfigError, SearchSpace, check_names, load_space, neighbours, sample
from archsearch.space.values import Dimension, Value, stable_id

__all__ = [
    "GROUPS",
    "NAMED_SPACES",
    "REQUIRED_ARCHITECTURE",
    "SPACE_DIR",
    "Dimension",
    "InvalidConfigError",
    "SearchSpace",
    "SpaceError",
    "Value",
    "check_names",
    "load_space",
    "neighbours",
    "sample",
    "stable_id",
]
