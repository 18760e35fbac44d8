"""The Dagster UI as a person sees it: a real `dagster dev` and a real (Debian) Chromium.

Marked ``ui`` and run by ``make test-ui`` (and .ci/run): it needs the chromium package, which
.ci/run installs through apt when it is absent. Playwright drives that browser; it never
downloads one of its own. Screenshots land in ``$ARCHSEARCH_ARTIFACTS`` (default ``.artifacts/``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from archsearch.common import REPO_ROOT

pytestmark = pytest.mark.ui

REPO = REPO_ROOT
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
STAGES = ("videos", "features", "experiments", "proposals", "leaderboard", "analysis_report")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {proc.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(1.0)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f} s")


@pytest.fixture(scope="module")
def materialized(tmp_path_factory):
    """A tiny project with videos, pixel features and one trained experiment in a real instance."""
    import dagster as dg

    from tests.projects import TINY_SPACE_YAML as SPACE
    from tests.projects import nexar_project

    tmp = tmp_path_factory.mktemp("ui")
    cfg = nexar_project(tmp, n=12)
    (tmp / "space.yaml").write_text(SPACE)
    cfg.write_text(
        cfg.read_text().replace("backbones: [pixels, motion]", "backbones: [pixels]") + f"space: {tmp / 'space.yaml'}\n"
        # the campaign the agent sensor runs under the daemon (test_agent_sensor_runs_a_campaign)
        "campaign: {name: auto, agents: {random: 1}, round_size: 2, max_experiments: 4, run_batch_size: 2, "
        "max_in_flight: 1, min_queued: 1}\n"
    )
    env = {"ARCHSEARCH_CONFIG": str(cfg), "ARCHSEARCH_HOME": str(tmp / "home"), "DAGSTER_HOME": str(tmp / "dh")}
    (tmp / "dh").mkdir()
    shutil.copy(REPO / "pipelines" / "dagster.yaml", tmp / "dh" / "dagster.yaml")
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        from archsearch.campaign.proposals import Proposal, ProposalStore
        from assets.experiments import EXPERIMENTS, experiments
        from tests.projects import default_features

        features, _features_complete = default_features()
        from assets.resources import ArchsearchResource
        from assets.videos import videos

        instance = dg.DagsterInstance.get()
        res = {"archsearch": ArchsearchResource()}
        assert dg.materialize([videos], resources=res, instance=instance).success
        assert dg.materialize(
            [videos.to_source_asset(), features], resources=res, instance=instance, partition_key="pixels"
        ).success
        from archsearch.space import load_space
        from assets.analysis_report import analysis_report
        from assets.leaderboard import leaderboard

        space = load_space(tmp / "space.yaml")
        keys = []
        for i in range(space.size):  # every cell of the tiny space: enough results for the report's plots
            config = space.config_at(i)
            p = Proposal(
                campaign="ui",
                config_id=space.config_id(config),
                config=config,
                dataset="nx",
                seed=0,
                agent=("random", "tpe")[i % 2],
                round=i // 2,
                space=space.name,
            )
            ProposalStore(tmp / "home").add(p)
            keys.append(p.key)
        instance.add_dynamic_partitions(EXPERIMENTS.name, keys)
        for key in keys:
            run = dg.materialize(
                [features.to_source_asset(), experiments], resources=res, instance=instance, partition_key=key
            )
        val_map = run.asset_materializations_for_node("experiments")[0].metadata["val_map"].value
        assert dg.materialize(
            [experiments.to_source_asset(), leaderboard, analysis_report], resources=res, instance=instance
        ).success
        instance.dispose()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {"env": env, "key": keys[-1], "val_map": val_map}


@pytest.fixture(scope="module")
def dagster_ui(materialized):
    port = _free_port()
    env = {
        **os.environ,
        **materialized["env"],
        "HF_HUB_OFFLINE": "1",
        "ARCHSEARCH_AGENT_SENSOR": "on",
        "ARCHSEARCH_SCHEDULES": "off",
    }
    log = open(Path(materialized["env"]["DAGSTER_HOME"]) / "dev.log", "w")  # noqa: SIM115 - the server's log, closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            str(REPO / "workspace.yaml"),
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/server_info", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()


@pytest.fixture(scope="module")
def page(dagster_ui):
    if CHROMIUM is None:
        pytest.fail("no chromium on PATH: `apt-get install chromium` (.ci/run does this when it is absent)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        pg = browser.new_page(viewport={"width": 1600, "height": 1000})
        pg.set_default_timeout(60_000)
        yield pg
        browser.close()


def _dismiss_prompts(page) -> None:
    """Close the community sign-up dialog a fresh Dagster UI shows once, so it does not cover the page."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(state="visible", timeout=5_000)
        skip.click()
    except Exception:  # noqa: BLE001 - not shown (already dismissed in this browser profile)
        pass


