"""Search logs of other systems: another format and column names give the report; archsearch's own leaderboard,
written to CSV and read back as a log, gives the same report as the frame itself; bad logs are named errors."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from archsearch.analysis.anova import OneWay, one_way
from archsearch.analysis.dataset_analysis import Settings, analyse
from archsearch.analysis.report import build_report
from archsearch.analysis.search_log import analyze_log, log_report, read_search_log
from archsearch.analysis.table import leaderboard_frame
from archsearch.campaign.proposals import ProposalStore
from archsearch.results import ResultsStore
from tests.archsearch.analysis.synth import fill

FAST = Settings(boot=100, draws=20, shuffles=3)
OTHER = {"order": "step", "agent": "searcher", "campaign": "run", "val": "acc_val", "test": "acc_holdout"}


def other_system_log(seed: int = 0) -> pl.DataFrame:
    """A log in another system's words: 2 searchers × 3 runs × 24 steps, timestamps as order, some failures."""
    rng = np.random.default_rng(seed)
    model_effect = {"resnet": 0.1, "vit": 0.2, "mlp": -0.1}
    head_effect = {"linear": 0.0, "attn": 0.05}
    rows = []
    for searcher in ("bayes", "grid"):
        for run in range(3):
            for step in range(24):
                model, head = rng.choice(list(model_effect)), rng.choice(list(head_effect))
                acc = 0.6 + model_effect[model] + head_effect[head] + rng.normal(0, 0.03)
                failed = step % 7 == 6
                rows.append(
                    {
                        "run": f"{searcher}-{run}",
                        "searcher": searcher,
                        "step": f"2025-03-01T10:{step:02d}:{run:02d}",
                        "model": model,
                        "head": head,
                        "lr": float(rng.choice([1e-3, 1e-4])),
                        "dropout": float(rng.choice([0.0, 0.1])),
                        "acc_val": None if failed else acc,
                        "acc_holdout": None if failed else acc - 0.02 + rng.normal(0, 0.01),
                    }
                )
    return pl.DataFrame(rows).sample(fraction=1.0, shuffle=True, seed=seed)  # rows in no particular order


def test_a_parquet_log_with_other_column_names_produces_the_report(tmp_path):
    raw = other_system_log()
    path = tmp_path / "search.parquet"
    raw.write_parquet(path)
    out = analyze_log(path, tmp_path / "out", columns=OTHER, architecture=["model", "head"], settings=FAST)
    assert out == tmp_path / "out" / "reports" / "latest" / "report.md"
    md = out.read_text()
    for section in (
        "## Dataset: (unnamed) (144 results, 126 ok)",
        "Type II",
        "### Best-at-N",
        "(k = 3)",
        "### Convergence: power law",
        "JSD cumulative",
        "Source: search log",
        "`acc_val`",
        "training: lr, dropout",
        "Student-t interval",
    ):
        assert section in md, section
    pngs = sorted(p.name for p in out.parent.glob("*.png"))
    assert pngs == [
        "unnamed_best_at_n.png",
        "unnamed_entropy.png",
        "unnamed_eta2.png",
        "unnamed_heatmap.png",
        "unnamed_jsd.png",
        "unnamed_power_law.png",
    ]
    ok = raw.filter(pl.col("acc_val").is_not_null())
    direct = one_way(
        ok["acc_val"].to_numpy(), [f"{m}×{h}" for m, h in zip(ok["model"], ok["head"], strict=True)], "model×head"
    )
    assert isinstance(direct, OneWay) and f"| model×head | 126 | 6 | 5, 120 | {direct.f:.2f} |" in md


def test_order_is_the_proposal_order_within_each_campaign(tmp_path):
    path = tmp_path / "log.csv"
    other_system_log().write_csv(path)
    log = read_search_log(path, columns=OTHER, architecture=["model", "head"], training=["lr"])
    f = log.frame
    assert log.space.training == ("lr",) and f.columns[-3:] == ["model", "head", "lr"]
    for _, sub in f.group_by("campaign"):
        assert sub["order_time"].to_list() == sorted(sub["order_time"].to_list())
        assert sub["order"].to_list() == list(range(1, 25)) == sub["agent_order"].to_list()
    failed = f.filter(pl.col("status") == "failed")
    assert failed.height == 18 and failed["val_map"].null_count() == failed.height
    assert f["config_id"].n_unique() < f.height  # the derived id is the config's: repeats share it


