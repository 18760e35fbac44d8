"""The CLI names the root cause in one line and exits non-zero; argparse checks argument ranges; a full disk
names the file it could not write and leaves the campaign consistent.

The disk-full case is real: the data root is a 256 KiB tmpfs, filled up, inside a private mount
namespace (``unshare --user --mount``; skipped where the kernel does not allow it).
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from pipelines.cli import main
from tests.faults.campaign_faults import REPO, campaign_project, cli, dagster_home, project_env
from tests.faults.test_campaign_rounds import assert_consistent


@pytest.mark.parametrize(
    "argv, message",
    [
        (["campaign", "round", "-n", "0"], "argument -n: expected an integer >= 1, got 0"),
        (["campaign", "round", "-n", "two"], "argument -n: expected an integer >= 1, got 'two'"),
        (["propose", "--random", "0"], "argument --random: expected an integer >= 1, got 0"),
        (["propose", "--random", "3", "--seed", "-1"], "argument --seed: expected an integer >= 0, got -1"),
    ],
)
def test_argument_ranges_are_checked_before_anything_runs(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.splitlines()[-1].endswith(f"error: {message}")
    assert err.startswith("usage: ") and "Traceback" not in err and "pydantic" not in err


def test_a_failed_round_prints_its_root_cause_in_one_line(tmp_path):
    config = campaign_project(tmp_path, agents={"claude": 1, "random": 1}, strict_agents=True)
    result = cli(["campaign", "round"], project_env(config, tmp_path / "home", dagster_home(tmp_path)))
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        "error: round failed: CampaignError: agent claude skipped: environment variable ANTHROPIC_API_KEY is not set"
    )
    assert "Error occurred while executing" not in line and "(run " in line


def test_bad_json_and_bad_config_are_one_line_too(tmp_path):
    config = campaign_project(tmp_path)
    env = project_env(config, tmp_path / "home", dagster_home(tmp_path))
    bad = cli(["propose", "--config", "{backbone: motion"], env)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --config: not valid JSON")
    raw = yaml.safe_load(config.read_text())
    raw["campaign"]["max_experiment"] = 3
    config.write_text(yaml.safe_dump(raw))
    typo = cli(["campaign", "status"], env)
    assert typo.returncode == 2 and typo.stderr.splitlines() == [
        f"error: {config}: campaign.max_experiment: unknown key (did you mean 'max_experiments'?); allowed: "
        "name, dataset, seed, agents, round_size, max_experiments, max_cost_usd, max_in_flight, min_queued, "
        "run_batch_size, strict_agents, fallback, backbones, round_deadline_s, breaker, llm"
    ]


def can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        [
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            "d=$(mktemp -d) && mount -t tmpfs -o size=64k none $d",
        ],
        capture_output=True,
    )
    return probe.returncode == 0


# Inside a private mount namespace: a full tmpfs as the data root, a CLI round (fails), space freed, a
# round (works), and the data root copied out for the assertions.
DISK_FULL = """
set -u
mount -t tmpfs -o size=256k none "$ARCHSEARCH_HOME"
dd if=/dev/zero of="$ARCHSEARCH_HOME/filler" bs=4k 2>/dev/null
"$PY" -m pipelines.cli campaign round > "$OUT/full.out" 2> "$OUT/full.err"; echo $? > "$OUT/full.rc"
rm "$ARCHSEARCH_HOME/filler"
"$PY" -c "$ROUND" > "$OUT/freed.out" 2> "$OUT/freed.err"; echo $? > "$OUT/freed.rc"
cp -a "$ARCHSEARCH_HOME" "$OUT/root"
"""
ROUND = """
import os
from archsearch.campaign import campaign_space, run_round
from archsearch.config import load_config
p = load_config()
r = run_round(p.campaign, campaign_space(p), os.environ["ARCHSEARCH_HOME"], env={})
print(r.round, r.agent, r.proposed)
"""


@pytest.mark.slow
@pytest.mark.skipif(not can_mount_tmpfs(), reason="needs unshare --user --mount and tmpfs (a real full disk)")
def test_a_full_disk_names_the_file_and_leaves_the_campaign_consistent(tmp_path):
    config = campaign_project(tmp_path)
    root, out = tmp_path / "home", tmp_path / "out"
    root.mkdir()
    out.mkdir()
    env = project_env(config, root, dagster_home(tmp_path), PY=sys.executable, OUT=str(out), ROUND=ROUND)
    subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", DISK_FULL],
        cwd=REPO,
        env=env,
        check=True,
        timeout=300,
    )
    assert (out / "full.rc").read_text().strip() == "1"
    (line,) = (out / "full.err").read_text().splitlines()
    assert line.startswith("error: round failed: OSError: [Errno 28] No space left on device: ")
    assert f"{root}/campaigns/c1/rounds/00000.pending" in line, "the message names the file it could not write"

    assert (out / "freed.rc").read_text().strip() == "0", (out / "freed.err").read_text()
    assert (out / "freed.out").read_text().split() == ["0", "architecture_first", "4"], "the failed round left nothing"
    records = assert_consistent(out / "root")
    assert len(records) == 1 and not list((out / "root").rglob("*.tmp")), "no stray temp file"