def _artifacts() -> Path:
    out = Path(os.environ.get("ARCHSEARCH_ARTIFACTS", REPO / ".artifacts"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_asset_graph_shows_every_stage(page, dagster_ui):
    # The lineage graph upstream of the last stage: every stage's asset as its own node, in its group.
    page.goto(f"{dagster_ui}/assets/analysis_report?view=lineage&lineageScope=upstream&lineageDepth=10")
    _dismiss_prompts(page)
    try:
        for name in STAGES:
            page.get_by_text(name, exact=True).last.wait_for(state="visible")
    finally:
        page.screenshot(path=str(_artifacts() / "ui-asset-graph.png"))


def test_experiment_partition_shows_its_val_map(page, dagster_ui, materialized):
    from urllib.parse import quote

    page.goto(f"{dagster_ui}/assets/experiments?view=partitions&partition={quote(materialized['key'])}")
    _dismiss_prompts(page)
    page.get_by_text("val_map", exact=True).first.wait_for(state="visible")
    shown = f"{materialized['val_map']:.4f}"[:5]  # the UI rounds floats; the first digits must match
    assert shown in page.content(), f"val_map {materialized['val_map']} not on the partition page"
    page.screenshot(path=str(_artifacts() / "ui-experiment-partition.png"), full_page=True)
    (_artifacts() / "ui-test.json").write_text(
        json.dumps({"partition": materialized["key"], "val_map": materialized["val_map"]})
    )


def test_analysis_report_renders_with_its_plots(page, dagster_ui):
    page.goto(f"{dagster_ui}/assets/analysis_report")
    _dismiss_prompts(page)
    page.get_by_text("[Show Markdown]").first.click()
    page.get_by_text("archsearch analysis report").first.wait_for(state="visible")
    images = page.locator("img")
    images.first.wait_for(state="visible")
    widths = [images.nth(i).evaluate("e => e.naturalWidth") for i in range(images.count())]
    assert widths and all(w > 0 for w in widths), f"report plots did not load: natural widths {widths}"
    page.screenshot(path=str(_artifacts() / "ui-analysis-report.png"))


def test_agent_sensor_runs_a_campaign_through_the_daemon(dagster_ui, materialized):
    """The sensor, switched on, proposes rounds and launches experiment runs until the budget is spent."""
    import dagster as dg

    from archsearch.campaign import campaign_status
    from archsearch.config import load_config

    env = materialized["env"]
    project = load_config(env["ARCHSEARCH_CONFIG"])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = campaign_status(project.campaign, env["ARCHSEARCH_HOME"])
        if status.finished:
            break
        time.sleep(5)
    assert status.finished and status.finished_ok == 4, status.summary()
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    while time.monotonic() < deadline:  # results are written before a run records its own end
        by_sensor = [r for r in instance.get_runs() if r.tags.get("dagster/sensor_name") == "agent_sensor"]
        if all(r.is_finished for r in by_sensor):
            break
        time.sleep(2)
    assert {r.job_name for r in by_sensor} == {"proposals_job", "experiments_job"}
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in by_sensor), [(r.job_name, r.status) for r in by_sensor]
