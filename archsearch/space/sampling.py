"""Drawing cells from a search space and stepping to neighbouring cells (what agents do with a space).

Split out of :mod:`archsearch.space` because this is search policy, not the space's definition:
the random agent samples, the local-search agents step to neighbours. The functions take a
``SearchSpace`` and use only its public API; ``SearchSpace.sample`` and ``.neighbours`` call them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from archsearch.space_values import Value, stable_id

if TYPE_CHECKING:
    from archsearch.space import SearchSpace


def sample(
    space: SearchSpace,
    rng: np.random.Generator,
    n: int,
    exclude: Iterable[str] = (),
    replace: bool = False,
) -> list[dict[str, Value]]:
    """``n`` configs uniform over the cells whose id is not in ``exclude`` (config ids).

    Without replacement the result has no duplicates. Indices are drawn, not configs: while
    fewer than half the cells are taken, rejection sampling costs O(n); past that the free
    cells are enumerated once. Raises if fewer than ``n`` free cells remain.
    """
    exclude = set(exclude)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n == 0:
        return []
    if replace or (len(exclude) + n) * 2 <= space.size:
        out = _sample_by_rejection(space, rng, n, exclude, replace)
        if out is not None:
            return out
    free = [i for i in range(space.size) if stable_id(space.config_at(i)) not in exclude]
    if len(free) < (1 if replace else n):
        raise ValueError(
            f"space {space.name!r}: asked for {n} new configs but only {len(free)} of {space.size:,} cells are free"
        )
    return [space.config_at(int(i)) for i in rng.choice(free, size=n, replace=replace)]


def _sample_by_rejection(
    space: SearchSpace, rng: np.random.Generator, n: int, exclude: set[str], replace: bool
) -> list[dict[str, Value]] | None:
    """Draw indices, skip used ones; None when it takes too long (most cells excluded)."""
    chosen: set[int] = set()
    out: list[dict[str, Value]] = []
    budget = 20 * n + 1_000
    while len(out) < n:
        if budget <= 0:
            return None
        batch = rng.integers(0, space.size, size=min(budget, 2 * (n - len(out)) + 8))
        budget -= len(batch)
        for i in batch.tolist():
            if not replace and i in chosen:
                continue
            cfg = space.config_at(i)
            if exclude and stable_id(cfg) in exclude:
                continue
            chosen.add(i)
            out.append(cfg)
            if len(out) == n:
                break
    return out


def neighbours(
    space: SearchSpace,
    config: Mapping[str, Any],
    dims: Iterable[str] | None = None,
    adjacent_only: bool = False,
) -> list[dict[str, Value]]:
    """Configs that differ from ``config`` in exactly one dimension (of ``dims``, default all).

    With ``adjacent_only``, a numeric dimension contributes only the next lower and next
    higher value (in numeric order); string dimensions have no order and give all others.
    """
    c = space.canonical(config)
    names = space.dims if dims is None else tuple(dims)
    known = set(space.dims)
    for dim in names:
        if dim not in known:
            raise KeyError(f"{space.source}: no dimension {dim!r}; dimensions: {list(space.dims)}")
    out = []
    for dim in (d for d in space.dims if d in names):  # space order
        d = space.dimension(dim)
        others = [v for v in d.values if v != c[dim]]
        if adjacent_only and d.numeric:
            ordered = sorted(d.values)
            i = ordered.index(c[dim])
            others = [ordered[j] for j in (i - 1, i + 1) if 0 <= j < len(ordered)]
        out.extend({**c, dim: v} for v in others)
    return out
