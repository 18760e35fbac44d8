"""Entropy and Jensen–Shannon divergence against scipy, window rule and coverage, timelines, degenerate input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy as scipy_entropy

from archsearch.analysis.base import NotEnoughData
from archsearch.analysis.diversity import (
    EntropyTimeline,
    JsdTimeline,
    default_window,
    entropy_bits,
    entropy_timeline,
    jsd_bits,
    jsd_timeline,
    windows,
)


def test_entropy_equals_scipy_in_bits():
    rng = np.random.default_rng(0)
    for _ in range(20):
        c = rng.integers(0, 9, 7).astype(float)
        c[0] += 1
        assert entropy_bits(c) == pytest.approx(scipy_entropy(c, base=2), abs=1e-12)
    assert entropy_bits([5]) == 0.0 and entropy_bits([1, 1, 1, 1]) == pytest.approx(2.0)


def test_jsd_equals_squared_scipy_distance_base2():
    rng = np.random.default_rng(1)
    for _ in range(50):
        p, q = rng.integers(0, 6, 9).astype(float), rng.integers(0, 6, 9).astype(float)
        p[0] += 1
        q[-1] += 1
        assert jsd_bits(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2, abs=1e-12)
    assert jsd_bits([1, 0], [0, 1]) == pytest.approx(1.0) and jsd_bits([2, 3], [4, 6]) == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(ValueError, match="same shape|one shape"):
        jsd_bits([1, 2], [1, 2, 3])


@pytest.mark.parametrize("n,window,step", [(3, 3, 1), (40, 5, 1), (100, 10, 2), (1000, 100, 25), (10469, 1047, 261)])
def test_default_window_scales_with_campaign_size(n, window, step):
    assert default_window(n) == (window, step)


def test_entropy_timeline_sees_a_switch_from_exploring_to_exploiting():
    cells = [f"c{i % 8}" for i in range(40)] + ["c0"] * 40  # explore 8 cells, then stick to one
    t = entropy_timeline(list(range(1, 81)), cells, [["x"] * 80, [str(i % 2) for i in range(80)]], window=8, step=8)
    assert isinstance(t, EntropyTimeline) and t.window == 8 and t.step == 8 and len(t.end) == 10
    assert t.architecture_bits[0] == pytest.approx(3.0) and t.architecture_bits[-1] == 0.0
    assert t.training_bits[0] == pytest.approx(0.5)  # mean of 0 bits (constant) and 1 bit (alternating)
    assert t.architecture_max_bits == pytest.approx(math.log2(8))


def test_pooled_campaigns_share_a_window():
    t = entropy_timeline([1, 1, 2, 2, 3, 3], ["a", "b", "a", "b", "a", "b"], window=1, step=1)
    assert t.architecture_bits == (1.0, 1.0, 1.0)


def test_jsd_timeline_specialization_then_convergence():
    a_cells = ["x"] * 10 + ["z"] * 10
    b_cells = ["y"] * 10 + ["z"] * 10
    idx = list(range(1, 21))
    t = jsd_timeline(("A", idx, a_cells), ("B", idx, b_cells), window=10, step=10)
    assert isinstance(t, JsdTimeline) and t.end == (10, 20)
    assert t.windowed == (pytest.approx(1.0), pytest.approx(0.0, abs=1e-12))
    assert t.cumulative[0] == pytest.approx(1.0) and t.final == pytest.approx(
        jensenshannon([10, 0, 10], [0, 10, 10], base=2) ** 2
    )


def test_degenerate_sequences():
    assert isinstance(entropy_timeline([1, 2], ["a", "b"]), NotEnoughData)
    assert isinstance(entropy_timeline([], []), NotEnoughData)
    assert isinstance(jsd_timeline(("A", [1, 2, 3], "abc"), ("B", [1], "a")), NotEnoughData)
    with pytest.raises(ValueError, match="one length"):
        entropy_timeline([1, 2, 3], ["a"])


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 3000),
    window=st.one_of(st.none(), st.integers(1, 400)),
    step=st.one_of(st.none(), st.integers(1, 100)),
)
def test_windows_cover_every_proposal_and_end_on_the_last(n, window, step):
    w0, s0 = default_window(n)
    if (step or s0) > min(window or w0, n) and min(window or w0, n) < n:
        with pytest.raises(ValueError, match="must not exceed the window"):
            windows(n, window, step)
        return
    w, _s, wins = windows(n, window, step)
    assert wins[0][0] == 1 and wins[-1][1] == n
    assert all(e - b + 1 == w for b, e in wins) and w <= n
    assert all(b2 > b1 for (b1, _), (b2, _) in zip(wins, wins[1:], strict=False))
    # no gap: every proposal is in a window
    assert all(b2 <= e1 + 1 for (_, e1), (b2, _) in zip(wins, wins[1:], strict=False))


def test_the_issue_case_133_proposals_ends_at_133_not_131():
    assert default_window(133) == (14, 3)
    t = entropy_timeline(list(range(1, 134)), [f"c{i % 5}" for i in range(133)])
    assert t.end[-1] == 133 and t.step == 3 and t.window == 14


def test_jsd_covers_both_agents_whole_sequences():
    a_cells = ["x"] * 10 + ["y"] * 10
    b_cells = ["x"] * 5 + ["z"] * 8  # the shorter agent
    t = jsd_timeline(("A", range(1, 21), a_cells), ("B", range(1, 14), b_cells), window=5, step=5)
    assert t.end[-1] == 20
    assert t.final == pytest.approx(jensenshannon([10, 10, 0], [5, 0, 8], base=2) ** 2)
    assert t.windowed[-1] is None  # B has nothing in proposals 16..20
