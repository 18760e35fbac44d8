"""The study report on filled results stores: sections, intervals, and a replication table whose verdicts follow
the planted effects and never outrun their intervals."""

from __future__ import annotations

import re

import pytest

from archsearch.analysis import leaderboard_frame
from archsearch.campaign.proposals import ProposalStore
from archsearch.config import parse_config
from archsearch.results import ResultsStore
from archsearch.space import load_space
from archsearch.study import (
    DOES_NOT_HOLD,
    HOLDS,
    INCONCLUSIVE,
    NOT_TESTABLE,
    analyse_study,
    build_study_report,
    study_frame,
    study_plan,
    write_study_report,
)
from archsearch.study.replication import CLAIMS, combine
from tests.archsearch.analysis.synth import fill
from tests.archsearch.study.synth_study import fill_study

VERDICT = re.compile(rf"^({HOLDS}|{DOES_NOT_HOLD}|{INCONCLUSIVE}|{NOT_TESTABLE}: .+|mixed: .+)$")


def frame_of(root):
    return leaderboard_frame(ResultsStore(root).read(), ProposalStore(root).list())


@pytest.fixture(scope="module")
def with_llm(tmp_path_factory):
    root = tmp_path_factory.mktemp("study_llm")
    fill_study(root, agents=("random", "tpe", "claude"), seeds=range(6))
    frame = frame_of(root)
    report, rows = build_study_report(frame, load_space("demo"))
    return frame, report, {r.key: r for r in rows}


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    root = tmp_path_factory.mktemp("study_offline")
    fill_study(root, seeds=range(5))
    fill(root, agents=("random",), n=10)  # another campaign (the demo's): not part of the study
    project = parse_config(
        {
            "datasets": [{"name": "synth_front", "kind": "synthetic"}, {"name": "synth_side", "kind": "synthetic"}],
            "study": {"agents": ["random", "tpe", "architecture_first", "gemini"], "n": 30, "report_ns": [10, 25, 50]},
        },
        "cfg.yaml",
    )
    plan = study_plan(project, env={})
    frame = study_frame(frame_of(root), [c.name for c in plan.campaigns])
    report, rows = build_study_report(frame, load_space("demo"), plan=plan, generated_at="2025-01-01T00:00:00+00:00")
    return root, frame, report, {r.key: r for r in rows}


def test_the_study_frame_holds_only_the_study_campaigns(offline):
    _, frame, _, _ = offline
    assert frame.height == 2 * 3 * 5 * 30 and frame["campaign"].n_unique() == 30
    assert all(c.startswith("study-") for c in frame["campaign"].unique())


def test_one_row_per_claim_with_the_study_numbers_and_a_verdict(offline):
    _, _, report, rows = offline
    assert list(rows) == list(CLAIMS)
    for r in rows.values():
        assert VERDICT.match(r.verdict), r
        assert r.study and r.measured
    md = report.markdown
    assert md.index("## Replication of 2603.15916") < md.index("## Dataset: synth_front")
    assert "0.9245" in md and "0.985 vs from-scratch random 0.965" in md and "a = 1.031" in md


def test_planted_effects_give_their_verdicts(offline, with_llm):
    _, _, _, rows = offline
    assert rows["architecture"].verdict == HOLDS, rows["architecture"].measured
    assert rows["llm"].verdict.startswith(f"{NOT_TESTABLE}: no LLM agent ran")
    assert "offline agents for reference" in rows["llm"].measured and "tpe − random at N = 25" in rows["llm"].measured
    assert rows["winner"].verdict == HOLDS, rows["winner"].measured
    assert "synth_side pixels×zipformer" in rows["winner"].measured
    assert "(offline agents: no LLM agent ran" in rows["cycles"].measured

    _, _, llm_rows = with_llm
    assert llm_rows["llm"].verdict == HOLDS, llm_rows["llm"].measured
    assert "claude − random at N = 25" in llm_rows["llm"].measured and "paired t, 6 pairs" in llm_rows["llm"].measured
    assert llm_rows["cycles"].verdict == HOLDS, llm_rows["cycles"].measured
    assert "offline agents" not in llm_rows["cycles"].measured
    assert llm_rows["specialise"].verdict in (HOLDS, INCONCLUSIVE) or llm_rows["specialise"].verdict.startswith(
        "mixed"
    ), llm_rows["specialise"].measured


def test_every_verdict_is_backed_by_its_interval(with_llm):
    frame, _, _ = with_llm
    variants = analyse_study(frame, load_space("demo"))
    for v in variants.values():
        for row in v.differences.values():
            for d in row.values():
                if d.mean is not None:
                    assert d.lo <= d.mean <= d.hi
        for d in [*v.cycle_vs_random.values(), *v.specialisation.values()]:
            if d.mean is not None and d.has_ci:
                assert d.lo <= d.mean <= d.hi


def test_sections_have_n_and_intervals(offline):
    _, _, report, _ = offline
    md = report.markdown
    for heading in (
        "### Differences between agents",
        "### Experiments to reach 95 % and 99 % of the best found",
        "### Power law on each campaign's own curve",
        "### Exploration cycles and specialisation",
        "### Best-at-N",
        "### Architecture vs training",
        "### Convergence: power law",
        "## Cross-task",
    ):
        assert md.count(heading) >= 1, heading
    assert "| tpe − random | " in md and "(paired t, 5 pairs)" in md
    assert "Scale: 5 seeds x 3 agents x 2 datasets = 30 campaigns of N = 30 (900 experiments)" in md
    assert "Configured agents left out: gemini: GEMINI_API_KEY is not set." in md
    assert "Single trajectory" not in md, "every agent has 5 campaigns: every curve has an interval"
    assert re.search(r"\| random \| [\d.]+ \[[\d.]+, [\d.]+\]", md), "N-to-reach with its t interval"
    assert "N to 95 % of the best found" in md and "N to 99 % of its own best" in md


def test_files_and_ui_markdown(offline, tmp_path):
    _, _, report, _ = offline
    assert {"synth_front_differences.png", "synth_side_differences.png", "synth_front_best_at_n.png"} <= set(
        report.images
    )
    (tmp_path / "reports" / "study" / "study").mkdir(parents=True)
    (tmp_path / "reports" / "study" / "study" / "stale.png").write_bytes(b"x")
    path = write_study_report(report, tmp_path, "study")
    assert path == tmp_path / "reports" / "study" / "study" / "report.md"
    assert path.read_text() == report.markdown
    assert sorted(p.name for p in path.parent.glob("*.png")) == sorted(report.images)
    assert "data:image/png;base64," in report.ui_markdown and "](synth_front_differences.png)" in report.markdown


def test_an_empty_study_reports_not_testable(tmp_path):
    report, rows = build_study_report(frame_of(tmp_path))
    assert all(r.verdict == f"{NOT_TESTABLE}: no results" for r in rows)
    assert "## Replication of 2603.15916" in report.markdown


def test_combine():
    assert combine([("a", HOLDS), ("b", HOLDS)]) == HOLDS
    assert combine([("a", HOLDS), ("b", INCONCLUSIVE)]) == f"mixed: {HOLDS} on a; {INCONCLUSIVE} on b"
    assert combine([]).startswith(NOT_TESTABLE)
