"""The study's lesson as an offline strategy: find the architecture first, then tune inside it.

Architecture explains most of the variance of AP (the study's η² over backbone × encoder cells), so
spending early runs on learning-rate tweaks of a mediocre cell is waste. Three phases, chosen per
proposal from the history (plus this round's earlier proposals), so the rule is replayable:

1. **cover** -- while some architecture cell has no run *and* fewer than ``cover_budget`` configs
   have run: an unrun cell (rng-shuffled order) with the space's default training values (other
   architecture dimensions, when ``arch_dims`` is a subset, at their first listed value).
   ``cover_budget`` defaults to #cells, or ``min(#cells, ceil(budget / 2))`` when ``budget`` is given.
2. **halving** -- successive halving over the scored cells (ranked by best val_map, C of them): rung
   k = 1, 2, ... keeps the top ``max(1, ceil(C / eta**k))`` cells and wants each to hold
   ``1 + k * per_rung`` configs; the lowest rung with a short cell gets a random training variation
   of that cell. Phase 2 ends once the rung with a single survivor is full.
3. **local** -- hill climbing: a one-dimension change (``space.neighbours`` over the non-architecture
   dims, adjacent numeric values by default) of the best config that still has an unrun neighbour.

If all that is exhausted (or nothing has scored yet after covering), a uniform random new cell.
Failed runs count as covered/used (never re-proposed) but never as scores.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from archsearch.agents.base import (
    Agent,
    AgentProposal,
    RoundContext,
    canonical_or_none,
    restrict,
    sample_new,
    scored,
    seen_ids,
)
from archsearch.results import AgentView
from archsearch.space import SearchSpace, Value

Cell = tuple[Value, ...]


class ArchitectureFirstAgent(Agent):
    """Cover architecture cells with default training, successive-halve the best, hill-climb training."""

    name = "architecture_first"

    def __init__(
        self,
        arch_dims: Sequence[str] | None = None,
        budget: int | None = None,
        cover_budget: int | None = None,
        eta: int = 3,
        per_rung: int = 1,
        adjacent_only: bool = True,
    ):
        if eta < 2 or per_rung < 1:
            raise ValueError(f"ArchitectureFirstAgent: expected eta >= 2 and per_rung >= 1, got {eta}, {per_rung}")
        for k, v in (("budget", budget), ("cover_budget", cover_budget)):
            if v is not None and v < 0:
                raise ValueError(f"ArchitectureFirstAgent: {k} must be >= 0, got {v}")
        self.arch_dims = None if arch_dims is None else tuple(arch_dims)
        self.budget, self.cover_budget = budget, cover_budget
        self.eta, self.per_rung, self.adjacent_only = eta, per_rung, adjacent_only

    def _dims(self, space: SearchSpace) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(architecture dims that define a cell, the other dims tuned inside a cell), in space order."""
        arch = space.group_dims("architecture") if self.arch_dims is None else self.arch_dims
        unknown = [d for d in arch if d not in space.dims]
        if unknown or not arch:
            raise ValueError(
                f"ArchitectureFirstAgent: arch_dims {list(arch)} must be non-empty dimensions of "
                f"space {space.name!r} ({list(space.dims)})"
            )
        arch = tuple(d for d in space.dims if d in arch)
        return arch, tuple(d for d in space.dims if d not in arch)

    def cover_limit(self, n_cells: int) -> int:
        """How many runs phase 1 may use (see the module docstring)."""
        if self.cover_budget is not None:
            return min(n_cells, self.cover_budget)
        if self.budget is not None:
            return min(n_cells, math.ceil(self.budget / 2))
        return n_cells

    def propose(
        self,
        history: Sequence[AgentView],
        space: SearchSpace,
        n: int,
        rng: np.random.Generator,
        context: RoundContext | None = None,
    ) -> list[AgentProposal]:
        arch, inner = self._dims(space)
        cells: list[Cell] = list(itertools.product(*(space.values(d) for d in arch)))
        order = [cells[int(i)] for i in rng.permutation(len(cells))]
        cover = self.cover_limit(len(cells))
        seen = seen_ids(history, space)
        ranked = scored(history, space)  # ok configs, best first
        cell_of = lambda c: tuple(c[d] for d in arch)
        ids_in_cell: dict[Cell, set[str]] = {}
        for v in history:
            c = canonical_or_none(space, v.config)
            if c is not None:
                ids_in_cell.setdefault(cell_of(c), set()).add(space.config_id(c))
        n_runs = sum(len(s) for s in ids_in_cell.values())

        out: list[AgentProposal] = []
        while len(out) < n:
            used = n_runs + len(out)
            prop = (
                self._cover(space, arch, order, ids_in_cell, used, cover, len(cells))
                or self._halving(space, arch, ranked, ids_in_cell, seen, rng, cell_of)
                or self._local(space, inner, ranked, seen, rng)
            )
            if prop is None:
                rest = sample_new(space, rng, 1, seen)
                if not rest:
                    break  # the space is exhausted
                prop = AgentProposal(
                    rest[0],
                    "architecture_first fallback: uniform random new cell (cover, halving "
                    "and local search have nothing left to propose)",
                )
            cid = space.config_id(prop.config)
            seen.add(cid)
            ids_in_cell.setdefault(cell_of(prop.config), set()).add(cid)
            out.append(prop)
        return out

    # ----------------------------------------------------------------------------- phases
    def _cover(self, space, arch, order, ids_in_cell, used, cover, n_cells) -> AgentProposal | None:
        covered = sum(1 for c in order if ids_in_cell.get(c))
        if covered >= n_cells or used >= cover:
            return None
        cell = next(c for c in order if not ids_in_cell.get(c))
        config = {d: space.values(d)[0] for d in space.dims}
        config.update(space.default_training())
        config.update(zip(arch, cell, strict=True))
        why = (
            f"architecture_first phase 1 (cover): architecture cell {_fmt_cell(arch, cell)} has no run yet "
            f"({covered}/{n_cells} cells covered, {used}/{cover} cover runs used); default training values"
        )
        return AgentProposal(space.canonical(config), why)

    def _halving(self, space, arch, ranked, ids_in_cell, seen, rng, cell_of) -> AgentProposal | None:
        best: dict[Cell, float] = {}
        for s in ranked:  # best first, so the first score seen per cell is its best
            best.setdefault(cell_of(s.config), s.val_map)
        cells = list(best)  # ranked by best val_map
        if not cells:
            return None
        k = 1
        while True:
            keep = max(1, math.ceil(len(cells) / self.eta**k))
            quota = 1 + k * self.per_rung
            for rank, cell in enumerate(cells[:keep]):
                if len(ids_in_cell.get(cell, ())) >= quota:
                    continue
                sub = restrict(space, dict(zip(arch, cell, strict=True)))
                new = sample_new(sub, rng, 1, seen)
                if not new:
                    continue  # the cell is exhausted; its quota cannot be met
                why = (
                    f"architecture_first phase 2 (successive halving, rung {k}): cell {_fmt_cell(arch, cell)} "
                    f"ranks {rank + 1}/{len(cells)} by best val_map {best[cell]:.4f}; the top {keep} cells get "
                    f"{quota} configs each; this is a random training variation"
                )
                return AgentProposal(space.canonical(new[0]), why)
            if keep == 1:
                return None
            k += 1

    def _local(self, space, inner, ranked, seen, rng) -> AgentProposal | None:
        if not inner:
            return None
        for rank, parent in enumerate(ranked):
            cands = [
                c
                for c in space.neighbours(parent.config, dims=inner, adjacent_only=self.adjacent_only)
                if space.config_id(c) not in seen
            ]
            if not cands:
                continue
            child = cands[int(rng.integers(len(cands)))]
            dim = next(d for d in inner if child[d] != parent.config[d])
            why = (
                f"architecture_first phase 3 (local search): change {dim} {parent.config[dim]!r} -> {child[dim]!r} "
                f"in the #{rank + 1} config {parent.config_id} (val_map {parent.val_map:.4f}), the best with an "
                f"unrun neighbour"
            )
            return AgentProposal(child, why)
        return None


def _fmt_cell(dims: Sequence[str], cell: Cell) -> str:
    return "(" + ", ".join(f"{d}={v}" for d, v in zip(dims, cell, strict=True)) + ")"
