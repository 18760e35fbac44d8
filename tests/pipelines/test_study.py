"""`make study`: the proposals asset runs a study campaign's round, the study report asset, the driver's helpers,
and (slow) a tiny study end to end through Dagster, killed mid-run and resumed without redoing anything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from archsearch.campaign.proposals import ProposalStore
from archsearch.common import REPO_ROOT
from assets.experiments import EXPERIMENTS
from assets.proposals import proposals
from assets.study_report import study_report
from pipelines.driver import Eta, contiguous_chunks
from tests.archsearch.study.synth_study import fill_study
from tests.projects import nexar_project, resources, write_project


def test_contiguous_chunks_follow_the_partition_order():
    order = [f"k{i}" for i in range(10)]
    assert contiguous_chunks(["k3", "k1", "k2", "k7", "k8", "k9"], order, 2) == [
        ["k1", "k2"],
        ["k3"],
        ["k7", "k8"],
        ["k9"],
    ]
    assert contiguous_chunks(["k0", "k2", "k4"], order, 10) == [["k0"], ["k2"], ["k4"]], "a gap starts a new run"
    assert contiguous_chunks(order, order, 64) == [order]
    with pytest.raises(ValueError, match="keys without a partition"):
        contiguous_chunks(["zz"], order, 2)


def test_eta_from_this_sessions_pace():
    eta = Eta(total=100, done=40)
    assert "40 of 100 experiments" in eta.text() and "ETA" not in eta.text()
    eta.started -= 60.0  # one minute ago
    eta.update(70)
    assert "70 of 100 experiments" in eta.text() and "ETA 1.0 min" in eta.text()


def test_proposals_asset_runs_a_round_of_a_study_campaign(tmp_path):
    cfg = write_project(tmp_path, max_experiments=12)
    instance = dg.DagsterInstance.ephemeral()
    run_config = {
        "ops": {
            "proposals": {
                "config": {
                    "campaign": "study-synth-random-s3",
                    "agent": "random",
                    "seed": 3,
                    "dataset": "synth",
                    "max_experiments": 3,
                    "n": 2,
                    "backbones": ["pixels"],
                }
            }
        }
    }
    for expected in (2, 1, 0):
        res = dg.materialize([proposals], resources=resources(tmp_path, cfg), instance=instance, run_config=run_config)
        assert res.asset_materializations_for_node("proposals")[0].metadata["proposed"].value == expected
    stored = ProposalStore(tmp_path / "home").list("study-synth-random-s3")
    assert len(stored) == 3 and {(p.agent, p.seed, p.dataset) for p in stored} == {("random", 3, "synth")}
    assert {p.config["backbone"] for p in stored} == {"pixels"}
    assert instance.get_dynamic_partitions(EXPERIMENTS.name) == [p.key for p in stored]
    assert not ProposalStore(tmp_path / "home").list("c1"), "the project's own campaign is untouched"


def test_a_bad_override_fails_the_round_naming_the_field(tmp_path):
    cfg = write_project(tmp_path)
    run_config = {"ops": {"proposals": {"config": {"agent": "human"}}}}
    with pytest.raises(dg.Failure, match="campaign override agent: unknown agent 'human'"):
        dg.materialize(
            [proposals],
            resources=resources(tmp_path, cfg),
            instance=dg.DagsterInstance.ephemeral(),
            run_config=run_config,
        )


def test_study_report_asset_shows_the_replication_table(tmp_path):
    fill_study(tmp_path / "home", agents=("random", "tpe"), seeds=range(3), n=12)
    raw = {
        "datasets": [{"name": "synth_front", "kind": "synthetic"}, {"name": "synth_side", "kind": "synthetic"}],
        "study": {"seeds": 3, "n": 12, "agents": ["random", "tpe", "claude"], "report_ns": [5, 10]},
    }
    (tmp_path / "project.yaml").write_text(yaml.safe_dump(raw))
    res = dg.materialize(
        [study_report],
        resources=resources(tmp_path, str(tmp_path / "project.yaml")),
        instance=dg.DagsterInstance.ephemeral(),
    )
    meta = res.asset_materializations_for_node("study_report")[0].metadata
    assert meta["results"].value == 2 * 2 * 3 * 12 and meta["campaigns"].value == 12
    assert (
        "| The LLM agent beats random search at equal budget | not testable here: no LLM agent ran"
        in meta["replication"].value
    )
    path = Path(meta["path"].value)
    assert path == tmp_path / "home" / "reports" / "study" / "study" / "report.md" and path.is_file()
    assert "claude: ANTHROPIC_API_KEY is not set" in meta["report"].value
    assert "data:image/png;base64," in meta["report"].value


def test_a_study_that_cannot_run_says_why_and_exits_2(tmp_path, monkeypatch, capsys):
    from pipelines import study

    (tmp_path / "project.yaml").write_text(
        yaml.safe_dump({"datasets": [{"name": "d", "kind": "synthetic"}], "study": {"agents": ["gemini"]}})
    )
    monkeypatch.setenv("ARCHSEARCH_CONFIG", str(tmp_path / "project.yaml"))
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    assert study.main(["--no-progress"]) == 2
    assert "study.agents: no agent can run (gemini: GEMINI_API_KEY is not set)" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- end to end
SPACE = {
    "name": "tiny2",
    "groups": {
        "architecture": {"backbone": ["pixels"], "encoder": ["gru", "retention"], "pooling": ["mean", "attention"]},
        "training": {
            "loss": ["bce"],
            "lr": [1.0e-3, 3.0e-3],
            "weight_decay": [0.0],
            "window_length": [8],
            "epochs": [2, 3],
        },
    },
}
TOTAL = 2 * 2 * 2 * 4  # seeds x agents x datasets x N


def tiny_study(tmp_path: Path) -> dict[str, str]:
    """Two 12-clip Nexar-format datasets, a 16-config pixels space and a study of 8 campaigns of 4."""
    folders = [
        Path(yaml.safe_load(nexar_project(tmp_path / d, n=12).read_text())["datasets"][0]["path"]) for d in ("a", "b")
    ]
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(SPACE))
    raw = {
        "datasets": [{"name": f"nx{d}", "kind": "nexar", "path": str(f)} for d, f in zip("ab", folders)],
        "backbones": ["pixels"],
        "features": {"workers": 1},
        "splits": {"seed": 152},  # splits hash (seed, dataset, id): 152 gives both 12-clip sets both classes everywhere
        "space": str(tmp_path / "space.yaml"),
        "campaign": {"backbones": ["pixels"]},
        "study": {
            "name": "tiny",
            "seeds": 2,
            "n": 4,
            "agents": ["random", "tpe"],
            "round_size": 2,
            "run_batch_size": 6,
            "report_ns": [2, 4],
        },
    }
    (tmp_path / "project.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "dh").mkdir()
    return {
        "ARCHSEARCH_CONFIG": str(tmp_path / "project.yaml"),
        "ARCHSEARCH_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dh"),
    }


def result_files(home: Path) -> dict[str, int]:
    return {str(p.relative_to(home)): p.stat().st_mtime_ns for p in (home / "results").glob("tiny-*/*.json")}


def kill_when_results(env: dict[str, str], home: Path, at_least: int, timeout_s: float = 400.0) -> dict[str, int]:
    """Start `python -m pipelines.study`, SIGKILL its whole process group once `at_least` results exist."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.study", "--no-progress"],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and proc.poll() is None and len(result_files(home)) < at_least:
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return result_files(home)


