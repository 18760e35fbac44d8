"""Exploration over time: entropy of what agents propose, and how differently two agents search.

Time is proposal count. For one agent it is `agent_order` (its 1st, 2nd, ... experiment); an
agent's several campaigns are pooled at the same index, so a window holds what the agent proposed
as its experiments s..e in every campaign. "Overall" uses the campaign-wide `order`.

* Architecture entropy: Shannon entropy (bits) of the architecture-cell distribution in a window.
* Training entropy: the mean over training dimensions of each dimension's value entropy (bits).
  Not the entropy of the joint training tuple: with 900 training combinations almost every
  proposal in a window is a new tuple, so that entropy would be log2(window) whatever the agent
  does and show nothing.
* Specialization: the Jensen–Shannon divergence (base 2, in [0, 1]) between two agents' cell
  distributions, cumulative (everything up to index e) and windowed (indices s..e). It equals
  `scipy.spatial.distance.jensenshannon(p, q, base=2) ** 2`: scipy returns the distance, the
  square root of the divergence.

Window rule (defaults): window = max(5, ceil(P / 10)) proposals and step = max(1, window // 4),
where P is the highest proposal index in the sequence (for a JSD pair, the larger of the two
agents'); so every campaign size gives about 40 overlapping windows, each holding a tenth of the
campaign (windows never exceed P). Both are parameters; a step larger than the window is
refused (it would leave proposals out of every window). The last window always ends at P: when
the step does not land there, one more window (P − window + 1 .. P) is added, so every proposal
is in some window and the final cumulative JSD covers both agents' whole sequences. After the
shorter agent's last proposal its windowed JSD is None (nothing of it to compare).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from archsearch.analysis.base import NotEnoughData
from archsearch.analysis.table import cell_labels

MIN_PROPOSALS = 3


def entropy_bits(counts: Sequence[float]) -> float:
    """Shannon entropy in bits of a count (or probability) vector; 0 for a single category."""
    c = np.asarray(counts, dtype=float)
    if c.size == 0 or c.sum() <= 0:
        raise ValueError("entropy_bits: expected at least one positive count")
    p = c[c > 0] / c.sum()
    return float(max(0.0, -np.sum(p * np.log2(p))))


def jsd_bits(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen–Shannon divergence in bits between two count/probability vectors over the same categories."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if p.shape != q.shape or p.sum() <= 0 or q.sum() <= 0:
        raise ValueError(f"jsd_bits: expected two non-empty vectors of one shape, got {p.shape} and {q.shape}")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    return float(min(1.0, max(0.0, entropy_bits(m) - (entropy_bits(p) + entropy_bits(q)) / 2)))


def default_window(n: int) -> tuple[int, int]:
    """(window, step) for a sequence of `n` proposals; see the module docstring for the rule."""
    window = min(max(n, 1), max(5, math.ceil(n / 10)))
    return window, max(1, window // 4)


def windows(n: int, window: int | None = None, step: int | None = None) -> tuple[int, int, list[tuple[int, int]]]:
    """(window, step, [(start, end), ...]) over proposals 1..n, 1-based and inclusive; the last end is n."""
    w, s = default_window(n)
    w, s = window or w, step or s
    if w < 1 or s < 1:
        raise ValueError(f"window and step must be >= 1, got window={w}, step={s}")
    w = min(w, n)
    if s > w and w < n:  # (one window holding everything needs no step)
        raise ValueError(
            f"step ({s}) must not exceed the window ({w} proposals for P = {n}): the proposals between "
            "windows would be in none"
        )
    wins = [(start, start + w - 1) for start in range(1, n - w + 2, s)]
    if wins[-1][1] < n:  # the step skipped the tail: end on the last proposal
        wins.append((n - w + 1, n))
    return w, s, wins


@dataclass(frozen=True)
class EntropyTimeline:
    """Entropy per window: `end[i]` is the last proposal index of window i."""

    label: str
    window: int
    step: int
    start: tuple[int, ...]
    end: tuple[int, ...]
    architecture_bits: tuple[float, ...]
    training_bits: tuple[float, ...]
    architecture_max_bits: float  # log2 of the number of distinct cells seen (the ceiling of this curve)


def entropy_timeline(
    index: Sequence[int],
    cells: Sequence[Hashable],
    training: Sequence[Sequence[Hashable]] = (),
    *,
    label: str = "",
    window: int | None = None,
    step: int | None = None,
) -> EntropyTimeline | NotEnoughData:
    """Windowed entropies of proposals at positions `index` (1-based; repeats pool several campaigns).

    `training` holds one sequence per training dimension, aligned with `cells`.
    """
    idx = np.asarray(index, dtype=int)
    if len(cells) != idx.size or any(len(t) != idx.size for t in training):
        raise ValueError("entropy_timeline: index, cells and every training sequence must have one length")
    n = int(idx.max()) if idx.size else 0
    if n < MIN_PROPOSALS:
        return NotEnoughData(f"entropy timeline {label}".strip(), f"fewer than {MIN_PROPOSALS} proposals", n)
    w, s, wins = windows(n, window, step)
    cells = [str(c) for c in cells]
    training = [[str(v) for v in t] for t in training]
    arch, train = [], []
    for first, last in wins:
        sel = np.flatnonzero((idx >= first) & (idx <= last))
        arch.append(entropy_bits(list(Counter(cells[i] for i in sel).values())))
        if training:
            train.append(float(np.mean([entropy_bits(list(Counter(t[i] for i in sel).values())) for t in training])))
        else:
            train.append(0.0)
    return EntropyTimeline(
        label=label,
        window=w,
        step=s,
        start=tuple(a for a, _ in wins),
        end=tuple(b for _, b in wins),
        architecture_bits=tuple(arch),
        training_bits=tuple(train),
        architecture_max_bits=math.log2(max(1, len(set(cells)))),
    )


@dataclass(frozen=True)
class JsdTimeline:
    """JSD between two agents' cell distributions; None where one agent has no proposal in range."""

    a: str
    b: str
    window: int
    step: int
    end: tuple[int, ...]
    cumulative: tuple[float | None, ...]
    windowed: tuple[float | None, ...]

    @property
    def final(self) -> float | None:
        return next((v for v in reversed(self.cumulative) if v is not None), None)


