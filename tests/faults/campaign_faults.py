"""Shared pieces of the campaign/config/LLM/CLI/doctor fault tests: real processes, real instances, real files.

Each fault test injects its fault for real (a subprocess killed with SIGKILL, a full filesystem, a
provider that hangs) and then checks what a user would: nothing lost, nothing silently wrong, and a
message that names the cause.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml

from tests.projects import write_project

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def campaign_project(tmp_path: Path, llm: dict | None = None, **campaign) -> Path:
    """The tests' tiny campaign project (16-cell space, no data needed to propose); ``llm``: campaign.llm."""
    path = Path(write_project(tmp_path, **campaign))
    if llm is not None:
        raw = yaml.safe_load(path.read_text())
        raw["campaign"]["llm"] = llm
        path.write_text(yaml.safe_dump(raw))
    return path


def dagster_home(tmp_path: Path) -> Path:
    """A fresh instance folder with the repository's pipelines/dagster.yaml (the `gpu` pool limit, run monitoring)."""
    home = tmp_path / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "pipelines" / "dagster.yaml", home / "dagster.yaml")
    return home


def project_env(config: Path, data_root: Path, dagster: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of a subprocess working on this project (no inherited API keys)."""
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "GEMINI_API_KEY")}
    env.update(ARCHSEARCH_CONFIG=str(config), ARCHSEARCH_HOME=str(data_root), PYTHONPATH=str(REPO), **extra)
    if dagster is not None:
        env["DAGSTER_HOME"] = str(dagster)
    return env


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A subprocess in its own process group (so a SIGKILL takes its children too), output to ``log``."""
    out = open(log, "wb")  # noqa: SIM115 -- closed by the caller through kill_group / wait
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def kill_group(proc: subprocess.Popen) -> None:
    """``kill -9`` the process and everything it started."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def wait_for(condition: Callable[[], object], timeout: float, what: str, poll: float = 0.1):
    """Poll ``condition`` until it is truthy (returned), or fail naming ``what``."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def cli(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m pipelines.cli ...`` as a user runs it."""
    return subprocess.run(
        [PYTHON, "-m", "pipelines.cli", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def files_containing(roots: Iterable[Path], needles: Iterable[str]) -> dict[str, list[str]]:
    """needle -> the files under ``roots`` whose bytes contain it (sqlite databases included)."""
    needles = [n for n in needles if n]
    found: dict[str, list[str]] = {n: [] for n in needles}
    for root in roots:
        for path in Path(root).rglob("*"):
            if not path.is_file():
                continue
            data = path.read_bytes()
            for n in needles:
                if n.encode() in data:
                    found[n].append(str(path))
    return {n: paths for n, paths in found.items() if paths}