@pytest.mark.slow
def test_tiny_study_through_dagster_resumes_after_a_kill(tmp_path, monkeypatch, capsys):
    from pipelines import study

    env = tiny_study(tmp_path)
    home = tmp_path / "home"
    before = kill_when_results(env, home, at_least=3)
    assert 3 <= len(before) < TOTAL, f"the kill must land mid-study, got {len(before)} results"

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert study.main(["--no-progress"]) == 0
    out = capsys.readouterr().out
    after = result_files(home)
    assert len(after) == TOTAL
    assert {k: after[k] for k in before} == before, "no finished experiment was trained again"
    assert f"this run trained {TOTAL - len(before)} in " in out, out
    assert "campaigns done: 32 ok and 0 failed" in out and "report: " in out
    report = home / "reports" / "study" / "tiny" / "report.md"
    assert report.is_file() and "## Replication of 2603.15916" in report.read_text()

    instance = dg.DagsterInstance.get()
    keys = instance.get_dynamic_partitions(EXPERIMENTS.name)
    assert len(keys) == TOTAL and {k.split(":")[0] for k in keys} == {
        f"tiny-nx{d}-{a}-s{s}" for d in "ab" for a in ("random", "tpe") for s in (0, 1)
    }
    assert len(instance.get_materialized_partitions(dg.AssetKey("experiments"))) == TOTAL
    rounds = instance.get_runs(filters=dg.RunsFilter(job_name="proposals_job"))
    assert {(r.tags["archsearch/agent"], r.tags["archsearch/seed"], r.tags["archsearch/dataset"]) for r in rounds} == {
        (a, str(s), f"nx{d}") for a in ("random", "tpe") for s in (0, 1) for d in "ab"
    }
    batched = [
        r
        for r in instance.get_runs(filters=dg.RunsFilter(job_name="experiments_job"))
        if "dagster/asset_partition_range_start" in r.tags
    ]
    assert any(
        r.tags["dagster/asset_partition_range_start"].split(":")[0]
        != r.tags["dagster/asset_partition_range_end"].split(":")[0]
        for r in batched
    ), "a run spans several campaigns"

    assert study.main(["--no-progress"]) == 0  # a finished study is only reported again
    assert "this run trained 0 in" in capsys.readouterr().out
    assert result_files(home) == after
