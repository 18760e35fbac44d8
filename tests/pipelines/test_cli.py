"""`python -m pipelines.cli analyze`: any search log gets the report the `analysis_report` asset builds."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import polars as pl

from archsearch.common import REPO_ROOT
from assets.analysis_report import analysis_report
from assets.leaderboard import leaderboard
from assets.resources import ArchsearchResource
from tests.archsearch.analysis.synth import fill


def body(markdown: str) -> str:
    """The report from its first dataset section on (the header names the source and the time)."""
    return markdown[markdown.index("## Dataset") :]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )


def test_analyze_on_archsearch_results_gives_the_assets_report(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    home = tmp_path / "home"
    fill(home, agents=("random", "tpe"), campaigns_per_agent=2, n=15, datasets=("synth_front",), failed_every=6)
    result = dg.materialize(
        [leaderboard, analysis_report],
        resources={"archsearch": ArchsearchResource(data_root=str(home))},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    asset_report = (home / "reports" / "latest" / "report.md").read_text()

    out = cli(
        "analyze",
        str(home / "leaderboard" / "leaderboard.parquet"),
        "--out",
        str(tmp_path / "cli"),
        "--column",
        "val=val_map",
        "--column",
        "test=test_map",
        "--architecture",
        "backbone,encoder,pooling",
        "--training",
        "loss,lr,weight_decay,window_length,epochs",
    )
    assert out.returncode == 0, out.stderr
    path = tmp_path / "cli" / "reports" / "latest" / "report.md"
    assert out.stdout.strip() == f"report: {path}"
    assert body(path.read_text()) == body(asset_report)
    assert sorted(p.name for p in path.parent.glob("*.png")) == sorted(
        p.name for p in (home / "reports" / "latest").glob("*.png")
    )


def test_analyze_a_log_of_another_system(tmp_path):
    rows = []
    for campaign, agent in (("a1", "mine"), ("a2", "mine"), ("b1", "theirs"), ("b2", "theirs")):
        for step in range(12):
            model, head = ("small", "big")[step % 2], ("rnn", "tcn", "mlp")[step % 3]
            score = 0.5 + 0.2 * (model == "big") + 0.05 * (head == "tcn") + 0.01 * ((step * 7 + len(campaign)) % 5)
            rows.append(
                {
                    "step": step,
                    "who": agent,
                    "run": campaign,
                    "acc_val": score,
                    "acc_test": score - 0.02,
                    "model": model,
                    "head": head,
                    "lr": (1e-3, 3e-3)[step % 2 == 0 and step % 4 == 0],
                }
            )
    path = tmp_path / "their_search.parquet"
    pl.DataFrame(rows).write_parquet(path)
    out = cli(
        "analyze",
        str(path),
        "--column",
        "order=step",
        "--column",
        "agent=who",
        "--column",
        "campaign=run",
        "--column",
        "val=acc_val",
        "--column",
        "test=acc_test",
        "--architecture",
        "model,head",
    )
    assert out.returncode == 0, out.stderr
    report = tmp_path / "their_search-analysis" / "reports" / "latest" / "report.md"
    assert out.stdout.strip() == f"report: {report}"
    md = report.read_text()
    for section in ("### Best-at-N", "Type II", "### Convergence: power law", "`acc_val`", "(k = 2)"):
        assert section in md, section


def test_analyze_reports_a_bad_log_in_one_line(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("step,agent,campaign,score\n1,a,c,0.5\n")
    out = cli("analyze", str(path))
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and "log.csv" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    bad = cli("analyze", str(path), "--column", "val")
    assert bad.returncode == 2 and "expected ROLE=NAME" in bad.stderr


def test_check_data_prints_every_clip_and_exits_nonzero_on_bad_rows(tmp_path):
    """`check-data` on a folder with a good, a missing and a mislabelled clip: every row shown, exit 1."""
    from tests.conftest import write_test_video

    folder = tmp_path / "nexar"
    for i in range(8):
        write_test_video(folder / "train" / f"{i:05d}.mp4", n_frames=60, fps=20)
    rows = [f"{i:05d},{i % 2},{'2.5' if i % 2 else ''}," for i in range(8)] + ["gone,1,2.0,", "00009,7,,"]
    (folder / "train.csv").write_text("id,target,time_of_event,time_of_alert\n" + "\n".join(rows) + "\n")
    cfg = tmp_path / "project.yaml"
    cfg.write_text(f"datasets:\n  - {{name: nx, kind: nexar, path: {folder}}}\nsplits: {{seed: 16}}\n")
    env = {"ARCHSEARCH_CONFIG": str(cfg), "ARCHSEARCH_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "check-data"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )
    assert out.returncode == 1, out.stderr
    for vid in ("00000", "00007"):
        assert vid in out.stdout
    assert "(id='gone')" in out.stdout and "(id='00009')" in out.stdout and "rejected rows:" in out.stdout
