"""Every figure renders to a real PNG from real analysis results, deterministically; nothing to draw gives None."""

from __future__ import annotations

import io

import numpy as np
import pytest

from archsearch.analysis import plots
from archsearch.analysis.base import NotEnoughData
from archsearch.analysis.report import Settings, analyse
from archsearch.analysis.table import leaderboard_frame
from archsearch.campaign.proposals import ProposalStore
from archsearch.results import ResultsStore
from tests.archsearch.analysis.synth import fill


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    root = tmp_path_factory.mktemp("plots")
    fill(root, agents=("random", "tpe"), campaigns_per_agent=2, n=25, failed_every=8)
    frame = leaderboard_frame(ResultsStore(root).read(), ProposalStore(root).list())
    return frame, analyse(frame, settings=Settings(boot=100, draws=20, shuffles=0))["synth_front"]


def _size(png: bytes) -> tuple[int, int]:
    from PIL import Image

    return Image.open(io.BytesIO(png)).size


def test_all_figures_render(analysed):
    frame, a = analysed
    figs = {
        "best": plots.best_at_n_png(a.curves),
        "power": plots.power_law_png(a.curves, a.fits),
        "eta": plots.eta_bars_png(a.anova),
        "entropy": plots.entropy_png(a.entropy),
        "jsd": plots.jsd_png(a.jsd),
        "heat": plots.heatmap_png(frame),
    }
    for name, png in figs.items():
        assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n", name
        w, h = _size(png)
        assert w >= 300 and h >= 150, name
    assert plots.best_at_n_png(a.curves) == figs["best"]  # same input, same bytes


def test_nothing_to_draw_gives_none(analysed):
    frame, _ = analysed
    nd = NotEnoughData("x", "y")
    assert plots.best_at_n_png({"a": nd}) is None
    assert plots.power_law_png({}, {"a": nd}) is None
    assert plots.entropy_png({"a": nd}) is None and plots.jsd_png({}) is None
    assert plots.heatmap_png(frame.clear()) is None


def test_eta_bars_survive_an_interval_that_rounding_put_beside_its_mean(analysed):
    import dataclasses

    from archsearch.analysis.anova import Interval

    _, a = analysed
    name = next(iter(a.anova.balanced))
    tight = dataclasses.replace(a.anova.balanced[name], eta2=Interval(0.5, float(np.nextafter(0.5, 1)), 0.6))
    summary = dataclasses.replace(a.anova, balanced={**a.anova.balanced, name: tight})
    assert plots.eta_bars_png(summary)[:4] == b"\x89PNG"
