"""The report end to end on synthetic campaigns: sections, n and CIs, test only for the val-selected best, files."""

from __future__ import annotations

import polars as pl
import pytest

from archsearch.analysis.report import Settings, analyse, build_report, write_report
from archsearch.analysis.table import leaderboard_frame
from archsearch.campaign.proposals import ProposalStore
from archsearch.results import ExperimentResult, ResultsStore
from archsearch.space import load_space
from tests.archsearch.analysis.synth import fill, metrics

FAST = Settings(boot=100, draws=20, shuffles=3)


def _frame(root):
    return leaderboard_frame(ResultsStore(root).read(), ProposalStore(root).list())


@pytest.fixture(scope="module")
def two_tasks(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    fill(root, agents=("random", "architecture_first"), n=30, datasets=("synth_front", "synth_side"), failed_every=10)
    fill(root, agents=("tpe",), campaigns_per_agent=2, n=20, seed=5)
    frame = _frame(root)
    return frame, build_report(frame, settings=FAST, generated_at="T")


def test_report_sections_numbers_and_cross_task(two_tasks):
    frame, r = two_tasks
    md = r.markdown
    for section in (
        "## Dataset: synth_front",
        "## Dataset: synth_side",
        "ANOVA on validation mAP",
        "Type II",
        "Balanced variant",
        "**Architecture share**",
        "Within-architecture share",
        "### Best-at-N",
        "### Convergence: power law",
        "JSD cumulative",
        "## Cross-task",
        "Winner changes across datasets",
    ):
        assert section in md, section
    assert "| N=10 | N=25 |" in md and "(k = 2)" in md and "no CI" not in md.split("### Best-at-N")[1][:20]
    assert "Single trajectory, no interval" in md and "From-scratch baseline: the `random` agent" in md
    assert r.sample_sizes == {"synth_front": {"results": 100, "ok": 94}, "synth_side": {"results": 60, "ok": 54}}
    assert len(r.images) == 12 and all(f"![{n}]({n})" in md for n in r.images)
    assert "data:image/png;base64," in r.ui_markdown and "data:image" not in md
    assert build_report(frame, settings=FAST, generated_at="T").markdown == md  # deterministic


def test_test_map_appears_only_for_the_validation_selected_best(two_tasks):
    frame, report = two_tasks
    a = analyse(frame.filter(pl.col("dataset") == "synth_front"), settings=FAST)["synth_front"]
    ok = frame.filter((pl.col("dataset") == "synth_front") & (pl.col("status") == "ok"))
    by_val = ok.sort("val_map", descending=True).row(0, named=True)
    by_test = ok.sort("test_map", descending=True).row(0, named=True)
    assert a.best["config_id"] == by_val["config_id"]
    md = report.markdown
    assert f"val mAP {by_val['val_map']:.4f}, test mAP {by_val['test_map']:.4f}" in md
    if by_test["config_id"] != by_val["config_id"]:
        assert f"{by_test['test_map']:.4f}" not in md.split("### Best config")[1].split("###")[0]


def test_asymptote_flag_reaches_the_report_header(tmp_path):
    """Scores that climb like the reference study's fit (a = 1.031) must be flagged, not printed silently."""
    space = load_space("demo")
    store = ResultsStore(tmp_path)
    for i, index in enumerate(range(0, 4000, 100), start=1):
        cfg = space.config_at(index)
        score = 1.031 - 0.077 * i**-0.106
        store.write(
            ExperimentResult(
                config_id=space.config_id(cfg),
                config=cfg,
                agent="claude",
                round=0,
                campaign="c",
                seed=0,
                dataset="d",
                val=metrics(score),
                test=metrics(score),
                created_at=f"2025-01-01T00:{i:02d}:00+00:00",
            )
        )
    r = build_report(_frame(tmp_path), settings=FAST)
    assert len(r.flags) == 1 and "d / claude" in r.flags[0] and "exceeds the metric's maximum" in r.flags[0]
    assert "**Flags**" in r.markdown and "⚠ > max" in r.markdown


def test_degenerate_stores_render_sentences_not_nans(tmp_path):
    empty = build_report(_frame(tmp_path), settings=FAST)
    assert "0 results" in empty.markdown and empty.images == {}
    fill(tmp_path, agents=("random",), n=2)
    tiny = build_report(_frame(tmp_path), settings=FAST)
    assert "not enough data" in tiny.markdown and "nan" not in tiny.markdown.lower()
    assert "No agent has reached N = 10 yet" in tiny.markdown


def test_write_report_latest_and_timestamped(two_tasks, tmp_path):
    _, r = two_tasks
    path = write_report(r, tmp_path, "20250101T000000Z")
    assert path == tmp_path / "reports" / "latest" / "report.md" and path.read_text() == r.markdown
    for folder in ("latest", "20250101T000000Z"):
        assert sorted(p.name for p in (tmp_path / "reports" / folder).glob("*.png")) == sorted(r.images)
    (tmp_path / "reports" / "latest" / "gone.png").write_bytes(b"x")
    write_report(r, tmp_path, "20250101T000001Z")
    assert not (tmp_path / "reports" / "latest" / "gone.png").exists()


def test_results_on_different_splits_are_flagged_not_pooled_silently():
    import polars as pl

    from archsearch.analysis.report import split_flags

    frame = pl.DataFrame({"dataset": ["a", "a", "a", "b", "b"], "split_hash": ["h1", "h1", "h2", "h3", "h3"]})
    flags = split_flags(frame)
    assert len(flags) == 1 and flags[0].startswith("a: the 3 results were scored on 2 different splits")
    assert split_flags(frame.filter(pl.col("dataset") == "b")) == []
    assert (
        split_flags(
            pl.DataFrame(
                {"dataset": ["a"], "split_hash": [None]}, schema={"dataset": pl.String, "split_hash": pl.String}
            )
        )
        == []
    )


def test_unequal_campaigns_are_compared_only_where_all_reached_and_the_report_says_so(tmp_path):
    fill(tmp_path, agents=("random", "tpe"), campaigns_per_agent=2, n=30, seed=2)
    frame = _frame(tmp_path)
    short = "synth_front-tpe-1"
    frame = frame.filter((pl.col("campaign") != short) | (pl.col("order") <= 12))  # one tpe campaign stopped at 12
    md = build_report(frame, settings=FAST).markdown
    best = md.split("### Best-at-N")[1].split("###")[0]
    assert "only at the N every one of its campaigns reached" in best and "Student-t interval over campaigns" in best
    assert "Caveat at small k" in best and "| N all reached | N max |" in best
    tpe_row = next(line for line in best.splitlines() if line.startswith("| tpe |"))
    assert tpe_row.startswith("| tpe | 2 | 12 | 30 |") and "not reached by every campaign (1 of 2)" in tpe_row
    assert "best-at-N intervals: Student-t interval over campaigns" in md


def test_bootstrap_intervals_are_a_setting_and_named_in_the_report(two_tasks):
    frame, _ = two_tasks
    one = frame.filter(pl.col("dataset") == "synth_side")
    md = build_report(one, settings=Settings(boot=100, draws=5, shuffles=0, interval="bootstrap")).markdown
    assert "percentile bootstrap over whole campaigns, 100 resamples" in md and "prefer the t interval" in md
    with pytest.raises(ValueError, match="Settings.interval"):
        Settings(interval="bca")


def test_two_way_section_on_a_campaign_with_empty_cells_uses_the_designs_rank(tmp_path):
    fill(tmp_path, agents=("random",), n=30, seed=1)  # 30 runs over 6 × 5 backbone × encoder cells: some empty
    frame = _frame(tmp_path)
    two = analyse(frame, settings=FAST)["synth_front"].anova.two_way
    assert two.empty_cells > 0
    connected_rank = 6 + 5 - 1  # 1 + backbone + encoder on a connected design
    assert two.terms[2].df == two.cells_observed - connected_rank < 4 * 5  # statsmodels would count (6-1)(5-1)
    section = build_report(frame, settings=FAST).markdown.split("Two-way ANOVA")[1].split("**Architecture share")[0]
    assert f"{two.cells_observed} of 30 backbone × encoder cells observed" in section
    assert f"| backbone:encoder | {two.terms[2].df} | " in section