def test_archsearch_leaderboard_as_csv_gives_the_reports_numbers(tmp_path):
    fill(
        tmp_path / "store",
        agents=("random", "tpe"),
        campaigns_per_agent=2,
        n=20,
        failed_every=7,
        datasets=("synth_front", "synth_side"),
    )
    frame = leaderboard_frame(ResultsStore(tmp_path / "store").read(), ProposalStore(tmp_path / "store").list())
    frame.write_csv(tmp_path / "leaderboard.csv")
    log = read_search_log(
        tmp_path / "leaderboard.csv",
        columns={"val": "val_map", "test": "test_map"},
        architecture=["backbone", "encoder", "pooling"],
        training=["loss", "lr", "weight_decay", "window_length", "epochs"],
    )
    direct = build_report(frame, settings=FAST, generated_at="T")
    from_log = log_report(log, FAST, generated_at="T")
    body = lambda md: md[md.index("## Dataset") :]
    assert body(from_log.markdown) == body(direct.markdown)
    assert from_log.images == direct.images and from_log.sample_sizes == direct.sample_sizes
    ours, theirs = analyse(log.frame, log.space, FAST), analyse(frame, None, FAST)
    for d in ("synth_front", "synth_side"):
        a, b = ours[d], theirs[d]
        assert (a.anova, a.anova_test, a.curves, a.fits, a.entropy, a.jsd, a.winner) == (
            b.anova,
            b.anova_test,
            b.curves,
            b.fits,
            b.entropy,
            b.jsd,
            b.winner,
        )
        assert (a.best["config_id"], a.best["val_map"], a.best["test_map"]) == (
            b.best["config_id"],
            b.best["val_map"],
            b.best["test_map"],
        )


def _write(tmp_path, frame: pl.DataFrame, name: str = "log.csv"):
    path = tmp_path / name
    frame.write_csv(path)
    return path


BASE = {
    "order": [1, 2, 3],
    "agent": ["a"] * 3,
    "campaign": ["c"] * 3,
    "val_score": [0.1, 0.2, 0.3],
    "backbone": ["x", "y", "x"],
}


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda d: d.drop("val_score"), r"log\.csv: missing the val column 'val_score'.*columns present"),
        (
            lambda d: d.with_columns(pl.Series("val_score", ["0.1", "high", "0.3"])),
            r"log\.csv: column 'val_score' \(val score\) must hold numbers; row 2 \(line 3\) holds 'high'",
        ),
        (lambda d: d.with_columns(pl.Series("order", [1, 1, 2])), r"repeats 1 in campaign 'c'"),
        (
            lambda d: d.with_columns(pl.Series("order", ["step-1", "step-2", "step-10"])),
            r"column 'order' \(order\) must hold numbers or ISO 8601 timestamps; row 1 \(line 2\) holds 'step-1'",
        ),
        (lambda d: d.with_columns(pl.Series("order", [1, None, 3])), r"column 'order' \(order\) is empty at row 2"),
        (
            lambda d: d.with_columns(pl.Series("status", ["ok", "done", "ok"])),
            r"column 'status' \(status\) must be one of \('ok', 'failed'\); row 2 \(line 3\) holds 'done'",
        ),
        (
            lambda d: d.with_columns(pl.Series("status", ["ok", "ok", "ok"]), pl.Series("val_score", [0.1, None, 0.3])),
            r"row 2 \(line 3\) has status 'ok' but no validation score",
        ),
        (lambda d: d.with_columns(pl.Series("agent", ["a", None, "a"])), r"column 'agent' \(agent\) is empty at row 2"),
        (lambda d: d.rename({"backbone": "model"}), r"no architecture columns; pass architecture="),
    ],
)
def test_bad_logs_are_errors_naming_the_file_column_and_row(tmp_path, change, match):
    path = _write(tmp_path, change(pl.DataFrame(BASE)))
    with pytest.raises(ValueError, match=match):
        read_search_log(path)


def test_bad_paths_mappings_and_dimensions(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv: no such file"):
        read_search_log(tmp_path / "nope.csv")
    (tmp_path / "log.json").write_text("{}")
    with pytest.raises(ValueError, match=r"expected a \.csv, \.tsv or \.parquet file"):
        read_search_log(tmp_path / "log.json")
    path = _write(tmp_path, pl.DataFrame(BASE))
    with pytest.raises(ValueError, match=r"unknown column role\(s\) \['score'\]"):
        read_search_log(path, columns={"score": "val_score"})
    with pytest.raises(ValueError, match=r"missing the val column 'acc' \(mapped"):
        read_search_log(path, columns={"val": "acc"})
    with pytest.raises(ValueError, match=r"config column\(s\) \['lr'\] not found"):
        read_search_log(path, training=["lr"])
    log = read_search_log(path)
    assert log.frame["status"].to_list() == ["ok"] * 3 and log.space.architecture == ("backbone",)
    assert log.frame["test_map"].null_count() == 3 and set(log.frame["dataset"]) == {""}