def _counts(cells: list[str], sel: np.ndarray, support: list[str]) -> np.ndarray:
    c = Counter(cells[i] for i in sel)
    return np.array([c.get(k, 0) for k in support], dtype=float)


def jsd_timeline(
    a: tuple[str, Sequence[int], Sequence[Hashable]],
    b: tuple[str, Sequence[int], Sequence[Hashable]],
    *,
    window: int | None = None,
    step: int | None = None,
) -> JsdTimeline | NotEnoughData:
    """Cumulative and windowed JSD between agents `a` and `b`, each given as (name, index, cells)."""
    (na, ia, ca), (nb, ib, cb) = a, b
    ia, ib = np.asarray(ia, dtype=int), np.asarray(ib, dtype=int)
    ca, cb = [str(c) for c in ca], [str(c) for c in cb]
    last_a, last_b = int(ia.max()) if ia.size else 0, int(ib.max()) if ib.size else 0
    if min(last_a, last_b) < MIN_PROPOSALS:
        return NotEnoughData(
            f"JSD {na} vs {nb}", f"one agent has fewer than {MIN_PROPOSALS} proposals", min(last_a, last_b)
        )
    n = max(last_a, last_b)
    support = sorted(set(ca) | set(cb))
    w, s, wins = windows(n, window, step)
    cum, win = [], []
    for first, last in wins:
        for out, lo in ((cum, 1), (win, first)):
            p = _counts(ca, np.flatnonzero((ia >= lo) & (ia <= last)), support)
            q = _counts(cb, np.flatnonzero((ib >= lo) & (ib <= last)), support)
            out.append(jsd_bits(p, q) if p.sum() > 0 and q.sum() > 0 else None)
    return JsdTimeline(
        a=na, b=nb, window=w, step=s, end=tuple(e for _, e in wins), cumulative=tuple(cum), windowed=tuple(win)
    )


def diversity(
    frame: pl.DataFrame,
    arch_dims: Sequence[str],
    training_dims: Sequence[str] = (),
    *,
    window: int | None = None,
    step: int | None = None,
) -> tuple[dict[str, EntropyTimeline | NotEnoughData], dict[tuple[str, str], JsdTimeline | NotEnoughData]]:
    """Entropy timelines per agent and "overall", and JSD timelines per agent pair, from a leaderboard frame.

    Every proposal that got a result counts, failed or not: this measures what agents asked for.
    """
    arch = [d for d in arch_dims if d in frame.columns]
    train = [d for d in training_dims if d in frame.columns]
    if frame.height == 0 or not arch:
        nd = NotEnoughData("entropy timeline", "no proposals with architecture columns", frame.height)
        return {"overall": nd}, {}
    entropy: dict[str, EntropyTimeline | NotEnoughData] = {}
    per_agent: dict[str, tuple[list[int], list[str]]] = {}
    for agent in sorted(frame["agent"].unique().to_list(), key=str):
        sub = frame.filter(frame["agent"] == agent)
        cells = cell_labels(sub, arch)
        idx = sub["agent_order"].to_list()
        per_agent[str(agent)] = (idx, cells)
        entropy[str(agent)] = entropy_timeline(
            idx, cells, [cell_labels(sub, [d]) for d in train], label=str(agent), window=window, step=step
        )
    if len(per_agent) > 1:
        entropy["overall"] = entropy_timeline(
            frame["order"].to_list(),
            cell_labels(frame, arch),
            [cell_labels(frame, [d]) for d in train],
            label="overall",
            window=window,
            step=step,
        )
    names = sorted(per_agent)
    jsd = {
        (x, y): jsd_timeline((x, *per_agent[x]), (y, *per_agent[y]), window=window, step=step)
        for i, x in enumerate(names)
        for y in names[i + 1 :]
    }
    return entropy, jsd
